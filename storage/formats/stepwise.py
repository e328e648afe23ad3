"""The formats of stepwise datasets: `trl-stepwise` (TRL's stepwise supervision) and `math-shepherd` (Wang et al.
2024, *Math-Shepherd*: `ки` after each step, `+`/`-` in its place).

The labels are derived at export time from the stored raw counts by tasks/labels.py (one monotone rule at the
label threshold, null values for unestimated steps, Wilson intervals, first-error evidence); this module only
shapes them into each format's columns.

Format versions /2 since issue 12: unestimated steps export null values (never 0.0) with an `estimated` flag,
hard labels and `first_error` follow one monotone rule, one row per solution. A re-export of an older version is
written in the current format from its stored raw counts.
"""

from __future__ import annotations

import pyarrow as pa

from ...schemas.process import LabelledSolution
from ...tasks.labels import DerivedLabels, derive, first_error_evidence, truncate_after_first_error
from ..stepwise import stepwise_rows
from .base import ExportOptions, TableFormat, format_metadata

STEPWISE_FORMAT = "trl-stepwise/2"
SHEPHERD_FORMAT = "math-shepherd/2"
STEP_TAG = "ки"  # Math-Shepherd's step tag

_STEPWISE_SCHEMA = pa.schema([
    ("prompt", pa.string()), ("completions", pa.list_(pa.string())), ("labels", pa.list_(pa.bool_())),
    ("mc_values", pa.list_(pa.float64())), ("progress", pa.list_(pa.float64())), ("estimated", pa.list_(pa.bool_())),
    ("n_rollouts", pa.list_(pa.int64())), ("mc_lower", pa.list_(pa.float64())), ("mc_upper", pa.list_(pa.float64())),
    ("problem_id", pa.string()),
    ("solution_id", pa.string()), ("method", pa.string()), ("first_error", pa.int64()),
    ("first_error_before_lower", pa.float64()), ("first_error_at_upper", pa.float64()),
    ("first_error_separated", pa.bool_()),
], metadata=format_metadata(STEPWISE_FORMAT))
_SHEPHERD_SCHEMA = pa.schema([("input", pa.string()), ("label", pa.string()), ("problem_id", pa.string()),
                              ("solution_id", pa.string()), ("method", pa.string())],
                             metadata=format_metadata(SHEPHERD_FORMAT))

StepwiseRow = tuple[LabelledSolution, str, str, list[str]]  # (labelled solution, problem id, question, step texts)


def trl_stepwise(question: str, steps: list[str], labels: DerivedLabels) -> dict:
    """TRL's stepwise-supervision format; labels are bools (TRL casts with int()), soft values separate."""
    return {
        "prompt": question,
        "completions": [s.strip() for s in steps],
        "labels": labels.hard,
        "mc_values": labels.mc,
        "progress": labels.progress,
        "estimated": labels.estimated,
        "n_rollouts": labels.n_rollouts,
        "mc_lower": labels.mc_lower,
        "mc_upper": labels.mc_upper,
    }


def math_shepherd(question: str, steps: list[str], labels: DerivedLabels) -> dict:
    """Math-Shepherd's format: `ки` after each step in `input`, replaced by `+`/`-` in `label`."""
    body = [s.strip() for s in steps]
    tagged = "".join(f"{s} {STEP_TAG}\n" for s in body)
    marked = "".join(f"{s} {'+' if ok else '-'}\n" for s, ok in zip(body, labels.hard, strict=True))
    return {"input": f"{question} {tagged}", "label": f"{question} {marked}"}


def _labelled(row: LabelledSolution, steps: list[str], options: ExportOptions) -> tuple[list[str], DerivedLabels]:
    """The steps and their derived labels, cut after the first error when the options say so."""
    labels = derive(row, options.threshold)
    if options.truncate and labels.first_error is not None:  # supervise only up to the first error
        return steps[: labels.first_error + 1], truncate_after_first_error(labels)
    return steps, labels


def trl_stepwise_rows(rows: list[StepwiseRow], options: ExportOptions) -> list[dict]:
    """One `trl-stepwise` record per labelled solution, with the located first error and how sure it is."""
    records = []
    for row, problem_id, question, steps in rows:
        steps, labels = _labelled(row, steps, options)
        evidence = {f"first_error_{k}": v for k, v in first_error_evidence(row, options.threshold).items()}
        body = {**trl_stepwise(question, steps, labels), "first_error": labels.first_error, **evidence}
        records.append({**body, "problem_id": problem_id, "solution_id": row.solution_id, "method": row.method})
    return records


def shepherd_rows(rows: list[StepwiseRow], options: ExportOptions) -> list[dict]:
    """One `math-shepherd` record per labelled solution."""
    records = []
    for row, problem_id, question, steps in rows:
        steps, labels = _labelled(row, steps, options)
        body = math_shepherd(question, steps, labels)
        records.append({**body, "problem_id": problem_id, "solution_id": row.solution_id, "method": row.method})
    return records


def _label_options(options: ExportOptions) -> dict:
    return {"label_threshold": options.threshold, "truncate_after_first_error": options.truncate}


TRL_STEPWISE = TableFormat(format="trl-stepwise", kind="stepwise", version=STEPWISE_FORMAT, query=stepwise_rows,
                           derive=trl_stepwise_rows, schema=lambda records: _STEPWISE_SCHEMA,
                           card_tag="process-reward-model", manifest=_label_options)
MATH_SHEPHERD = TableFormat(format="math-shepherd", kind="stepwise", version=SHEPHERD_FORMAT, query=stepwise_rows,
                            derive=shepherd_rows, schema=lambda records: _SHEPHERD_SCHEMA,
                            card_tag="process-reward-model", manifest=_label_options)
