"""The `prefsynth` command line: build, list, show and export dataset versions."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

# Prefect logs every task run at INFO; the CLI shows its own progress instead (set before Prefect is imported).
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Prefect's temporary server must start within 20 s by default; the first run with a new Prefect home also creates
# its database, which took longer than that on a loaded 2-core machine (benchmarks/README.md).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from .. import progress  # noqa: E402
from ..storage.catalog import Catalog, CatalogBusy, open_waiting  # noqa: E402
from ..storage.inputs import InputError  # noqa: E402
from ..storage.versions import VersionNotFound, get_version, list_versions  # noqa: E402
from .config import ConfigError, PreferenceBuildConfig, load_config  # noqa: E402

app = typer.Typer(
    help="prefsynth — synthesize LLM preference datasets, stored as versioned datasets in a DuckDB catalog.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

CATALOG_HELP = "DuckDB catalog file [default: the config's `catalog`, else $PREFSYNTH_CATALOG, else ./prefsynth.duckdb]"
CatalogOpt = typer.Option(None, "--catalog", "-c", help=CATALOG_HELP, show_default=False)
WaitOpt = typer.Option(
    0.0, "--wait", min=0, help="If another process is using the catalog, wait up to this many seconds for it "
    "(default: fail at once)",
)


class RunnerName(str, Enum):
    threads = "threads"
    ray = "ray"


RunnerOpt = typer.Option(
    RunnerName.threads, "--runner", help="Where engine batches run: threads (this process) or ray (Ray workers; "
    "needs prefsynth[ray])",
)
RayAddressOpt = typer.Option(
    None, "--ray-address", help="With --runner ray: the cluster to join (e.g. 127.0.0.1:6379, ray://host:10001); "
    "default: start a Ray instance for this run", show_default=False,
)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def catalog_path(explicit: Optional[Path], configured: Optional[str] = None) -> Path:
    return Path(explicit or configured or os.environ.get("PREFSYNTH_CATALOG") or "prefsynth.duckdb")


def open_catalog(path: Path) -> Catalog:
    if not path.exists():
        fail(f"no catalog at {path} (run `prefsynth build CONFIG` first, or pass --catalog)")
    try:
        return Catalog(path, read_only=True)
    except CatalogBusy as exc:
        fail(str(exc), 1)


@app.command()
def build(
    config: Path = typer.Argument(..., help="YAML build config (see examples/quickstart.yaml)"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the build summary as JSON on stdout"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
    wait: float = WaitOpt,
    runner: RunnerName = RunnerOpt,
    ray_address: Optional[str] = RayAddressOpt,
) -> None:
    """Run a preference build: sample, judge in both orders, pair, filter, and write a new dataset version."""
    try:
        cfg = load_config(config, PreferenceBuildConfig)
        from .preference import read_prompts

        read_prompts(cfg)  # fail fast on bad input, before any model or server starts
    except (ConfigError, InputError) as exc:
        fail(str(exc))
    from .preference import preference_build

    flow_fn = on_runner(preference_build, runner, ray_address)
    summary = _run_flow(flow_fn, cfg, catalog_path(catalog, cfg.catalog), quiet or as_json, wait)
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        print_summary(summary)


def on_runner(flow_fn, runner: RunnerName, ray_address: Optional[str]):
    """The flow, set to send its engine batches to `runner` (flows/scaleout.py)."""
    from .scaleout import RunnerError, with_runner

    try:
        return with_runner(flow_fn, runner.value, ray_address)
    except RunnerError as exc:
        fail(str(exc))


def _run_flow(flow_fn, cfg, path: Path, quiet: bool, wait_s: float = 0.0) -> dict:
    """Run a flow with progress bars; errors that are the user's to fix exit non-zero with one clear line.

    The catalog is opened (and held) first: a catalog another build is using fails here, or after `wait_s`,
    before Prefect or any model starts.
    """
    from ..engines.base import EngineError
    from .budget import BuildStopped
    from .cli_logging import quiet_expected_failures
    from .progress_view import RichProgress

    try:
        held = open_waiting(path, wait_s)
    except CatalogBusy as exc:
        fail(str(exc), 1)
    view = None if quiet else RichProgress()
    progress.install(view)
    expected = (CatalogBusy, EngineError, InputError, BuildStopped)
    try:
        with held, quiet_expected_failures(expected):
            if view:
                with view:
                    return flow_fn(cfg, str(path))
            return flow_fn(cfg, str(path))
    except expected as exc:
        fail(str(exc), 1)
    finally:
        progress.install(None)


def print_summary(s: dict) -> None:
    st = s["stats"]
    table = Table(title=f"{s['name']} v{s['version']}  ({s['rows']} pairs)", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("prompts", str(st["prompts"]))
    table.add_row("samples", _counts(st["samples"]))
    table.add_row("judgments", _counts(st["judgments"]) + f"  (re-asked {st['reasked']})")
    if "agreement" in st:  # builds from before juries have no agreement figures
        a = st["agreement"]
        table.add_row("jury", f"{len(st['judges'])} judge(s), {st['pairing']}; Fleiss κ {a['fleiss_kappa']}, "
                      f"Krippendorff α {a['alpha_nominal']} (winner) / {a['alpha_interval']} (margin)")
    f = st["funnel"]
    steps = "; ".join(
        f"{x['filter']}: -{x['dropped']} " + _counts(x["reasons"])
        + (f", changed {sum(x['changed'].values())}" if x.get("changed") else "")  # flips, re-counts, weights
        for x in f["steps"]
    )
    table.add_row("pairs", f"{f['pairs_in']} in → {steps} → {f['pairs_out']} kept")
    table.add_row("engine calls", f"{st['engine_calls']} (cache hits {st['cache_hits']}, errors {st['engine_errors']}"
                  f", retried attempts {st.get('engine_retries', 0)})")
    table.add_row("tokens", f"prompt {st['prompt_tokens']}, completion {st['completion_tokens']}"
                  + (f"; cost {st['cost']:g}" if st.get("cost") else ""))
    if "skipped_rows" in st:  # prompts.on_error: skip
        sk = st["skipped_rows"]
        table.add_row("skipped rows", f"{sk['count']}: " + "; ".join(sk["rows"][:10]) + (" …" if sk["count"] > 10 else ""))
    table.add_row("wall time", f"{st['wall_time_s']:.1f} s")
    table.add_row("content hash", s["content_hash"][:16])
    table.add_row("parent", f"v{s['parent_version']}" if s["parent_version"] else "none")
    out.print(table)


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"


@app.command()
def datasets(
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="JSON list: name, version, kind, rows, created_at"),
) -> None:
    """List every dataset version in the catalog."""
    with open_catalog(catalog_path(catalog)) as cat:
        versions = list_versions(cat)
    if as_json:
        rows = [
            {"name": v.name, "version": v.version, "kind": v.kind, "rows": v.row_count, "created_at": v.created_at.isoformat()}
            for v in versions
        ]
        out.print_json(json.dumps(rows))
        return
    table = Table("name", "version", "kind", "rows", "content hash", "created")
    for v in versions:
        table.add_row(v.name, str(v.version), v.kind, str(v.row_count), v.content_hash[:12], f"{v.created_at:%Y-%m-%d %H:%M}")
    out.print(table)


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION (default: the latest version)"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the manifest and stats as JSON"),
) -> None:
    """Show one dataset version: manifest, config hash, parent, and the stats of the build that made it."""
    with open_catalog(catalog_path(catalog)) as cat:
        try:
            v = get_version(cat, ref)
        except (VersionNotFound, ValueError) as exc:
            fail(str(exc))
    manifest = {
        "name": v.name, "version": v.version, "kind": v.kind, "rows": v.row_count, "content_hash": v.content_hash,
        "parent_version": v.parent_version, "config_hash": v.config_hash, "code_version": v.code_version,
        "created_at": v.created_at.isoformat(), "flow_run_id": v.flow_run_id, "stats": v.stats,
    }
    if as_json:
        out.print_json(json.dumps(manifest))
    else:
        {"preference": print_summary, "stepwise": print_stepwise_summary}.get(v.kind, print_stats)(manifest)
        out.print(f"config hash {v.config_hash}, code {v.code_version}, created {v.created_at:%Y-%m-%d %H:%M:%S}, flow run {v.flow_run_id}")


@app.command()
def export(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION (default: the latest version)"),
    fmt: str = typer.Option(
        ...,
        "--format",
        "-f",
        help="trl-preference (preference datasets); trl-stepwise or math-shepherd (stepwise); "
        "hf (Hugging Face folder: data/train-*.parquet + dataset card + save_to_disk copy, in the kind's TRL format)",
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write NAME/vN/ into"),
    threshold: float = typer.Option(
        0.0, "--label-threshold", help="Stepwise: a step is correct when its MC value is above this (0 = any correct)"
    ),
    push_to_hub: Optional[str] = typer.Option(
        None, "--push-to-hub", help="With --format hf: upload to this dataset repo (ORG/NAME); token from $HF_TOKEN"
    ),
    private: bool = typer.Option(False, "--private", help="With --push-to-hub: create the repo private"),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Export a dataset version in a trainer's format (NAME/vN/train.parquet + manifest.json), or publish it."""
    from ..storage import hub
    from .export import ExportError, export_version

    if push_to_hub and fmt != "hf":
        fail("--push-to-hub needs --format hf")
    with open_catalog(catalog_path(catalog)) as cat:
        try:
            v = get_version(cat, ref)
            path = export_version(cat, v, fmt, out_dir, threshold)
        except (VersionNotFound, ExportError, hub.PublishError, ValueError) as exc:
            fail(str(exc))
    out.print(f"wrote {path} ({v.row_count} rows)")
    if push_to_hub:
        try:
            url = hub.publish_folder(path, push_to_hub, private)
        except hub.PublishError as exc:
            fail(str(exc), 1)
        out.print(f"published {url}")


@app.command()
def rationalize(
    config: Path = typer.Argument(..., help="YAML config (see examples/rationalize.yaml)"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the build summary as JSON on stdout"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
) -> None:
    """Self-rationalization: sample K judgments per item, pair right with wrong rationales (a rationale version)."""
    from .rationale_config import load_rationale_config
    from .rationalize import rationalize as rationalize_flow
    from .rationalize import read_inputs

    try:
        cfg = load_rationale_config(config)
        read_inputs(cfg)  # fail fast on bad input
    except (ConfigError, InputError) as exc:
        fail(str(exc))
    summary = _run_flow(rationalize_flow, cfg, catalog_path(catalog, cfg.catalog), quiet or as_json)
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        print_stats(summary)


def print_stats(s: dict) -> None:
    """A version summary for any kind: the headline counts of its build stats."""
    table = Table(title=f"{s['name']} v{s['version']}  ({s['rows']} rows)", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in s["stats"].items():
        text = _counts(value) if isinstance(value, dict) else str(value)
        table.add_row(key.replace("_", " "), text)
    table.add_row("content hash", s["content_hash"][:16])
    out.print(table)


@app.command()
def diff(
    old: str = typer.Argument(..., help="NAME@VERSION to compare from"),
    new: str = typer.Argument(..., help="NAME@VERSION (or NAME for the latest) to compare to"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON"),
) -> None:
    """Compare two versions: rows added and removed, and how the build stats moved (e.g. judge agreement)."""
    from ..storage.versions import version_rows

    with open_catalog(catalog_path(catalog)) as cat:
        try:
            a, b = get_version(cat, old), get_version(cat, new)
        except (VersionNotFound, ValueError) as exc:
            fail(str(exc))
        rows_a, rows_b = set(version_rows(cat, a)), set(version_rows(cat, b))
    numbers = {k: (a.stats.get(k), b.stats.get(k)) for k in sorted(set(a.stats) | set(b.stats))
               if isinstance(a.stats.get(k, 0), (int, float)) and isinstance(b.stats.get(k, 0), (int, float))}
    result = {
        "from": f"{a.name}@{a.version}", "to": f"{b.name}@{b.version}",
        "added": len(rows_b - rows_a), "removed": len(rows_a - rows_b), "kept": len(rows_a & rows_b),
        "same_content": a.content_hash == b.content_hash,
        "stats": {k: {"from": x, "to": y} for k, (x, y) in numbers.items()},
    }
    if as_json:
        out.print_json(json.dumps(result))
        return
    out.print(f"{result['from']} → {result['to']}: +{result['added']} rows, -{result['removed']}, "
              f"{result['kept']} kept{' (same content)' if result['same_content'] else ''}")
    table = Table("stat", result["from"], result["to"])
    for k, v in result["stats"].items():
        if v["from"] != v["to"]:
            table.add_row(k, str(v["from"]), str(v["to"]))
    out.print(table)


@app.command("label-steps")
def label_steps(
    config: Path = typer.Argument(..., help="YAML config (see examples/gsm8k_omegaprm.yaml)"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the build summary as JSON on stdout"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
    wait: float = WaitOpt,
    runner: RunnerName = RunnerOpt,
    ray_address: Optional[str] = RayAddressOpt,
) -> None:
    """Label reasoning steps for process reward models (OmegaPRM or Math-Shepherd) into a stepwise version."""
    from .process_config import load_process_config
    from .process_labels import process_labels, read_problems

    try:
        cfg = load_process_config(config)
        read_problems(cfg)  # fail fast on bad input
    except (ConfigError, InputError) as exc:
        fail(str(exc))
    flow_fn = on_runner(process_labels, runner, ray_address)
    summary = _run_flow(flow_fn, cfg, catalog_path(catalog, cfg.catalog), quiet or as_json, wait)
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        print_stepwise_summary(summary)


def print_stepwise_summary(s: dict) -> None:
    st = s["stats"]
    table = Table(title=f"{s['name']} v{s['version']}  ({s['rows']} labelled solutions)", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("problems", f"{st['problems']} ({st['method']})")
    table.add_row("solutions", _counts(st["solutions"]))
    table.add_row("labels", f"{st['labelled_steps']} labelled steps, {st['with_error']} solutions with a located error")
    table.add_row("engine calls", f"{st['engine_calls']} in {st['rounds']} rounds (cache hits {st['cache_hits']}, errors {st['engine_errors']})")
    table.add_row("tokens", f"prompt {st['prompt_tokens']}, completion {st['completion_tokens']}")
    table.add_row("wall time", f"{st['wall_time_s']:.1f} s")
    table.add_row("content hash", s["content_hash"][:16])
    out.print(table)


@app.command("import-judgments")
def import_judgments_cmd(
    file: Path = typer.Argument(..., help="JSONL: prompt, response_a, response_b, judge, verdict or score_a/score_b"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON"),
) -> None:
    """Load judgments made elsewhere (reward models, humans, other judges); builds can use them as jurors."""
    from .import_judgments import import_judgments

    try:
        counts = import_judgments(file, catalog_path(catalog))
    except InputError as exc:
        fail(str(exc))
    except CatalogBusy as exc:
        fail(str(exc), 1)
    if as_json:
        out.print_json(json.dumps(counts))
    else:
        judges = ", ".join(f"{k} ({v})" for k, v in counts["judges"].items())
        out.print(f"imported {counts['judgments']} judgments from {counts['lines']} lines "
                  f"({counts['new_judgments']} new) by {judges}")


@app.command("eval-judge")
def eval_judge(
    config: Path = typer.Argument(..., help="YAML with engines and a judge or jury (a build config works too)"),
    gold: Path = typer.Option(..., "--gold", help="JSONL: prompt, response_a, response_b, label (A>B|B>A), source"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
) -> None:
    """Measure judges against gold labels: double-order accuracy, swap inconsistency, κ, length bias, filters."""
    from functools import partial

    from .evaluate_judge import evaluate_judge, gold_items
    from .eval_report import load_eval_config, print_eval_report

    try:
        cfg = load_eval_config(config)
        gold_items(gold)  # fail fast on a bad gold file, before any model starts
    except (ConfigError, InputError) as exc:
        fail(str(exc))
    result = _run_flow(partial(evaluate_judge, gold_path=str(gold)), cfg, catalog_path(catalog, cfg.catalog),
                       quiet or as_json)
    if as_json:
        out.print_json(json.dumps(result, default=str))
    else:
        print_eval_report(result, out)



@app.command()
def report(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION (default: the latest version)"),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for index.html, the PNG plots and summary.json"),
    threshold: float = typer.Option(
        0.0, "--label-threshold", help="Stepwise: a step is correct when its MC value is above this (0 = any correct)"
    ),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the report's numbers as JSON on stdout"),
) -> None:
    """Write a version's report: index.html with plots (funnel, verdicts, margins, juror κ, length, step labels)."""
    from .report import write_report

    with open_catalog(catalog_path(catalog)) as cat:
        try:
            v = get_version(cat, ref)
            index, summary = write_report(cat, v, out_dir, threshold)
        except (VersionNotFound, ValueError) as exc:
            fail(str(exc))
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        out.print(f"wrote {index} ({len(summary['plots'])} plots)")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: no version was written")
        sys.exit(130)


if __name__ == "__main__":
    main()
