"""What a version report needs from the catalog, as small typed rows (aggregated in SQL where that is enough).

A preference version's report reads its *build pairs* (storage/records.py:BUILD_PAIRS: every pair its build
aggregated, kept or dropped, as the jury made it) as `PreferencePair` records with their kept flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas.dataset import DatasetVersion
from ..schemas.preference import PreferencePair
from ..schemas.process import LabelledSolution
from .catalog import Catalog
from .records import BUILD_PAIRS, build_pairs
from .stepwise import stepwise_rows

# $1 = name, $2 = version. The characters of each response of the build's pairs.
_LENGTHS = f"""
WITH bp AS ({BUILD_PAIRS.strip()})
SELECT s.id, length(s.text) FROM samples s
WHERE s.id IN (SELECT chosen_id FROM bp UNION SELECT rejected_id FROM bp)
"""

_JUDGMENTS = f"""
WITH vp AS ({BUILD_PAIRS.strip()}),
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
    """A preference version's build pairs (as the jury made them), which of them it kept, the length of each of
    their responses (characters, by sample id) and the judgments behind them."""

    pairs: list[PreferencePair]
    kept: frozenset[str]
    lengths: dict[str, int]
    judgments: list[JudgmentRow]

    def chosen_longer(self, pair: PreferencePair) -> bool | None:
        """Whether the chosen response is the longer one; None when both are equally long."""
        chosen, rejected = self.lengths.get(pair.chosen_id, 0), self.lengths.get(pair.rejected_id, 0)
        return None if chosen == rejected else chosen > rejected


def preference_data(catalog: Catalog, version: DatasetVersion) -> PreferenceData:
    params = [version.name, version.version]
    build = build_pairs(catalog, version.name, version.version)
    lengths = {sid: n or 0 for sid, n in catalog.query(_LENGTHS, params)}
    judgments = [JudgmentRow(*r) for r in catalog.query(_JUDGMENTS, params)]
    return PreferenceData([pair for pair, _ in build], frozenset(p.id for p, kept in build if kept), lengths, judgments)


# $1 = name, $2 = version. Over the build pairs: counts of (kept, decided, the chosen response longer).
_PAIR_LENGTHS = f"""
WITH bp AS ({BUILD_PAIRS.strip()}),
lens AS (
    SELECT bp.kept, bp.tie, coalesce(length(c.text), 0) AS chosen_len, coalesce(length(r.text), 0) AS rejected_len
    FROM bp LEFT JOIN samples c ON c.id = bp.chosen_id LEFT JOIN samples r ON r.id = bp.rejected_id
)
SELECT kept, NOT tie AND chosen_len <> rejected_len AS decided, chosen_len > rejected_len AS chosen_longer, count(*)
FROM lens GROUP BY ALL
"""

# $1 = name, $2 = version. The build's judgments, counted by judge, status, verdict and which response shown
# was longer (NULL: equally long, or a pointwise rating).
_JUDGMENT_COUNTS = f"""
WITH vp AS ({BUILD_PAIRS.strip()}),
links AS (SELECT DISTINCT unnest(from_json(judgment_ids, '["VARCHAR"]')) AS jid FROM vp)
SELECT j.judge, j.status, j.verdict,
       CASE WHEN j.second_id IS NULL OR length(f.text) IS NOT DISTINCT FROM length(s.text) THEN NULL
            ELSE coalesce(length(f.text), 0) > coalesce(length(s.text), 0) END AS first_longer,
       count(*)
FROM judgments j
JOIN links ON links.jid = j.id
LEFT JOIN samples f ON f.id = j.first_id
LEFT JOIN samples s ON s.id = j.second_id
GROUP BY ALL
"""


@dataclass(frozen=True)
class PreferenceCounts:
    """A preference version's report figures as counts computed in DuckDB (nothing per row reaches Python):
    `pairs` — (kept, decided, chosen longer) → build pairs (decided: not a tie and the responses' lengths differ);
    `judgments` — (judge, status, verdict, first shown longer or None) → judgments behind the build pairs."""

    pairs: dict[tuple[bool, bool, bool], int]
    judgments: dict[tuple[str, str, str | None, bool | None], int]


def preference_counts(catalog: Catalog, version: DatasetVersion) -> PreferenceCounts:
    params = [version.name, version.version]
    pairs = {(bool(k), bool(d), bool(c)): n for k, d, c, n in catalog.query(_PAIR_LENGTHS, params)}
    judgments = {(j, st, v, fl): n for j, st, v, fl, n in catalog.query(_JUDGMENT_COUNTS, params)}
    return PreferenceCounts(pairs, judgments)


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
