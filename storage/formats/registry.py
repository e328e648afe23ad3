"""The export formats, one registry: `prefsynth export --format` offers exactly these, the dataset card and the
Hub folder name the table format from here, and README's format table is `format_table()` (tests check it).

A new format is a `TableFormat` per dataset kind it reads (query, label derivation, schema, version: see
base.py) in a module of its family, plus one `ExportFormat` line in `FORMATS`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ...schemas.dataset import DatasetVersion
from ..catalog import Catalog
from .base import ExportError, ExportFormat, ExportOptions, TableFormat
from .hf import write_hf_folder
from .layout import format_folder, replacing
from .preference import TRL_PREFERENCE
from .rationale import JUDGE_PREFERENCE, JUDGE_SFT
from .stepwise import MATH_SHEPHERD, TRL_STEPWISE

_FORMATS = [
    ExportFormat("trl-preference", "TRL's preference format (DPO, reward models); rationale versions: the judge's "
                 "replies as DPO pairs", {"preference": TRL_PREFERENCE, "rationale": JUDGE_PREFERENCE}),
    ExportFormat("trl-stepwise", "TRL's stepwise supervision (PRMs): per-step labels, MC values, intervals",
                 {"stepwise": TRL_STEPWISE}),
    ExportFormat("math-shepherd", "Math-Shepherd's `ки`-tagged input and `+`/`-` label strings",
                 {"stepwise": MATH_SHEPHERD}),
    ExportFormat("trl-sft", "TRL's SFT messages: the judge's best agreed reply", {"rationale": JUDGE_SFT}),
    # hf: any kind, in that kind's TRL format, as a Hugging Face folder (Hub layout + dataset card + save_to_disk)
    ExportFormat("hf", "a Hugging Face folder (Hub layout + dataset card + `save_to_disk` copy) in the kind's TRL "
                 "format", {"preference": TRL_PREFERENCE, "stepwise": TRL_STEPWISE, "rationale": JUDGE_PREFERENCE},
                 layout="hf"),
]
FORMATS: dict[str, ExportFormat] = {f.name: f for f in _FORMATS}


def table_format(version: DatasetVersion, fmt: str) -> TableFormat:
    """How `fmt` writes this version's kind; a clear error for an unknown format or a kind it does not accept."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown --format {fmt!r} (known: {', '.join(FORMATS)})")
    kinds = FORMATS[fmt].kinds
    if version.kind not in kinds:
        raise ExportError(f"{version.name}@{version.version} is a {version.kind} dataset; {fmt} exports "
                          f"{' or '.join(kinds)} datasets")
    return FORMATS[fmt].tables[version.kind]


def export_version(catalog: Catalog, version: DatasetVersion, fmt: str, out_dir: Path,
                   options: ExportOptions = ExportOptions()) -> Path:
    """Write the export into OUT/NAME/vN/FORMAT/ (layout.py), replacing only that format's previous export;
    returns the Parquet file (or, for the hf layout, the dataset folder)."""
    table = table_format(version, fmt)
    rows = table.table(catalog, version, options)
    folder = format_folder(out_dir, version, fmt)
    if FORMATS[fmt].layout == "hf":
        return write_hf_folder(rows, version, table, folder)
    return write_parquet(rows, version, folder, {"format": fmt, **table.manifest(options)}, table.version)


def write_parquet(table: pa.Table, version: DatasetVersion, folder: Path, manifest: dict,
                  format_version: str | None) -> Path:
    """Write FOLDER/train.parquet + manifest.json; returns the Parquet file. Built in a temp folder, then renamed
    into place (layout.py)."""
    manifest = {"name": version.name, "version": version.version, "kind": version.kind, "rows": table.num_rows,
                "content_hash": version.content_hash, **({"format_version": format_version} if format_version else {}),
                **manifest}
    with replacing(folder) as tmp:
        pq.write_table(table, tmp / "train.parquet")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder / "train.parquet"


def format_help() -> str:
    """`--format`'s help: each format and the dataset kinds it accepts."""
    return "; ".join(f"{f.name} ({', '.join(f.kinds)})" for f in _FORMATS)


def format_table() -> str:
    """README's format table (Markdown), rows in registry order."""
    lines = ["| format | dataset kinds | format version | what it is |", "| --- | --- | --- | --- |"]
    for f in _FORMATS:
        versions = ", ".join(f"`{t.version}` ({kind})" if t.version else f"none ({kind})"
                             for kind, t in f.tables.items())
        lines.append(f"| `{f.name}` | {', '.join(f.kinds)} | {versions} | {f.summary} |")
    return "\n".join(lines)
