"""Parsing judge replies: the verdict must be the judge's own last line, never a marker quoted from a response.

Only the last non-empty line of the reply is read (end-anchored), so a response under judgment that contains
"Verdict: [[A>>B]]" cannot decide anything unless the judge itself ends with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .prompts import VERDICTS

_LABEL = "|".join(re.escape(v) for v in sorted(VERDICTS, key=len, reverse=True))
_LAST_LINE = re.compile(
    rf"^[\s*_#>-]*(?:final\s+)?(?:verdict\s*[:=]?\s*)?[*_]*\s*\[\[\s*({_LABEL})\s*\]\][\s*_.]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedVerdict:
    verdict: str | None  # one of VERDICTS, or None when the reply has no readable verdict
    rationale: str


def parse_pairwise(reply: str) -> ParsedVerdict:
    """The verdict on the reply's last non-empty line, and the text before it as the rationale."""
    lines = reply.rstrip().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ParsedVerdict(None, "")
    match = _LAST_LINE.match(lines[-1].strip())
    if not match:
        return ParsedVerdict(None, reply.strip())
    return ParsedVerdict(_canonical(match.group(1)), "\n".join(lines[:-1]).strip())


def parse_choice(reply: str) -> str | None:
    """A re-ask reply: exactly one bracketed verdict and nothing else."""
    parsed = parse_pairwise(reply)
    return parsed.verdict if parsed.verdict and not parsed.rationale else None


def _canonical(label: str) -> str:
    return label.upper().replace(" ", "")


_SCORE_LINE = re.compile(
    r"^[\s*_#>-]*(?:final\s+)?(?:score|\[result\])\s*[:=]?\s*[*_]*\s*(\d+)\s*(?:/\s*(\d+))?[\s*_.]*$", re.I
)
# Prometheus' own output form puts feedback and result on one line: "Feedback: … [RESULT] 4" (Kim et al. 2023).
_RESULT_TAIL = re.compile(r"^(.*?)\s*\[result\]\s*[:=]?\s*[*_]*\s*(\d+)\s*(?:/\s*(\d+))?[\s*_.]*$", re.I)
_SCORES_LINE = re.compile(
    r"^[\s*_#>-]*scores?\s*[:=]?\s*[*_]*\s*A\s*[:=]\s*(\d+)\s*[,;]?\s*B\s*[:=]\s*(\d+)[\s*_.]*$", re.IGNORECASE
)


@dataclass(frozen=True)
class ParsedScore:
    score: int | None  # within [low, high], or None when the reply has no readable, in-range score
    rationale: str


def _last_line(reply: str) -> tuple[str, str] | None:
    """(last non-empty line, the text before it), or None for an empty reply."""
    lines = reply.rstrip().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return (lines[-1].strip(), "\n".join(lines[:-1]).strip()) if lines else None


def parse_score(reply: str, low: int, high: int) -> ParsedScore:
    """The score on the reply's last non-empty line, end-anchored: "Score: N", "[RESULT] N", or Prometheus'
    one-line "Feedback: … [RESULT] N" (the text before the marker joins the rationale).

    A score quoted from the response under judgment cannot decide: only the judge's own last line counts. A
    number outside [low, high] is no score at all, and so is "N/D" with a denominator D other than the rubric's
    maximum (`Score: 5/10` on a 1–5 rubric is a judge on the wrong scale, not a 5).
    """
    last = _last_line(reply)
    if last is None:
        return ParsedScore(None, "")
    line, before = last
    match = _SCORE_LINE.match(line)
    rationale = before
    if not match:
        match = _RESULT_TAIL.match(line)
        if not match:
            return ParsedScore(None, reply.strip())
        rationale = "\n".join(t for t in (before, match.group(1).strip()) if t)
        score, out_of = match.group(2), match.group(3)
    else:
        score, out_of = match.group(1), match.group(2)
    if not low <= int(score) <= high or (out_of is not None and int(out_of) != high):
        return ParsedScore(None, reply.strip())
    return ParsedScore(int(score), rationale)


def parse_score_choice(reply: str, low: int, high: int) -> int | None:
    """A constrained re-ask reply: the score line alone."""
    parsed = parse_score(reply, low, high)
    return parsed.score if parsed.score is not None and not parsed.rationale else None


def parse_scores(reply: str, low: int, high: int) -> tuple[int, int] | None:
    """A debate closing: "Scores: A=N, B=M" on the last non-empty line, both within [low, high]."""
    last = _last_line(reply)
    match = _SCORES_LINE.match(last[0]) if last else None
    if not match:
        return None
    a, b = int(match.group(1)), int(match.group(2))
    return (a, b) if low <= a <= high and low <= b <= high else None
