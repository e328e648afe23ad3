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
