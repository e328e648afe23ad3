"""Reading math problems (question + gold answer) with errors that name the file, line and field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from ..schemas.process import Problem
from .inputs import InputError, read_rows

AnswerFormat = Literal["plain", "gsm8k"]


def gold_from(value: object, fmt: AnswerFormat) -> str | None:
    """The gold final answer of a row's answer field: as given, or (GSM8K) the text after the last `####`."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    text = str(value)
    if fmt == "gsm8k":
        if "####" not in text:
            return None
        text = text.rsplit("####", 1)[1]
    text = text.strip().replace(",", "") if fmt == "gsm8k" else text.strip()
    return text or None


def load_problems(
    path: Path | str,
    question_field: str = "question",
    answer_field: str = "answer",
    answer_format: AnswerFormat = "plain",
    fmt: str = "auto",
) -> list[Problem]:
    """Problems in file order; identical (question, gold) pairs are kept once."""
    path = Path(path)
    problems: dict[str, Problem] = {}
    for lineno, row in read_rows(path, fmt):
        question = row.get(question_field)
        if not isinstance(question, str) or not question.strip():
            problem = "missing" if question is None else "empty question" if isinstance(question, str) else (
                f"expected a string, got {type(question).__name__}")
            raise InputError(path, lineno, question_field, problem)
        if row.get(answer_field) in (None, ""):
            raise InputError(path, lineno, answer_field, "missing gold answer")
        if isinstance(row[answer_field], float) and not math.isfinite(row[answer_field]):
            raise InputError(path, lineno, answer_field, f"gold answer is not a finite number ({row[answer_field]})")
        gold = gold_from(row[answer_field], answer_format)
        if gold is None:
            hint = " (GSM8K answers end with '#### N')" if answer_format == "gsm8k" else ""
            raise InputError(path, lineno, answer_field, f"no gold answer in {row[answer_field]!r:.60}{hint}")
        p = Problem.create(question.strip(), gold, source=f"{path.name}:{lineno}")
        problems.setdefault(p.id, p)
    if not problems:
        raise InputError(path, None, None, "no problems in the file")
    return list(problems.values())
