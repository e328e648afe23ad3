"""Exports of a dataset version: pick the format, derive what is derived at export time, write Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..schemas.dataset import DatasetVersion
from ..storage.catalog import Catalog
from ..storage.export import export_trl_preference
from ..storage.stepwise import stepwise_rows
from ..tasks.labels import derive, math_shepherd, trl_stepwise

FORMATS = {"trl-preference": "preference", "trl-stepwise": "stepwise", "math-shepherd": "stepwise"}

_STEPWISE_SCHEMA = pa.schema([
    ("prompt", pa.string()), ("completions", pa.list_(pa.string())), ("labels", pa.list_(pa.bool_())),
    ("mc_values", pa.list_(pa.float64())), ("progress", pa.list_(pa.float64())), ("problem_id", pa.string()),
    ("solution_id", pa.string()), ("method", pa.string()), ("first_error", pa.int64()),
])
_SHEPHERD_SCHEMA = pa.schema([("input", pa.string()), ("label", pa.string()), ("problem_id", pa.string()),
                              ("solution_id", pa.string()), ("method", pa.string())])


class ExportError(ValueError):
    pass


def export_version(catalog: Catalog, version: DatasetVersion, fmt: str, out_dir: Path, threshold: float = 0.0) -> Path:
    """Write OUT/NAME/vN/train.parquet (+ manifest.json) in `fmt`; returns the Parquet file."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown --format {fmt!r} (known: {', '.join(FORMATS)})")
    if FORMATS[fmt] != version.kind:
        raise ExportError(f"{version.name}@{version.version} is a {version.kind} dataset; {fmt} needs a {FORMATS[fmt]} one")
    if fmt == "trl-preference":
        return export_trl_preference(catalog, version, out_dir) / "train.parquet"
    records, schema = [], _STEPWISE_SCHEMA if fmt == "trl-stepwise" else _SHEPHERD_SCHEMA
    for row, problem_id, question, steps in stepwise_rows(catalog, version):
        labels = derive(row, threshold)
        body = trl_stepwise(question, steps, labels) if fmt == "trl-stepwise" else math_shepherd(question, steps, labels)
        extra = {"problem_id": problem_id, "solution_id": row.solution_id, "method": row.method}
        if fmt == "trl-stepwise":
            extra["first_error"] = row.first_error
        records.append({**body, **extra})
    return _write(pa.Table.from_pylist(records, schema=schema), version, fmt, out_dir, {"label_threshold": threshold})


def _write(table: pa.Table, version: DatasetVersion, fmt: str, out_dir: Path, extra: dict) -> Path:
    folder = Path(out_dir) / version.name / f"v{version.version}"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "train.parquet.tmp"
    pq.write_table(table, tmp)
    target = folder / "train.parquet"
    tmp.replace(target)  # atomic: a reader never sees half a file
    manifest = {"name": version.name, "version": version.version, "kind": version.kind, "format": fmt,
                "rows": table.num_rows, "content_hash": version.content_hash, **extra}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target
