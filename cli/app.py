"""What every `prefsynth` command shares: the Typer app, consoles, errors, opening the catalog, and running a flow
(the shared options: cli/options.py).

Imported before Prefect by every CLI module: it sets Prefect's environment defaults first (prefsynth/prefect_env.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

from ..prefect_env import apply_defaults

# Quiet logs, no analytics, a longer start-up timeout: where the user set nothing (set before Prefect is imported).
apply_defaults()

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from .. import progress  # noqa: E402
from ..storage.catalog import Catalog, CatalogError, open_waiting  # noqa: E402
from ..storage.inputs import InputError  # noqa: E402
from ..config.base import resolve_catalog  # noqa: E402
from ..config.load import ConfigError  # noqa: E402
from .options import RunnerName  # noqa: E402

app = typer.Typer(
    help="prefsynth — synthesize LLM preference datasets, stored as versioned datasets in a DuckDB catalog.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def catalog_path(explicit: Optional[Path], configured: Optional[str] = None) -> Path:
    """--catalog, else the config's `catalog`, else $PREFSYNTH_CATALOG, else the default (config/base.py)."""
    return resolve_catalog(explicit, configured)


def open_catalog(path: Path) -> Catalog:
    if not path.exists():
        fail(f"no catalog at {path} (run `prefsynth build CONFIG` first, or pass --catalog)")
    try:
        return Catalog(path, read_only=True)
    except CatalogError as exc:  # busy, or a damaged file: the message names the file
        fail(str(exc), 1)


def emit(result: Any, as_json: bool, printer: Callable[[Any], None]) -> None:
    """A command's result: JSON on stdout for scripts, else the human summary."""
    if as_json:
        out.print_json(json.dumps(result, default=str))
    else:
        printer(result)


def run_flow_command(load: Callable[[], Any], flow_fn, catalog: Optional[Path], as_json: bool, quiet: bool,
                     printer: Callable[[Any], None], wait: float = 0.0) -> None:
    """The shape of every flow command (called by cli/options.py:RunOptions.run, which has set the flow on its
    runner): load and check the config and its input (`load` fails before any model or server starts), run the
    flow with progress, print the result."""
    try:
        cfg = load()
    except (ConfigError, InputError) as exc:
        fail(str(exc))
    from ..runtime.build import summary
    from ..schemas.dataset import DatasetVersion

    result = run_flow(flow_fn, cfg, catalog_path(catalog, cfg.catalog), quiet or as_json, wait)
    emit(summary(result) if isinstance(result, DatasetVersion) else result, as_json, printer)  # a build's version


def on_runner(flow_fn, runner: RunnerName, ray_address: Optional[str]):
    """The flow, set to send its engine batches to `runner` (runtime/scaleout.py)."""
    from ..runtime.scaleout import RunnerError, with_runner

    try:
        return with_runner(flow_fn, runner.value, ray_address)
    except RunnerError as exc:
        fail(str(exc))


def run_flow(flow_fn, cfg, path: Path, quiet: bool, wait_s: float = 0.0) -> dict:
    """Run a flow with progress bars; errors that are the user's to fix exit non-zero with one clear line.

    The catalog is opened (and held) first: a catalog another build is using fails here, or after `wait_s`,
    before Prefect or any model starts. Prefect's temporary server, if one starts, exits with this process
    (prefsynth/prefect_env.py). Ctrl-C ends the command within seconds with exit 130 and one line saying that no
    version was written and a rerun resumes from the cache (cli/interrupt.py).
    """
    from ..engines.base import EngineError
    from ..prefect_env import guard_temporary_server
    from ..runtime.budget import BuildStopped
    from .interrupt import exit_on_interrupt
    from .quiet_logs import quiet_expected_failures
    from .progress_view import RichProgress

    guard_temporary_server()

    try:
        held = open_waiting(path, wait_s)
    except CatalogError as exc:  # busy (after `wait_s`), or a damaged file
        fail(str(exc), 1)
    view = None if quiet else RichProgress()
    progress.install(view)
    expected = (CatalogError, EngineError, InputError, BuildStopped)
    try:
        with exit_on_interrupt(), held, quiet_expected_failures(expected):
            if view:
                with view:
                    return flow_fn(cfg, str(path))
            return flow_fn(cfg, str(path))
    except expected as exc:
        fail(str(exc), 1)
    finally:
        progress.install(None)

