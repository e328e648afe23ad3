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


_VERSION_PAIRS = """
SELECT DISTINCT p.* FROM pairs p
WHERE p.derived_from IS NULL AND p.id IN (
    SELECT pair_id FROM filter_decisions WHERE name = ? AND version = ?
    UNION SELECT row_id FROM dataset_rows WHERE name = ? AND version = ?
    UNION SELECT derived_from FROM pairs WHERE id IN (SELECT row_id FROM dataset_rows WHERE name = ? AND version = ?)
)
ORDER BY p.id
"""


def version_pairs(catalog: Catalog, name: str, version: int) -> list[PreferencePair]:
    """Every pair a version's build aggregated (kept or dropped), as the jury made it (before any filter changed it)."""
    params = [name, version] * 3
    return [to_record(PreferencePair, r) for r in catalog.query_dicts(_VERSION_PAIRS, params)]


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
