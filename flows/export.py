"""Exports of a dataset version: pick the format, derive what is derived at export time, write the files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from ..schemas.dataset import DatasetVersion
from ..storage.catalog import Catalog
from ..storage.export import preference_table, write_export
from ..storage.stepwise import stepwise_rows
from ..tasks.labels import derive, math_shepherd, trl_stepwise

# format → the dataset kind it needs (None: any kind, in that kind's TRL format)
FORMATS = {"trl-preference": "preference", "trl-stepwise": "stepwise", "math-shepherd": "stepwise", "hf": None}

_STEPWISE_SCHEMA = pa.schema([
    ("prompt", pa.string()), ("completions", pa.list_(pa.string())), ("labels", pa.list_(pa.bool_())),
    ("mc_values", pa.list_(pa.float64())), ("progress", pa.list_(pa.float64())), ("problem_id", pa.string()),
    ("solution_id", pa.string()), ("method", pa.string()), ("first_error", pa.int64()),
])
_SHEPHERD_SCHEMA = pa.schema([("input", pa.string()), ("label", pa.string()), ("problem_id", pa.string()),
                              ("solution_id", pa.string()), ("method", pa.string())])
_TRL_FORMAT = {"preference": "trl-preference", "stepwise": "trl-stepwise"}


class ExportError(ValueError):
    pass


def check_format(version: DatasetVersion, fmt: str) -> str:
    """The concrete table format for `fmt` on this version (hf → the kind's TRL format)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown --format {fmt!r} (known: {', '.join(FORMATS)})")
    needs = FORMATS[fmt]
    if needs is not None and needs != version.kind:
        raise ExportError(f"{version.name}@{version.version} is a {version.kind} dataset; {fmt} needs a {needs} one")
    table_format = fmt if needs else _TRL_FORMAT.get(version.kind)
    if table_format is None:
        raise ExportError(f"no Hugging Face export for {version.kind} datasets")
    return table_format


def version_table(catalog: Catalog, version: DatasetVersion, table_format: str, threshold: float = 0.0) -> pa.Table:
    if table_format == "trl-preference":
        return preference_table(catalog, version)
    records = []
    for row, problem_id, question, steps in stepwise_rows(catalog, version):
        labels = derive(row, threshold)
        if table_format == "trl-stepwise":
            body = {**trl_stepwise(question, steps, labels), "first_error": row.first_error}
        else:
            body = math_shepherd(question, steps, labels)
        records.append({**body, "problem_id": problem_id, "solution_id": row.solution_id, "method": row.method})
    schema = _STEPWISE_SCHEMA if table_format == "trl-stepwise" else _SHEPHERD_SCHEMA
    return pa.Table.from_pylist(records, schema=schema)


def export_version(catalog: Catalog, version: DatasetVersion, fmt: str, out_dir: Path, threshold: float = 0.0) -> Path:
    """Write the export; returns the Parquet file (or, for hf, the dataset folder)."""
    table_format = check_format(version, fmt)
    table = version_table(catalog, version, table_format, threshold)
    if fmt == "hf":
        from ..storage.hub import write_hf_folder

        return write_hf_folder(table, version, table_format, Path(out_dir))
    extra = {"format": fmt, **({"label_threshold": threshold} if version.kind == "stepwise" else {})}
    return write_export(table, version, out_dir, extra)
