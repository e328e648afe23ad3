"""What a build's verifier juror found, and every other juror measured against it where its verdict is known.

On a pair the verifier *decided* (one response's final answer correct, the other's wrong: tasks/judge/verifier.py)
the better response is known, so each other juror's readings can be scored: *right* when it favours the correct
response, *wrong* when it favours the wrong one, *tie*, or *no verdict* (a parse error or failed call). Split by
the order shown — the correct response as A (first) or as B (second) — the two rates expose position bias: a
judge that always prefers A is right every time the correct answer is shown first and never when it is second.
Its *vote* (orders averaged, as the jury counts it: tasks/judge/votes.py) is for the correct response, for the
wrong one, or an abstention. Pure functions over records; the build stores the result in its stats.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from ...schemas.preference import Judgment, PreferencePair
from .verifier import PROTOCOL
from .votes import by_juror, votes_for

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


def verifier_figures(pairs: list[CheckedPair]) -> dict | None:
    """Counts of the verifier's checks and each other juror against its decided pairs; None without a verifier.

    `checked`: pairs it judged (their prompt has a reference); `decided`: one correct and one wrong;
    `both_correct` / `neither_correct` (abstained); `unknown` (a check timed out or failed, a response was cut);
    `kept` decided pairs in the version, `kept_chosen_correct` of those whose chosen response is the correct one.
    """
    counts: Counter = Counter()
    judges: dict[str, Counter] = defaultdict(Counter)
    for p in pairs:
        mine = [j for j in p.judgments if j.protocol == PROTOCOL]
        if not mine:
            continue
        counts["checked"] += 1
        v = mine[0]
        if v.status != "ok":
            counts["unknown"] += 1
            continue
        if v.score_a == v.score_b:
            counts["both_correct" if v.score_a == 1 else "neither_correct"] += 1
            continue
        counts["decided"] += 1
        correct, wrong = (v.first_id, v.second_id) if (v.score_a or 0) > (v.score_b or 0) else (v.second_id, v.first_id)
        if p.kept:
            counts["kept"] += 1
            counts["kept_chosen_correct"] += p.chosen_id == correct
        _score_others(judges, correct, wrong, [j for j in p.judgments if j.protocol != PROTOCOL])
    if not counts["checked"]:
        return None
    keys = ("checked", "decided", "both_correct", "neither_correct", "unknown", "kept", "kept_chosen_correct")
    return {**{k: counts[k] for k in keys}, "judges": {name: _judge_figures(c) for name, c in sorted(judges.items())}}


def _score_others(judges: dict[str, Counter], correct: str, wrong: str, judgments: list[Judgment]) -> None:
    x, y = SimpleNamespace(id=correct), SimpleNamespace(id=wrong)  # votes_for reads only the ids
    readings = votes_for(x, y, judgments)
    for r in readings:
        outcome = "no_verdict" if r.margin is None else "right" if r.margin > 0 else "wrong" if r.margin < 0 else "tie"
        judges[r.judge][f"{_SLOTS[r.slot]}.{outcome}"] += 1
    for vote in by_juror(readings):
        judges[vote.judge]["vote." + ("abstain" if vote.vote is None else "correct" if vote.vote > 0 else "wrong")] += 1


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


def verifier_section(pairs: list[PreferencePair], by_pair: list[list[Judgment]], kept: list[PreferencePair]) -> dict:
    """The build stats' `verifier` entry, or nothing when the jury has no verifier."""
    figures = verifier_figures(build_pairs(pairs, by_pair, kept))
    return {} if figures is None else {"verifier": figures}
