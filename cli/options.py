"""The options the `prefsynth` commands share, each defined once.

Every command that runs a flow takes the same run options — `--catalog --json --quiet --wait --runner
--ray-address` — by the `run_options` decorator: the command is written with one `run: RunOptions` parameter and
Typer sees the six options in its place.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.markup import escape

from ..config.base import CATALOG_ENV, DEFAULT_CATALOG

# Help texts are Rich markup: brackets that are text are escaped.
CATALOG_HELP = escape(
    f"DuckDB catalog file [default: the config's `catalog`, else ${CATALOG_ENV}, else ./{DEFAULT_CATALOG}]")
CatalogOpt = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP, show_default=False)


class RunnerName(str, Enum):
    threads = "threads"
    ray = "ray"


@dataclass(frozen=True)
class RunOptions:
    """How a flow command runs: the catalog (see config/base.py:resolve_catalog), the output, how long to wait
    for a busy catalog, and where engine batches run (runtime/scaleout.py)."""

    catalog: Optional[Path] = None
    as_json: bool = False
    quiet: bool = False
    wait: float = 0.0
    runner: RunnerName = RunnerName.threads
    ray_address: Optional[str] = None

    def run(self, load: Callable[[], Any], flow_fn: Callable, printer: Callable[[Any], None],
            call: Callable[..., Any] | None = None) -> None:
        """Load and check the config, run the flow on the chosen runner as `flow_fn(config, catalog_file)` — or
        as `call(flow, config, catalog_file)` when the command passes more arguments or does more work around
        the flow — and print the result (cli/app.py:run_flow_command)."""
        from .app import on_runner, run_flow_command

        flow = on_runner(flow_fn, self.runner, self.ray_address)  # the runner wraps the flow itself, not `call`
        invoke = flow if call is None else functools.partial(call, flow)
        run_flow_command(load, invoke, self.catalog, self.as_json, self.quiet, printer, self.wait)


# The Typer parameter of each RunOptions field (its annotation, its option), in the order `--help` lists them.
RUN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "catalog": (Optional[Path], CatalogOpt),
    "as_json": (bool, typer.Option(False, "--json", help="Print the result (a build: its summary) as JSON on stdout")),
    "quiet": (bool, typer.Option(False, "--quiet", "-q", help="No progress bars")),
    "wait": (float, typer.Option(
        0.0, "--wait", min=0, help="If another process is using the catalog, wait up to this many seconds for it "
        "(default: fail at once)")),
    "runner": (RunnerName, typer.Option(
        RunnerName.threads, "--runner", help=escape("Where engine batches run: threads (this process) or ray (Ray "
        "workers; needs prefsynth[ray])"))),
    "ray_address": (Optional[str], typer.Option(
        None, "--ray-address", help="With --runner ray: the cluster to join (e.g. 127.0.0.1:6379, "
        "ray://host:10001); default: start a Ray instance for this run", show_default=False)),
}
if list(RUN_OPTIONS) != [f.name for f in fields(RunOptions)]:  # one option per field, nothing missed
    raise TypeError("RUN_OPTIONS must list RunOptions' fields in order")


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command(..., run: RunOptions)` as a Typer callback taking the run options as its last parameters."""
    signature = inspect.signature(command)
    own = [p for p in signature.parameters.values() if p.name != "run"]
    if len(own) == len(signature.parameters):
        raise TypeError(f"{command.__name__} needs a `run: RunOptions` parameter")
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
             for name, (annotation, option) in RUN_OPTIONS.items()]

    @functools.wraps(command)
    def callback(**kwargs: Any) -> None:
        run = RunOptions(**{name: kwargs.pop(name) for name in RUN_OPTIONS})
        command(**kwargs, run=run)

    callback.__signature__ = signature.replace(parameters=own + added)  # what Typer reads
    return callback
