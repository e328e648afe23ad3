"""Exports of a dataset version: pick the format, derive what is derived at export time, write the files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from ..schemas.dataset import DatasetVersion
from ..storage.catalog import Catalog
from ..storage.export import preference_table, write_export
from ..storage.rationale import rationale_pair_rows, rationale_sft_rows
from ..storage.stepwise import stepwise_rows
from ..tasks.labels import derive, first_error_evidence, math_shepherd, trl_stepwise, truncate_after_first_error

# format → the dataset kinds it exports (hf: any kind, in that kind's TRL format)
FORMATS = {
    "trl-preference": ("preference", "rationale"),
    "trl-stepwise": ("stepwise",),
    "math-shepherd": ("stepwise",),
    "trl-sft": ("rationale",),
    "hf": ("preference", "stepwise", "rationale"),
}

# Format versions (the manifest's `format_version`): /2 since issue 12 — unestimated steps export null values
# (never 0.0) with an `estimated` flag, hard labels and `first_error` follow one monotone rule, one row per
# solution. A re-export of an older version is written in the current format from its stored raw counts.
STEPWISE_FORMAT = "trl-stepwise/2"
SHEPHERD_FORMAT = "math-shepherd/2"
_STEPWISE_SCHEMA = pa.schema([
    ("prompt", pa.string()), ("completions", pa.list_(pa.string())), ("labels", pa.list_(pa.bool_())),
    ("mc_values", pa.list_(pa.float64())), ("progress", pa.list_(pa.float64())), ("estimated", pa.list_(pa.bool_())),
    ("n_rollouts", pa.list_(pa.int64())), ("mc_lower", pa.list_(pa.float64())), ("mc_upper", pa.list_(pa.float64())),
    ("problem_id", pa.string()),
    ("solution_id", pa.string()), ("method", pa.string()), ("first_error", pa.int64()),
    ("first_error_before_lower", pa.float64()), ("first_error_at_upper", pa.float64()),
    ("first_error_separated", pa.bool_()),
], metadata={"prefsynth.format": STEPWISE_FORMAT})
_SHEPHERD_SCHEMA = pa.schema([("input", pa.string()), ("label", pa.string()), ("problem_id", pa.string()),
                              ("solution_id", pa.string()), ("method", pa.string())],
                             metadata={"prefsynth.format": SHEPHERD_FORMAT})
_TRL_FORMAT = {"preference": "trl-preference", "stepwise": "trl-stepwise", "rationale": "trl-preference"}
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_RATIONALE_SCHEMA = pa.schema([
    ("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES), ("item_id", pa.string()),
    ("judge", pa.string()), ("reference", pa.string()), ("reference_source", pa.string()), ("rank", pa.int64()),
])
_SFT_SCHEMA = pa.schema([("messages", _MESSAGES), ("item_id", pa.string()), ("judge", pa.string()),
                         ("reference_source", pa.string())])


class ExportError(ValueError):
    pass


def check_format(version: DatasetVersion, fmt: str) -> str:
    """The concrete table format for `fmt` on this version (hf → the kind's TRL format)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown --format {fmt!r} (known: {', '.join(FORMATS)})")
    if version.kind not in FORMATS[fmt]:
        raise ExportError(f"{version.name}@{version.version} is a {version.kind} dataset; {fmt} exports "
                          f"{' or '.join(FORMATS[fmt])} datasets")
    return _TRL_FORMAT[version.kind] if fmt == "hf" else fmt


def version_table(catalog: Catalog, version: DatasetVersion, table_format: str, threshold: float = 0.0,
                  truncate: bool = False) -> pa.Table:
    if version.kind == "rationale":
        if table_format == "trl-sft":
            return pa.Table.from_pylist(rationale_sft_rows(catalog, version), schema=_SFT_SCHEMA)
        return pa.Table.from_pylist(rationale_pair_rows(catalog, version), schema=_RATIONALE_SCHEMA)
    if table_format == "trl-preference":
        return preference_table(catalog, version)
    records = []
    for row, problem_id, question, steps in stepwise_rows(catalog, version):
        labels = derive(row, threshold)
        if truncate and labels.first_error is not None:  # supervise only up to the first error
            steps = steps[: labels.first_error + 1]
            labels = truncate_after_first_error(labels)
        if table_format == "trl-stepwise":
            evidence = {f"first_error_{k}": v for k, v in first_error_evidence(row, threshold).items()}
            body = {**trl_stepwise(question, steps, labels), "first_error": labels.first_error, **evidence}
        else:
            body = math_shepherd(question, steps, labels)
        records.append({**body, "problem_id": problem_id, "solution_id": row.solution_id, "method": row.method})
    schema = _STEPWISE_SCHEMA if table_format == "trl-stepwise" else _SHEPHERD_SCHEMA
    return pa.Table.from_pylist(records, schema=schema)


def export_version(catalog: Catalog, version: DatasetVersion, fmt: str, out_dir: Path, threshold: float = 0.0,
                   truncate_after_first_error: bool = False) -> Path:
    """Write the export; returns the Parquet file (or, for hf, the dataset folder). Stepwise: `threshold` is
    the label threshold, `truncate_after_first_error` keeps each row's steps up to its first error."""
    table_format = check_format(version, fmt)
    table = version_table(catalog, version, table_format, threshold, truncate_after_first_error)
    if fmt == "hf":
        from ..storage.hub import write_hf_folder

        return write_hf_folder(table, version, table_format, Path(out_dir))
    stepwise = {"label_threshold": threshold, "truncate_after_first_error": truncate_after_first_error}
    extra = {"format": fmt, **(stepwise if version.kind == "stepwise" else {})}
    return write_export(table, version, out_dir, extra)
