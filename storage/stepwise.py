"""Stepwise datasets in the catalog: step-label rows, the prefix-value memo, and rows for export."""

from __future__ import annotations

from collections import defaultdict

from ..schemas.dataset import DatasetVersion
from ..schemas.process import LabelledSolution, PrefixValue, StepLabel
from .catalog import Catalog


def step_label_rows(labelled: list[LabelledSolution]) -> list[dict]:
    """Flatten labelled solutions into `step_labels` rows (one per labelled step, keyed by the row id), each
    naming the split its steps are stored under."""
    return [
        {"label_set_id": row.id, "split_id": row.split_id, **label.model_dump()}
        for row in labelled
        for label in row.labels
    ]


def prefix_lookup(catalog: Catalog):
    """A `PrefixLookup` backed by `prefix_values`: (problem_id, prefix_hash) → stored estimate or None."""

    def lookup(problem_id: str, prefix_hash: str) -> PrefixValue | None:
        rows = catalog.query(
            "SELECT n_correct, n_rollouts, verdict FROM prefix_values WHERE problem_id = ? AND prefix_hash = ?",
            [problem_id, prefix_hash],
        )
        if not rows:
            return None
        return PrefixValue(problem_id=problem_id, prefix_hash=prefix_hash, n_correct=rows[0][0], n_rollouts=rows[0][1],
                           verdict=rows[0][2])

    return lookup


# A row's steps are those of its split; a row labelled before m011_step_splits (split_id NULL) reads the steps
# stored then (split_id ''), as its exports always did.
_ROWS = """
SELECT d.ord, d.row_id, l.solution_id, l.split_id, l.step_index, l.method, l.n_correct, l.n_rollouts, l.parent_mc,
       l.verdict
FROM dataset_rows d JOIN step_labels l ON l.label_set_id = d.row_id
WHERE d.name = ? AND d.version = ?
ORDER BY d.ord, l.step_index
"""
_TEXTS = """
SELECT s.id AS solution_id, ids.split_id, s.problem_id, p.question, st.idx, st.text
FROM (SELECT DISTINCT l.solution_id, l.split_id FROM dataset_rows d JOIN step_labels l ON l.label_set_id = d.row_id
      WHERE d.name = ? AND d.version = ?) ids
JOIN solutions s ON s.id = ids.solution_id
JOIN problems p ON p.id = s.problem_id
JOIN steps st ON st.solution_id = s.id AND st.split_id = coalesce(ids.split_id, '')
ORDER BY s.id, ids.split_id, st.idx
"""


def stepwise_rows(catalog: Catalog, version: DatasetVersion) -> list[tuple[LabelledSolution, str, str, list[str]]]:
    """(labelled solution, problem id, question, step texts) per row of the version, in row order."""
    labels: dict[str, list[StepLabel]] = defaultdict(list)
    order: dict[str, tuple[int, str, str | None, str]] = {}
    for ord_, row_id, sol, split, idx, method, c, n, parent, verdict in catalog.query(
            _ROWS, [version.name, version.version]):
        labels[row_id].append(StepLabel(solution_id=sol, step_index=idx, method=method, n_correct=c,
                                        n_rollouts=n, parent_mc=parent, verdict=verdict))
        order[row_id] = (ord_, sol, split, method)
    texts: dict[tuple[str, str | None], tuple[str, str, list[str]]] = {}
    for sol, split, pid, question, _idx, text in catalog.query(_TEXTS, [version.name, version.version]):
        texts.setdefault((sol, split), (pid, question, []))[2].append(text)
    out = []
    for row_id, (_, sol, split, method) in sorted(order.items(), key=lambda kv: kv[1][0]):
        pid, question, steps = texts[(sol, split)]
        row = LabelledSolution.create(sol, method, len(steps), tuple(labels[row_id]), split_id=split)
        row = row.model_copy(update={"id": row_id})  # the stored id: it names the split when the build did
        out.append((row, pid, question, steps))
    return out
