"""Final-answer extraction and a plain numeric comparison.

Formats: GSM8K's `#### 42`, LaTeX `\\boxed{...}` (nested braces), and "The answer is 42". Numbers compare as
exact fractions after normalisation (thousands commas, `$`, a trailing period, `42.0 == 42`, `3/4 == 0.75`,
`\\frac{3}{4}`); anything else compares as a whitespace-free, case-folded string. Never by substring: the public
OmegaPRM code accepts a rollout when the gold answer occurs anywhere in its last sentence, so gold 4 "matches"
42. Symbolic equivalence (math-verify) is layered on top of this by the caller, in a process pool.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

from ..schemas.process import CheckStatus

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_GSM8K = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*([^\n]+)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_LATEX_FRAC = re.compile(r"^([+-]?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}$")
_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{(.*)\}$")


class AnswerCheck(NamedTuple):
    final_answer: str | None
    status: CheckStatus


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), braces balanced; None if absent or unclosed."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start:i].strip()
    return None


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: last `\\boxed{}`, else last `####` line, else last "answer is ..."."""
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed or None
    for pattern in (_GSM8K, _ANSWER_IS):
        matches = pattern.findall(text)
        if matches:
            answer = _SENTENCE_END.split(matches[-1], maxsplit=1)[0]
            return _strip_decoration(answer) or None
    return None


def normalize_number(answer: str) -> Fraction | None:
    """The exact value of a plain numeric answer, or None if it is not one."""
    s = _strip_decoration(answer)
    s = s.replace("\\!", "").replace("\\,", "").replace("{,}", ",")
    frac = _LATEX_FRAC.match(s)
    if frac:
        sign, num, den = frac.groups()
        s = f"{sign}{num.strip()}/{den.strip()}"
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    s = re.sub(r"\s+", "", s)
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)(/[+-]?\d+)?", s):
        return None  # rejects "1,2", "inf", "3x", "1e3": not plain numbers
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def answers_match(predicted: str | None, gold: str) -> bool:
    """Exact equality after normalisation: numerically when both are numbers, else as normalised strings."""
    if predicted is None:
        return False
    pred_num, gold_num = normalize_number(predicted), normalize_number(gold)
    if pred_num is not None and gold_num is not None:
        return pred_num == gold_num
    if pred_num is not None or gold_num is not None:
        return False
    return _canonical_text(predicted) == _canonical_text(gold)


def check_answer(solution_text: str, gold: str) -> AnswerCheck:
    """Extract the final answer of a solution and compare it with the gold answer."""
    final = extract_answer(solution_text)
    if final is None:
        return AnswerCheck(None, "unparseable")
    return AnswerCheck(final, "correct" if answers_match(final, gold) else "incorrect")


def _strip_decoration(answer: str) -> str:
    """Drop what surrounds an answer without changing it: spaces, `$`/`\\$`, `\\text{}`, a final period."""
    s = answer.strip()
    while True:
        before = s
        s = s.replace("\\$", "").strip().strip("$").strip()
        wrapped = _TEXT_WRAPPER.match(s)
        if wrapped:
            s = wrapped.group(1).strip()
        if s.endswith(".") and not s.endswith(".."):
            s = s[:-1].rstrip()
        if s == before:
            return s


def _canonical_text(answer: str) -> str:
    return re.sub(r"\s+", "", _strip_decoration(answer)).casefold()
