"""Splitting a solution into steps with exact character offsets.

A step is its content plus the separator that follows it, so `"".join(steps) == text` and `"".join(steps[:i])`
is, byte for byte, the prefix a policy is asked to continue. Separators found before any content belong to
the first step; trailing whitespace after the last separator belongs to the last step, so no step is blank.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from ..schemas.process import DEFAULT_STEP_SEPARATOR, Step, split_id


def step_spans(text: str, separator: str = DEFAULT_STEP_SEPARATOR) -> list[tuple[int, int]]:
    """(start, end) offsets of each step of `text`; consecutive spans tile the whole text."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in re.finditer(separator, text):
        # Zero-width separators (lookaheads such as r"(?=Step \d+:)") cut too; no step may be blank.
        if not text[start : match.start()].strip():
            continue  # no content yet: the separator is leading whitespace of the step being built
        spans.append((start, match.end()))
        start = match.end()
    if start < len(text):
        if text[start:].strip() or not spans:
            spans.append((start, len(text)))
        else:
            spans[-1] = (spans[-1][0], len(text))
    return spans


def split_steps(text: str, separator: str = DEFAULT_STEP_SEPARATOR) -> list[str]:
    """The step texts of `text`, separators included."""
    return [text[a:b] for a, b in step_spans(text, separator)]


def make_steps(solution_id: str, text: str, separator: str = DEFAULT_STEP_SEPARATOR) -> list[Step]:
    """`Step` records of a solution text."""
    spans = step_spans(text, separator)
    split = split_id([b for _, b in spans])
    return [
        Step(solution_id=solution_id, split_id=split, index=i, text=text[a:b], start=a, end=b)
        for i, (a, b) in enumerate(spans)
    ]


def steps_from_texts(solution_id: str, step_texts: Sequence[str]) -> list[Step]:
    """`Step` records for an already split text (e.g. a prefix's steps followed by a completion's steps)."""
    ends = list(itertools.accumulate(len(piece) for piece in step_texts))
    split = split_id(ends)
    return [
        Step(solution_id=solution_id, split_id=split, index=i, text=piece, start=end - len(piece), end=end)
        for i, (piece, end) in enumerate(zip(step_texts, ends, strict=True))
    ]


def is_default_split(text: str, steps: Sequence[Step]) -> bool:
    """Whether `steps` cut `text` where the default separator does. A labelled row on any other split names its
    split in its id (schemas/process.py `LabelledSolution.create`)."""
    return [s.end for s in steps] == [b for _, b in step_spans(text)]


def completion_steps(completion: str, separator: str = DEFAULT_STEP_SEPARATOR) -> tuple[str, ...]:
    """Steps of a policy continuation of a step-aligned prefix; a blank continuation has none.

    The continuation is split on its own (not re-split together with the prefix) so the prefix's steps stay
    exactly the ones that were sent, even if the continuation starts with stray newlines."""
    return tuple(split_steps(completion, separator)) if completion.strip() else ()


def prefix_of(steps: Sequence[Step] | Sequence[str], n: int) -> str:
    """The text of the first `n` steps."""
    return "".join(s if isinstance(s, str) else s.text for s in steps[:n])
