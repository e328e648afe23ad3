"""Engines belong to the build that runs them (issue 15, "a process-wide engine registry"): each `CallRunner`
holds an `EngineSet`; an engine one runner serves is invisible to another, and nothing it built outlives it."""

from __future__ import annotations

import pytest

from prefsynth.engines.cache import CallCache
from prefsynth.runtime.calls import CallRunner
from prefsynth.schemas.engine import DryRunEngineConfig, GenRequest
from prefsynth.tasks.generate import EngineSet
from tests.fakes import MemoryCallStore, ScriptedEngine

CONFIG = DryRunEngineConfig(model="same-name")


def runner_with(engine: ScriptedEngine | None) -> CallRunner:
    served = EngineSet([(CONFIG, engine)] if engine else ())
    return CallRunner(CallCache(MemoryCallStore()), {"e": CONFIG}, batch_size=4, served=served)


@pytest.mark.usefixtures("prefect_harness")
def test_two_runners_in_one_process_do_not_see_each_others_engines():
    from prefect import flow

    a = runner_with(ScriptedEngine(lambda req, i: "from a", name="scripted:a"))
    b = runner_with(ScriptedEngine(lambda req, i: "from b", name="scripted:b"))
    plain = runner_with(None)  # serves the config itself: the dry-run engine it builds

    def both():
        request = [GenRequest(prompt="hello")]
        return [r.run("e", request, "stage")[0].completions[0].text for r in (a, b, plain)]

    texts = flow(both, name="two-runners")()
    assert texts[:2] == ["from a", "from b"]
    assert texts[2] not in ("from a", "from b")
    assert (a.engine_name("e"), b.engine_name("e")) == ("scripted:a", "scripted:b")
    assert plain.engine_name("e") != "scripted:a"


def test_a_runner_closes_the_engines_it_built_and_leaves_given_ones_open():
    closed = []

    class Closing(ScriptedEngine):
        def close(self):
            closed.append(self.name)

    given = Closing(lambda req, i: "x", name="given")
    with runner_with(given) as runner:
        runner.engine_name("e")
    assert closed == []  # the caller's engine: the caller closes it
    built = EngineSet()
    built.engine(CONFIG)
    assert built.held() == 1
    built.close()
    assert built.held() == 0


def test_a_build_closes_its_engines_when_it_ends_and_the_next_build_makes_its_own(tmp_path):
    """Nothing outlives a build: the engine its runner built is closed on leaving; a later build (same config,
    same process) gets a new engine object, not the first build's."""
    from prefsynth.runtime.build import BuildContext

    class Cfg:
        name, batch_size, engines = "x", 4, {"e": CONFIG}

    with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as first:
        engine = first.runner.served.engine(CONFIG)
        assert first.runner.served.held() == 1
    assert first.runner.served.held() == 0
    with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as second:
        assert second.runner.served.engine(CONFIG) is not engine
