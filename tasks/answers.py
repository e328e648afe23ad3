"""Final-answer extraction and an exact numeric comparison after normalisation.

Extraction: the answer marker that comes *last* in the text wins, whatever its format — LaTeX `\\boxed{...}`
(nested braces), GSM8K's `#### 42`, or "The answer is 42" — so a solution that boxes 7 and then concludes "The
answer is 8." answers 8. A last `\\boxed{` that never closes means the answer was cut off: no answer (unknown),
never an earlier one. A sentence that talks about the answer without stating one ("the answer is correct", "...
is not 6", "isn't") is not a marker.

Comparison: numbers compare as exact fractions after normalisation. Value-preserving decoration makes a *plain
number* (`is_plain_number`): thousands commas, `$`, `\\text{}`, `**bold**`, `{42}`, a Unicode minus (U+2212), a
final period, `42.0 == 42`, `3/4 == 0.75`, `\\frac{3}{4}`, `\\frac12`. `normalize_number` also drops what states a
number without changing it: a trailing unit (`5 cm`, `5\\text{ cm}`, `18 dollars`), `%`, `^\\circ`, a leading
`x =`, a trailing ellipsis (`3.14159...`); words that change the value (`5 million`, `2 pi`) are kept, so those
are not numbers. Anything else compares as a whitespace-free, case-folded string. Never by substring: the public
OmegaPRM code accepts a rollout when the gold answer occurs anywhere in its last sentence, so gold 4 "matches" 42.
Symbolic equivalence (math-verify) is layered on top of this by `tasks/verify.AnswerChecker`, in a process pool.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

from ..schemas.process import CheckStatus

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_GSM8K = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"answer\s+is(?![\w'\u2019])\s*:?\s*", re.IGNORECASE)
# "... the answer is correct." talks about an answer, it does not state one: such a sentence is no answer marker.
_NOT_AN_ANSWER = frozenset(
    "correct incorrect right wrong not indeed clear clearly as that this the a an to in therefore also still "
    "probably likely definitely below above follows given same unknown".split()
)
# A sentence ends at a period followed by a space or the end, but not inside an ellipsis ("3.14159...").
_SENTENCE_END = re.compile(r"(?<!\.)\.(?!\.)(?=\s|$)")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_LATEX_FRAC = re.compile(r"^([+-]?)\\[dt]?frac\s*(?:\{([^{}]+)\}|(\d))\s*(?:\{([^{}]+)\}|(\d))$")
_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{(.*)\}$")
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(/[+-]?\d+)?")
_MINUS = "\u2212"  # "−", as models and LaTeX-to-Unicode renderers write a minus sign

# What may follow or precede a number without changing its value (normalize_number only).
_ELLIPSIS = re.compile(r"(\.\.\.|\u2026|\\ldots|\\dots|\\cdots)$")
_DEGREES = re.compile(r"(\^\s*\\circ|\^\s*\{\s*\\circ\s*\}|\u00b0)$")
_PERCENT = re.compile(r"(\\%|%)$")
_LATEX_UNIT = re.compile(r"\s*(?:\\[,;:! ])?\s*\\(?:text|mathrm|mbox|textrm)\s*\{\s*([A-Za-z][A-Za-z .]*)\}(\^\{?\d\}?)?$")
_WORD_UNIT = re.compile(r"\s+([A-Za-z]{2,}(?:\s+[A-Za-z]{2,}){0,2})\.?$")
_VARIABLE_IS = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*")
# Words after a number that change its value or make it an expression: never dropped as units.
_NOT_UNITS = frozenset(
    "pi hundred hundreds thousand thousands million millions billion billions trillion dozen dozens half halves "
    "third thirds quarter quarters squared cubed times plus minus over sqrt root roots or and to".split()
)


class AnswerCheck(NamedTuple):
    final_answer: str | None
    status: CheckStatus


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), braces balanced; None if absent or if it is unclosed."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    return _balanced(text, starts[-1]) if starts else None


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: the answer of whichever marker comes last (`\\boxed{}`, `####`, "answer
    is ..."); None when there is none, or when the last one is empty or cut off."""
    candidates = _answer_candidates(text)
    if not candidates:
        return None
    _, answer = max(candidates, key=lambda c: c[0])
    return answer or None


def _answer_candidates(text: str) -> list[tuple[int, str | None]]:
    """(position of the marker, its answer or None when cut off) for every answer marker in the text."""
    found: list[tuple[int, str | None]] = [(m.start(), _balanced(text, m.end())) for m in _BOXED.finditer(text)]
    for m in _GSM8K.finditer(text):
        found.append((m.start(), _first_sentence(m.group(1))))
    for m in _ANSWER_IS.finditer(text):
        rest = text[m.end():].split("\n", 1)[0]
        if _BOXED.search(rest):  # "The answer is \boxed{5}": the box is its own, later, candidate
            continue
        first_word = re.match(r"[A-Za-z]*", rest).group(0).casefold()
        if first_word not in _NOT_AN_ANSWER:
            found.append((m.start(), _first_sentence(rest)))
    return found


def _balanced(text: str, start: int) -> str | None:
    """The text from `start` up to the brace that closes an already opened one, stripped; None if it never does."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i].strip()
    return None


def _first_sentence(answer: str) -> str:
    return _strip_decoration(_SENTENCE_END.split(answer, maxsplit=1)[0])


def normalize_number(answer: str) -> Fraction | None:
    """The exact value a numeric answer states (units, `%`, `^\\circ`, `x =`, a trailing ellipsis dropped), or
    None if it does not state one number."""
    return _value(_drop_value_neutral(_strip_decoration(answer)))


def is_plain_number(answer: str) -> bool:
    """True when the answer is only a number (decoration allowed, but no unit, `%`, variable or ellipsis)."""
    return _value(_strip_decoration(answer)) is not None


def answers_match(predicted: str | None, gold: str) -> bool:
    """Exact equality after normalisation: numerically when both state a number, else as normalised strings."""
    if predicted is None:
        return False
    pred_num, gold_num = normalize_number(predicted), normalize_number(gold)
    if pred_num is not None and gold_num is not None:
        return pred_num == gold_num
    if pred_num is not None or gold_num is not None:
        return False
    return _canonical_text(predicted) == _canonical_text(gold)


def check_answer(solution_text: str, gold: str) -> AnswerCheck:
    """Extract the final answer of a solution and compare it with the gold answer (exact only, no math-verify)."""
    final = extract_answer(solution_text)
    if final is None:
        return AnswerCheck(None, "unparseable")
    return AnswerCheck(final, "correct" if answers_match(final, gold) else "incorrect")


def _value(s: str) -> Fraction | None:
    """The value of a number written plainly (`1,234`, `-3/4`, `\\frac{3}{4}`, `.5`), else None."""
    s = s.replace("\\!", "").replace("\\,", "").replace("{,}", ",")
    frac = _LATEX_FRAC.match(s)
    if frac:
        sign, num_braced, num_digit, den_braced, den_digit = frac.groups()
        s = f"{sign}{(num_braced or num_digit).strip()}/{(den_braced or den_digit).strip()}"
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    s = re.sub(r"\s+", "", s)
    if not _PLAIN.fullmatch(s):
        return None  # rejects "1,2", "inf", "3x", "1e3": not plain numbers
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _drop_value_neutral(s: str) -> str:
    """Drop what states a number without changing it: a leading `x =`, then trailing units, `%`, degrees, `...`."""
    s = _VARIABLE_IS.sub("", s, count=1)
    while True:
        before = s
        s = _ELLIPSIS.sub("", s).rstrip()
        s = _DEGREES.sub("", s).rstrip()
        s = _PERCENT.sub("", s).rstrip()
        s = _LATEX_UNIT.sub("", s).rstrip()
        unit = _WORD_UNIT.search(s)
        if unit and not _NOT_UNITS.intersection(unit.group(1).casefold().split()):
            s = s[: unit.start()].rstrip()
        s = _strip_decoration(s)
        if s == before:
            return s


def _strip_decoration(answer: str) -> str:
    """Drop what surrounds an answer without changing it: spaces, `$`/`\\$`, `\\text{}`, `**bold**`, `{...}`, a
    final period; a Unicode minus becomes `-`."""
    s = answer.strip().replace(_MINUS, "-")
    while True:
        before = s
        s = s.replace("\\$", "").strip().strip("$").strip()
        wrapped = _TEXT_WRAPPER.match(s)
        if wrapped:
            s = wrapped.group(1).strip()
        if s.startswith("**") and s.endswith("**") and len(s) > 4:
            s = s[2:-2].strip()
        s = s.rstrip("*").strip() if s.endswith("**") and "**" not in s[:-2] else s  # "**The answer is 18**"
        if s.startswith("{") and s.endswith("}") and _balanced(s, 1) == s[1:-1].strip():
            s = s[1:-1].strip()
        if s.endswith(".") and not s.endswith(".."):
            s = s[:-1].rstrip()
        if s == before:
            return s


def _canonical_text(answer: str) -> str:
    return re.sub(r"\s+", "", _strip_decoration(answer)).casefold()
