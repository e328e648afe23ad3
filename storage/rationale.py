"""Rationale datasets: reading items (the eval-judge gold format, label optional, or math items with a gold
answer). Their exports are in storage/formats/rationale.py."""

from __future__ import annotations

from pathlib import Path

from ..schemas.ids import content_id
from ..schemas.rationale import RationaleInput
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

