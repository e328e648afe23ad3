"""What a build's verifier juror found, and every other juror measured against it where its verdict is known.

On a pair the verifier *decided* (one response's final answer correct, the other's wrong: tasks/judge/verifier.py)
the better response is known, so each other juror's readings can be scored: *right* when it favours the correct
response, *wrong* when it favours the wrong one, *tie*, or *no verdict* (a parse error or failed call). Split by
the order shown — the correct response as A (first) or as B (second) — the two rates expose position bias: a
judge that always prefers A is right every time the correct answer is shown first and never when it is second.
Readings and votes are read with the build's `Jury` (score ranges, `abstain_below`, weights), the way the jury
counted them: a score difference below a juror's threshold is no verdict, and its *vote* (orders averaged:
tasks/judge/votes.py) is for the correct response, for the wrong one, or an abstention — which is also what a
weight-0 juror's vote is (recorded, not counted; its readings are still scored). The verifier's own outcome is
read by `verifier_outcome` (tasks/judge/verifier.py), as the `verified` filter reads it. Pure functions over
records; the build stores the result in its stats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from ...schemas.preference import Judgment, PreferencePair
from .verifier import PROTOCOL, verifier_outcome
from .votes import Jury, by_juror, votes_for

_SLOTS = {"xy": "correct_first", "yx": "correct_second", "scores": "scores"}


@dataclass(frozen=True)
class CheckedPair:
    """A judged pair: the response its final label prefers, whether the version keeps it, all its judgments."""

    chosen_id: str
    kept: bool
    judgments: list[Judgment]


def build_pairs(pairs: list[PreferencePair], by_pair: list[list[Judgment]],
                kept: list[PreferencePair]) -> list[CheckedPair]:
    """The jury's pairs with the label they ended with: a kept pair a filter changed (a flip) counts as kept."""
    final = {p.derived_from or p.id: p for p in kept}
    return [CheckedPair((final.get(p.id) or p).chosen_id, p.id in final, js)
            for p, js in zip(pairs, by_pair, strict=True)]


def verifier_figures(pairs: list[CheckedPair], jury: Jury | None = None) -> dict | None:
    """Counts of the verifier's checks and each other juror against its decided pairs; None without a verifier.

    `checked`: pairs it judged (their prompt has a reference); `decided`: one correct and one wrong;
    `both_correct` / `neither_correct` (abstained); `unknown` (a check timed out or failed, a response was cut);
    `kept` decided pairs in the version, `kept_chosen_correct` of those whose chosen response is the correct one.
    Other jurors are read with `jury` (the build's; default: every juror weight 1, no range, no threshold).
    """
    counts: Counter = Counter()
    judges: dict[str, Counter] = defaultdict(Counter)
    for p in pairs:
        found = verifier_outcome(p.judgments)
        if found.kind == "not_checked":
            continue
        counts["checked"] += 1
        if found.kind != "decided":
            counts[found.kind] += 1
            continue
        counts["decided"] += 1
        if p.kept:
            counts["kept"] += 1
            counts["kept_chosen_correct"] += p.chosen_id == found.correct_id
        others = [j for j in p.judgments if j.protocol != PROTOCOL]
        _score_others(judges, found.correct_id, found.wrong_id, others, jury or Jury())
    if not counts["checked"]:
        return None
    keys = ("checked", "decided", "both_correct", "neither_correct", "unknown", "kept", "kept_chosen_correct")
    return {**{k: counts[k] for k in keys}, "judges": {name: _judge_figures(c) for name, c in sorted(judges.items())}}


def _score_others(judges: dict[str, Counter], correct: str, wrong: str, judgments: list[Judgment], jury: Jury) -> None:
    x, y = SimpleNamespace(id=correct), SimpleNamespace(id=wrong)  # votes_for reads only the ids
    readings = votes_for(x, y, judgments, jury)
    for r in readings:
        outcome = "no_verdict" if r.margin is None else "right" if r.margin > 0 else "wrong" if r.margin < 0 else "tie"
        judges[r.judge][f"{_SLOTS[r.slot]}.{outcome}"] += 1
    for vote in by_juror(readings, jury):
        counted = vote.vote is not None and vote.weight > 0  # as the jury's tally counts it
        judges[vote.judge]["vote." + ("abstain" if not counted else "correct" if vote.vote > 0 else "wrong")] += 1


def _judge_figures(c: Counter) -> dict:
    """Per reading slot: right / wrong / tie / no verdict and the rate right among verdicts; votes by side."""
    out: dict = {}
    for slot in _SLOTS.values():
        got = {k: c[f"{slot}.{k}"] for k in ("right", "wrong", "tie", "no_verdict")}
        verdicts = got["right"] + got["wrong"] + got["tie"]
        if verdicts or got["no_verdict"]:
            out[slot] = {**got, "right_rate": round(got["right"] / verdicts, 4) if verdicts else None}
    out["votes"] = {k: c[f"vote.{k}"] for k in ("correct", "wrong", "abstain")}
    return out


def position_bias(figures: dict) -> float | None:
    """Right rate with the correct response shown first minus shown second (−1..1; 0: no position bias seen)."""
    first, second = figures.get("correct_first"), figures.get("correct_second")
    if not first or not second or first["right_rate"] is None or second["right_rate"] is None:
        return None
    return round(first["right_rate"] - second["right_rate"], 4)


def verifier_section(pairs: list[PreferencePair], by_pair: list[list[Judgment]], kept: list[PreferencePair],
                     jury: Jury | None = None) -> dict:
    """The build stats' `verifier` entry (other jurors read with the build's `jury`), or nothing when the jury
    has no verifier."""
    figures = verifier_figures(build_pairs(pairs, by_pair, kept), jury)
    return {} if figures is None else {"verifier": figures}
