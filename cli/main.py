"""The `prefsynth` command line. This module: the catalog commands (datasets, show, export, diff, report,
import-judgments); the flow commands live in cli/flows.py, shared options in cli/options.py, helpers in cli/app.py."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Any, Optional

from .app import app, catalog_path, err, fail, open_catalog, out  # first: sets Prefect's env

import typer  # noqa: E402
from rich.table import Table  # noqa: E402

from ..schemas.dataset import DatasetVersion  # noqa: E402
from ..schemas.stats import load_stats  # noqa: E402
from ..storage.catalog import CatalogError  # noqa: E402
from ..storage.formats.registry import FORMATS, format_help  # noqa: E402
from ..storage.inputs import InputError  # noqa: E402
from ..storage.versions import VersionNotFound, get_version, list_versions  # noqa: E402
from .options import CatalogOpt  # noqa: E402
from . import flows  # noqa: E402,F401 — registers build, label-steps, rationalize, eval-judge
from .flows import OnError, OnErrorOpt  # noqa: E402
from .print import print_version  # noqa: E402

__all__ = ["app", "main"]

# `--format`'s choices: the export-format registry's names
FormatName = enum.Enum("FormatName", {name: name for name in FORMATS}, type=str)


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
        print_version(manifest)
        out.print(f"config hash {v.config_hash}, code {v.code_version}, created {v.created_at:%Y-%m-%d %H:%M:%S}, flow run {v.flow_run_id}")


@app.command()
def export(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION (default: the latest version)"),
    fmt: FormatName = typer.Option(
        ..., "--format", "-f", help=f"The format (the dataset kinds it accepts): {format_help()}"
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write NAME/vN/FORMAT/ into"),
    threshold: float = typer.Option(
        0.0, "--label-threshold", help="Stepwise: a step is correct when its MC value is above this (0 = any correct)"
    ),
    truncate: bool = typer.Option(
        False, "--truncate-after-first-error",
        help="Stepwise: keep each row's steps up to its first error (the OmegaPRM/PRM800K convention)",
    ),
    push_to_hub: Optional[str] = typer.Option(
        None, "--push-to-hub", help="With --format hf: upload to this dataset repo (ORG/NAME); token from $HF_TOKEN"
    ),
    private: bool = typer.Option(False, "--private", help="With --push-to-hub: create the repo private"),
    catalog: Optional[Path] = CatalogOpt,
) -> None:
    """Export a dataset version in a trainer's format (NAME/vN/FORMAT/: train.parquet + manifest.json), or
    publish it."""
    from ..storage.formats import hf as hub
    from ..storage.formats.base import ExportError, ExportOptions
    from ..storage.formats.registry import export_version

    fmt = fmt.value
    if push_to_hub and FORMATS[fmt].layout != "hf":
        fail("--push-to-hub needs --format hf")
    with open_catalog(catalog_path(catalog)) as cat:
        try:
            v = get_version(cat, ref)
            path = export_version(cat, v, fmt, out_dir, ExportOptions(threshold, truncate))
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
    numbers = stat_moves(a, b)
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


def stat_moves(a: DatasetVersion, b: DatasetVersion) -> dict[str, tuple[Any, Any]]:
    """Every top-level number of the two versions' typed build stats (`display_items`: the stats format version
    is not a figure), by name in sorted order, as (from, to); a figure one version lacks is None there."""
    old, new = (dict(load_stats(v.kind, v.stats).display_items()) for v in (a, b))
    numeric = [k for k in set(old) | set(new) if all(_is_number(side.get(k, 0)) for side in (old, new))]
    return {k: (old.get(k), new.get(k)) for k in sorted(numeric)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


@app.command("import-judgments")
def import_judgments_cmd(
    file: Path = typer.Argument(..., help="JSONL: prompt, response_a, response_b, judge, verdict or score_a/score_b"),
    catalog: Optional[Path] = CatalogOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON"),
    on_error: OnError = OnErrorOpt,
) -> None:
    """Load judgments made elsewhere (reward models, humans, other judges); builds can use them as jurors."""
    from ..storage.import_judgments import import_judgments

    try:
        counts = import_judgments(file, catalog_path(catalog), on_error.value)
    except InputError as exc:
        fail(str(exc))
    except CatalogError as exc:
        fail(str(exc), 1)
    if as_json:
        out.print_json(json.dumps(counts))
    else:
        judges = ", ".join(f"{k} ({v})" for k, v in counts["judges"].items())
        out.print(f"imported {counts['judgments']} judgments from {counts['lines']} lines "
                  f"({counts['new_judgments']} new) by {judges}")
        if counts.get("skipped"):
            out.print(f"skipped {counts['skipped_lines']} bad line(s):\n" + "\n".join(counts["skipped"]),
                      highlight=False, soft_wrap=True)


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
    from ..reports.page import write_report

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
    except CatalogError as exc:  # a damaged block DuckDB only noticed mid-command: one line, no traceback
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(1)
    # Ctrl-C: flow commands exit through cli/interrupt.py; Typer ends the others with 130 itself.


if __name__ == "__main__":
    main()
