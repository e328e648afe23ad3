"""Rationale datasets: reading items (the eval-judge gold format, label optional, or math items with a gold
answer) and reading a version's pairs and SFT rows back for export.

Exported replies are each judgment's rationale plus a rebuilt `Verdict: [[X]]` line (tasks.rationalize.
training_reply), not the stored raw text: a re-asked judgment's raw text is the cut reply, a `[re-ask]` marker
and the bare verdict, which is no reply a judge should learn to write."""

from __future__ import annotations

import json
from pathlib import Path

from ..schemas.dataset import DatasetVersion
from ..schemas.ids import content_id
from ..schemas.rationale import RationaleInput
from ..tasks.rationalize import training_reply
from .catalog import Catalog
from .inputs import InputError, read_rows

_LABELS = ("A>B", "B>A")


def load_rationale_inputs(path: Path | str, fmt: str = "auto") -> list[RationaleInput]:
    """Lines with `prompt`, `response_a`, `response_b`, optional `label` (A>B | B>A), `gold_answer`, `source`."""
    path = Path(path)
    items: dict[tuple, RationaleInput] = {}
    for lineno, row in read_rows(path, fmt):
        for field in ("prompt", "response_a", "response_b"):
            value = row.get(field)
            if not isinstance(value, str) or not value.strip():
                problem = "missing" if value is None else "empty" if isinstance(value, str) else (
                    f"expected a string, got {type(value).__name__}")
                raise InputError(path, lineno, field, problem)
        label = row.get("label")
        if label is not None and label not in _LABELS:
            raise InputError(path, lineno, "label", f"expected one of {', '.join(_LABELS)}, got {label!r}")
        gold = row.get("gold_answer")
        if gold is not None and not isinstance(gold, (str, int, float)):
            raise InputError(path, lineno, "gold_answer", f"expected a string or number, got {type(gold).__name__}")
        item = RationaleInput(
            prompt_id=content_id("text", row["prompt"]), prompt_text=row["prompt"], response_a=row["response_a"],
            response_b=row["response_b"], label=label, gold_answer=None if gold is None else str(gold),
            source=str(row.get("source") or f"{path.name}:{lineno}"),
        )
        items.setdefault((item.prompt_text, item.response_a, item.response_b), item)
    if not items:
        raise InputError(path, None, None, "no items in the file")
    return list(items.values())


_PAIRS = """
SELECT i.judging_messages, c.rationale AS chosen, c.verdict AS chosen_verdict, r.rationale AS rejected,
       r.verdict AS rejected_verdict, i.id AS item_id, i.judge, i.reference, i.reference_source, p.rank
FROM dataset_rows d
JOIN rationale_items i ON i.id = d.row_id
JOIN rationale_pairs p ON p.item_id = i.id
JOIN judgments c ON c.id = p.chosen_id
JOIN judgments r ON r.id = p.rejected_id
WHERE d.name = ? AND d.version = ?
ORDER BY d.ord, p.rank
"""
_SFT = """
SELECT i.judging_messages, b.rationale AS reply, b.verdict, i.id AS item_id, i.judge, i.reference_source
FROM dataset_rows d
JOIN rationale_items i ON i.id = d.row_id
JOIN judgments b ON b.id = i.best_id
WHERE d.name = ? AND d.version = ?
ORDER BY d.ord
"""


def rationale_pair_rows(catalog: Catalog, version: DatasetVersion) -> list[dict]:
    """TRL preference rows, conversational: prompt = the judging messages (responses in the order shown),
    chosen/rejected = judge replies (rationale + verdict line)."""
    rows = catalog.query_dicts(_PAIRS, [version.name, version.version])
    return [
        {
            "prompt": json.loads(r["judging_messages"]),
            "chosen": [{"role": "assistant", "content": training_reply(r["chosen"], r["chosen_verdict"])}],
            "rejected": [{"role": "assistant", "content": training_reply(r["rejected"], r["rejected_verdict"])}],
            "item_id": r["item_id"], "judge": r["judge"], "reference": r["reference"],
            "reference_source": r["reference_source"], "rank": r["rank"],
        }
        for r in rows
    ]


def rationale_sft_rows(catalog: Catalog, version: DatasetVersion) -> list[dict]:
    """TRL SFT rows (`messages`): the judging prompt, then the best agreed judgment (rationale + verdict line) as
    the assistant turn."""
    rows = catalog.query_dicts(_SFT, [version.name, version.version])
    return [
        {
            "messages": [*json.loads(r["judging_messages"]),
                         {"role": "assistant", "content": training_reply(r["reply"], r["verdict"])}],
            "item_id": r["item_id"], "judge": r["judge"], "reference_source": r["reference_source"],
        }
        for r in rows
    ]
