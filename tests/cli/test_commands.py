"""Every command has a working --help; every command that runs a flow takes the same run options (issue 15
item 6)."""

import pytest
import typer
from typer.testing import CliRunner

from prefsynth.cli.main import app

RUN_OPTIONS = {"--catalog", "--json", "--quiet", "--wait", "--runner", "--ray-address"}
# The commands that run a Prefect flow, by the flow each runs (a new flow needs its command here).
FLOW_COMMANDS = {"preference-build": "build", "process-labels": "label-steps", "rationalize": "rationalize",
                 "judge-eval": "eval-judge"}


def commands(group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every command and subcommand under `group` (Typer's click commands), with the words that invoke it."""
    found = [(path, group)]
    if getattr(group, "commands", None):  # a group
        for name, sub in group.commands.items():
            found += commands(sub, (*path, name))
    return found


ALL = commands(typer.main.get_command(app))


def option_names(command) -> set[str]:
    return {name for p in command.params if p.param_type_name == "option" for name in p.opts}


@pytest.mark.parametrize("words, command", ALL, ids=[" ".join(w) or "prefsynth" for w, _ in ALL])
def test_every_command_has_a_working_help(words, command):
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and (command.help or "").split("\n")[0][:30] in " ".join(result.output.split())


def test_every_flow_command_takes_the_run_options():
    by_name = {" ".join(words): command for words, command in ALL}
    for command_name in FLOW_COMMANDS.values():
        assert RUN_OPTIONS <= option_names(by_name[command_name]), command_name
    # a command with any run option is a flow command and has them all
    partial = {" ".join(w) for w, c in ALL if option_names(c) & (RUN_OPTIONS - {"--catalog", "--json"})}
    assert partial == set(FLOW_COMMANDS.values())


def test_each_flow_has_its_command():
    """The Prefect flows in prefsynth.flows are the ones FLOW_COMMANDS lists, so none runs without the run
    options."""
    import importlib
    import pkgutil

    import prefsynth.flows
    from prefect import Flow

    flows = set()
    for module in pkgutil.iter_modules(prefsynth.flows.__path__):
        loaded = importlib.import_module(f"prefsynth.flows.{module.name}")
        flows |= {v.name for v in vars(loaded).values() if isinstance(v, Flow)}
    assert flows == set(FLOW_COMMANDS)


def test_ray_address_without_the_ray_runner_is_refused_before_anything_runs(tmp_path):
    for words in (["build", "missing.yaml"], ["eval-judge", "missing.yaml", "--gold", "g.jsonl"]):
        result = CliRunner().invoke(app, [*words, "--ray-address", "127.0.0.1:6379", "--catalog", str(tmp_path / "c")])
        assert result.exit_code == 2 and "--ray-address needs --runner ray" in result.output
        assert not (tmp_path / "c").exists()
