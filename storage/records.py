"""Reading records back from the catalog (imported judgments, a parent version's pairs), and writing imports."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel

from ..schemas.imported import ImportedJudgment
from ..schemas.preference import Judgment, PreferencePair, Prompt, Sample
from .catalog import Catalog

Record = TypeVar("Record", bound=BaseModel)
_JSON_COLUMNS = {"messages", "judgment_ids", "transcript"}


def to_record(model: type[Record], row: dict[str, Any]) -> Record:
    """The inverse of the catalog's row mapping: JSON columns parsed, `idx` back to `index`, NULLs dropped."""
    data = {}
    for key, value in row.items():
        if key in _JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        if value is not None or key == "second_id":
            data["index" if key == "idx" else key] = value
    return model.model_validate(data)


_IMPORTED = """
SELECT j.*, p.text AS _prompt, p.messages AS _messages,
       f.text AS _first_text, s.text AS _second_text
FROM judgments j
JOIN prompts p ON p.id = j.prompt_id
JOIN samples f ON f.id = j.first_id
JOIN samples s ON s.id = j.second_id
WHERE j.protocol = 'imported' AND j.judge = ?
ORDER BY j.id
"""


def imported_judgments(catalog: Catalog, judge: str) -> list[ImportedJudgment]:
    """Every imported judgment of `judge`, with the prompt (as displayed to judges) and both response texts."""
    out = []
    for row in catalog.query_dicts(_IMPORTED, [judge]):
        prompt_text = _display(row.pop("_prompt"), row.pop("_messages"))
        first, second = row.pop("_first_text"), row.pop("_second_text")
        out.append(ImportedJudgment(judgment=to_record(Judgment, row), prompt_text=prompt_text,
                                    first_text=first, second_text=second))
    return out


def _display(text: str, messages: str | None) -> str:
    """The same string `Prompt.display_text` gives, so imported prompts match the build's by text."""
    if messages is None:
        return text
    msgs = tuple(json.loads(messages))
    return Prompt(id="-", messages=msgs).display_text()


def imported_judges(catalog: Catalog) -> dict[str, int]:
    """Judge name → number of imported judgments in the catalog."""
    rows = catalog.query("SELECT judge, count(*) FROM judgments WHERE protocol = 'imported' GROUP BY judge")
    return dict(rows)


# $1 = name, $2 = version. A version's *build pairs*, the one definition of them: every pair its build aggregated,
# kept or dropped (dropped pairs are in `filter_decisions`), as the jury made it (a filter's change is a new pair
# whose `derived_from` names it); `kept` when it, or a pair a filter derived from it, is a row of the version.
BUILD_PAIRS = """
WITH rows_ AS (SELECT row_id FROM dataset_rows WHERE name = $1 AND version = $2),
kept AS (
    SELECT row_id AS id FROM rows_
    UNION SELECT derived_from FROM pairs WHERE id IN (SELECT row_id FROM rows_) AND derived_from IS NOT NULL
)
SELECT p.*, p.id IN (SELECT id FROM kept) AS kept
FROM pairs p
WHERE p.derived_from IS NULL
  AND p.id IN (SELECT pair_id FROM filter_decisions WHERE name = $1 AND version = $2 UNION SELECT id FROM kept)
"""


def build_pairs(catalog: Catalog, name: str, version: int) -> list[tuple[PreferencePair, bool]]:
    """A version's build pairs (`BUILD_PAIRS`) in id order, each with whether the version kept it."""
    rows = catalog.query_dicts(BUILD_PAIRS + "ORDER BY p.id", [name, version])
    return [(to_record(PreferencePair, {k: v for k, v in r.items() if k != "kept"}), bool(r["kept"])) for r in rows]


def version_pairs(catalog: Catalog, name: str, version: int) -> list[PreferencePair]:
    """Every pair a version's build aggregated (kept or dropped), as the jury made it (before any filter changed it)."""
    return [pair for pair, _kept in build_pairs(catalog, name, version)]


def latest_version(catalog: Catalog, name: str) -> int | None:
    return catalog.query("SELECT max(version) FROM dataset_versions WHERE name = ?", [name])[0][0]


def write_imported(catalog: Catalog, prompts: list[Prompt], samples: list[Sample], judgments: list[Judgment]) -> int:
    """Store an import in one transaction; returns how many judgments were new (same content = same id)."""
    with catalog.transaction():
        before = catalog.query("SELECT count(*) FROM judgments")[0][0]
        catalog.insert_records("prompts", prompts)
        catalog.insert_records("samples", samples)
        catalog.insert_records("judgments", judgments)
        return catalog.query("SELECT count(*) FROM judgments")[0][0] - before
