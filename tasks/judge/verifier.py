"""The verifier juror: a pair's two responses checked against the prompt's reference answer — no model call.

For a prompt with a reference answer (`prompts.reference_field`), each response's final answer is checked the
way label-steps checks a rollout (tasks/answers.py, tasks/verify.py): the last answer marker wins (`\\boxed{}`,
`#### 42`, "The answer is 42"), numbers compare as exact fractions after normalisation, and what is not a plain
number goes to math-verify in a worker process under a hard timeout. Each response is then
- correct;
- wrong: an incorrect answer, or no answer stated (`unparseable`: it never gave the reference answer);
- unknown: the check timed out or failed (`timeout`, `error`), or the response was cut at max_tokens
  (`truncated`: its answer is unknown, as a cut rollout's is).

The juror's one judgment on (x, y) carries the outcomes as scores, 1 correct and 0 wrong, on the score range
(0, 1): one correct and one wrong is a vote of ±2 for the correct one (tasks/judge/votes.py); both correct or
both wrong is a difference of 0, an abstention. An unknown outcome makes the judgment an `error` without
scores — also an abstention, never a vote against the response. A prompt without a reference gets no
judgment. This is how verifiable-reward preference pairs are made: a correct against an incorrect sampled
answer to the same question (Pang et al. 2024, "Iterative Reasoning Preference Optimization").
Each response is checked once, however many pairs it is in. `VerifierJudge` is the registry's "verifier";
`verifier_outcome` is the one reading of its judgment on a pair, shared by the `verified` filter and the
build's verifier figures (tasks/judge/verifier_stats.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol as TypingProtocol

from ...schemas.ids import content_id
from ...schemas.preference import Judgment, PreferencePair, Prompt, Sample
from ...schemas.process import UNKNOWN_STATUSES
from ...schemas.verifier import VerifierJudgeConfig
from ..answers import AnswerCheck
from ..verify import AnswerChecker
from .base import Calls, Pair, PairJudge

VERIFIER_VERSION = "verifier-v1"
PROTOCOL = "verifier"  # `Judgment.protocol` of the verifier's judgments


class Checker(TypingProtocol):
    def check(self, solution_text: str, gold: str) -> AnswerCheck: ...


@dataclass(frozen=True)
class Checked:
    """One response's check: label-steps' status and the final answer it found."""

    status: str  # correct, incorrect, unparseable (wrong); timeout, error, truncated (unknown)
    final_answer: str | None = None

    @property
    def correct(self) -> bool | None:
        """True / False, or None when the outcome is unknown (never counted as wrong)."""
        return None if self.status in UNKNOWN_STATUSES else self.status == "correct"


def judge_name(cfg: VerifierJudgeConfig) -> str:
    """The checking rule and its time limit (they decide what is correct and what is unknown)."""
    rule = "math-verify" if cfg.math_verify else "exact"
    return f"verifier|{VERIFIER_VERSION}|{rule}|timeout={cfg.timeout_s:g}s"


def check_sample(sample: Sample, reference: str, checker: Checker) -> Checked:
    """A response cut at max_tokens is unknown; any other is checked by its own final answer."""
    if sample.status == "truncated" or sample.finish_reason == "length":
        return Checked("truncated")
    found = checker.check(sample.text, reference)
    return Checked(found.status, found.final_answer)


def verify_pairs(cfg: VerifierJudgeConfig, judge: str, prompts: dict[str, Prompt],
                 pairs: list[tuple[Sample, Sample]], checker: Checker | None = None) -> list[list[Judgment]]:
    """For each pair, the verifier's judgment (none when its prompt has no reference). `checker` defaults to an
    `AnswerChecker` with the juror's math-verify setting and timeout, closed when done."""
    if checker is None:
        with AnswerChecker(cfg.timeout_s, cfg.math_verify) as own:
            return verify_pairs(cfg, judge, prompts, pairs, own)
    checked: dict[str, Checked] = {}

    def outcome(sample: Sample, reference: str) -> Checked:
        if sample.id not in checked:
            checked[sample.id] = check_sample(sample, reference, checker)
        return checked[sample.id]

    out: list[list[Judgment]] = []
    for x, y in pairs:
        reference = prompts[x.prompt_id].reference
        if reference is None:
            out.append([])
            continue
        out.append([to_judgment(judge, x, y, reference, outcome(x, reference), outcome(y, reference))])
    return out


def to_judgment(judge: str, x: Sample, y: Sample, reference: str, cx: Checked, cy: Checked) -> Judgment:
    """Scores 1 / 0 for correct / wrong when both outcomes are known; else an `error` naming the unknown side."""
    base = dict(prompt_id=x.prompt_id, judge=judge, protocol=PROTOCOL, first_id=x.id, second_id=y.id,
                rationale=explain(cx, cy, reference))
    unknown = [f"{side} {c.status}" for side, c in (("A", cx), ("B", cy)) if c.correct is None]
    if unknown:
        fields: dict = dict(status="error", error="answer check unknown: " + ", ".join(unknown))
    else:
        fields = dict(status="ok", score_a=float(cx.correct), score_b=float(cy.correct))
    return Judgment(id=content_id(VERIFIER_VERSION, base, reference, fields), **base, **fields)


_SAYS = {
    "correct": "correct", "incorrect": "wrong", "unparseable": "states no final answer (wrong)",
    "truncated": "was cut at max_tokens (unknown)", "timeout": "check timed out (unknown)",
    "error": "check failed (unknown)",
}


def explain(cx: Checked, cy: Checked, reference: str) -> str:
    """The judgment's rationale: each response's final answer and outcome, and the reference."""

    def one(side: str, c: Checked) -> str:
        answer = f" answer {c.final_answer!r}" if c.final_answer is not None else ""
        return f"{side}:{answer} {_SAYS.get(c.status, c.status)}"

    return f"{one('A', cx)}; {one('B', cy)}; reference {reference!r}"


class VerifierJudge(PairJudge):
    """Answers checked against the prompt's reference, no model call (see the module docstring)."""

    def name(self, cfg: VerifierJudgeConfig, calls: Calls | None = None) -> str:
        return judge_name(cfg)

    def judge_pairs(self, cfg: VerifierJudgeConfig, name: str, prompts: dict[str, Prompt], pairs: list[Pair],
                    calls: Calls | None, imported=None) -> list[list[Judgment]]:
        return verify_pairs(cfg, name, prompts, pairs)


JUDGE = VerifierJudge()

OutcomeKind = Literal["not_checked", "unknown", "both_correct", "neither_correct", "decided"]


@dataclass(frozen=True)
class Outcome:
    """What the verifier found on a pair: not checked (no verifier judgment), unknown (a check timed out or
    failed, a response was cut), both or neither correct (it abstained), or decided — then which is correct."""

    kind: OutcomeKind
    correct_id: str | None = None
    wrong_id: str | None = None


def verifier_outcome(judgments: list[Judgment]) -> Outcome:
    """The verifier's reading of a pair from the pair's judgments (its first verifier judgment)."""
    j = next((j for j in judgments if j.protocol == PROTOCOL), None)
    if j is None:
        return Outcome("not_checked")
    if j.status != "ok":
        return Outcome("unknown")
    if j.score_a == j.score_b:
        return Outcome("both_correct" if j.score_a == 1 else "neither_correct")
    if (j.score_a or 0) > (j.score_b or 0):
        return Outcome("decided", j.first_id, j.second_id)
    return Outcome("decided", j.second_id, j.first_id)


def verifier_backs(pair: PreferencePair, judgments: dict[str, Judgment]) -> bool:
    """Whether a verifier juror checked this pair and found its chosen response correct and the rejected wrong."""
    found = verifier_outcome([judgments[i] for i in pair.judgment_ids if i in judgments])
    return found.kind == "decided" and found.correct_id == pair.chosen_id


_WHY_NOT = {"not_checked": "not checked (no verifier juror)", "unknown": "answer check unknown",
            "both_correct": "both answers correct", "neither_correct": "neither answer correct",
            "decided": "chosen answer wrong (the jury outvoted the verifier)"}


def verified(pair: PreferencePair, prompts: dict[str, Prompt], judgments: dict[str, Judgment]) -> tuple[bool, str]:
    """The `verified` filter: a pair of a prompt with a reference answer is kept only when the verifier decided
    it for its chosen response; the reason names what the verifier found otherwise. Pairs of open prompts pass."""
    prompt = prompts.get(pair.prompt_id)
    if prompt is None or prompt.reference is None:
        return True, "open prompt (no reference answer)"
    found = verifier_outcome([judgments[i] for i in pair.judgment_ids if i in judgments])
    if found.kind == "decided" and found.correct_id == pair.chosen_id:
        return True, "chosen answer correct, rejected wrong"
    return False, _WHY_NOT[found.kind]
