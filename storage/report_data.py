"""What a version report needs from the catalog, as small typed rows (aggregated in SQL where that is enough).

A preference version's *build pairs* are every pair its build aggregated, kept or dropped (dropped pairs are
in `filter_decisions`), as the jury made them (before a filter changed one); a pair is *kept* when it, or the
pair a filter derived from it, is a row of the version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..schemas.dataset import DatasetVersion
from ..schemas.process import LabelledSolution
from .catalog import Catalog
from .stepwise import stepwise_rows

# $1 = name, $2 = version. The build's pairs (not derived), each with its kept flag and response lengths.
_PAIRS = """
WITH rows_ AS (SELECT row_id FROM dataset_rows WHERE name = $1 AND version = $2),
ids AS (
    SELECT pair_id AS id FROM filter_decisions WHERE name = $1 AND version = $2
    UNION SELECT row_id FROM rows_
    UNION SELECT derived_from FROM pairs WHERE id IN (SELECT row_id FROM rows_) AND derived_from IS NOT NULL
),
kept AS (
    SELECT row_id AS id FROM rows_
    UNION SELECT derived_from FROM pairs WHERE id IN (SELECT row_id FROM rows_) AND derived_from IS NOT NULL
)
SELECT p.id, p.prompt_id, p.chosen_id, p.rejected_id, p.margin, p.tie, p.agreement, p.margin_std,
       p.chosen_score, p.rejected_score, p.judgment_ids, p.id IN (SELECT id FROM kept) AS kept,
       length(c.text) AS chosen_len, length(r.text) AS rejected_len
FROM pairs p
JOIN samples c ON c.id = p.chosen_id
JOIN samples r ON r.id = p.rejected_id
WHERE p.id IN (SELECT id FROM ids) AND p.derived_from IS NULL
ORDER BY p.id
"""

_JUDGMENTS = """
WITH vp AS ({pairs}),
links AS (SELECT DISTINCT unnest(from_json(judgment_ids, '["VARCHAR"]')) AS jid FROM vp)
SELECT j.id, j.judge, j.protocol, j.status, j.verdict, j.first_id, j.second_id, j.score_a, j.score_b,
       length(f.text) AS first_len, length(s.text) AS second_len
FROM judgments j
JOIN links ON links.jid = j.id
LEFT JOIN samples f ON f.id = j.first_id
LEFT JOIN samples s ON s.id = j.second_id
ORDER BY j.id
"""


@dataclass(frozen=True)
class PairRow:
    id: str
    prompt_id: str
    chosen_id: str
    rejected_id: str
    margin: float
    tie: bool
    agreement: float
    margin_std: float
    chosen_score: float | None
    rejected_score: float | None
    judgment_ids: tuple[str, ...]
    kept: bool
    chosen_len: int
    rejected_len: int


@dataclass(frozen=True)
class JudgmentRow:
    id: str
    judge: str
    protocol: str
    status: str
    verdict: str | None
    first_id: str
    second_id: str | None
    score_a: float | None
    score_b: float | None
    first_len: int | None
    second_len: int | None


@dataclass(frozen=True)
class PreferenceData:
    pairs: list[PairRow]
    judgments: list[JudgmentRow]


def preference_data(catalog: Catalog, version: DatasetVersion) -> PreferenceData:
    params = [version.name, version.version]
    pairs = []
    for r in catalog.query(_PAIRS, params):
        *head, ids, kept, clen, rlen = r
        pairs.append(PairRow(*head, judgment_ids=tuple(json.loads(ids)), kept=bool(kept), chosen_len=clen or 0,
                             rejected_len=rlen or 0))
    judgments = [JudgmentRow(*r) for r in catalog.query(_JUDGMENTS.format(pairs=_PAIRS.strip()), params)]
    return PreferenceData(pairs, judgments)


@dataclass(frozen=True)
class StepRow:
    """One labelled solution of a stepwise version: its stored labels and number of steps."""

    solution: LabelledSolution
    problem_id: str


def stepwise_data(catalog: Catalog, version: DatasetVersion) -> list[StepRow]:
    return [StepRow(row, pid) for row, pid, _question, _steps in stepwise_rows(catalog, version)]


_RATIONALE = """
WITH items AS (
    SELECT i.*, d.ord FROM dataset_rows d JOIN rationale_items i ON i.id = d.row_id WHERE d.name = $1 AND d.version = $2
),
links AS (
    SELECT id AS item_id, unnest(from_json(coalesce(sample_ids, judgment_ids), '["VARCHAR"]')) AS jid FROM items
)
SELECT i.id, i.reference, i.reference_source,
       count(j.id) FILTER (WHERE list_contains(from_json(i.right_ids, '["VARCHAR"]'), j.id)) AS n_right,
       count(j.id) FILTER (WHERE j.status = 'ok') AS n_parsed, count(l.jid) AS n_judgments
FROM items i
LEFT JOIN links l ON l.item_id = i.id
LEFT JOIN judgments j ON j.id = l.jid
GROUP BY i.id, i.reference, i.reference_source, i.right_ids, i.ord
ORDER BY i.ord
"""


@dataclass(frozen=True)
class RationaleRow:
    """One judged item of a rationale version: its reference, and how many of its judgments agreed with it.

    Counted per sample (`sample_ids`: K per item, identical samples each count); versions written before
    migration m007 have no `sample_ids` and count each distinct judgment once, as their build did."""

    id: str
    reference: str | None
    reference_source: str
    n_right: int
    n_parsed: int
    n_judgments: int


def rationale_data(catalog: Catalog, version: DatasetVersion) -> list[RationaleRow]:
    return [RationaleRow(*r) for r in catalog.query(_RATIONALE, [version.name, version.version])]
