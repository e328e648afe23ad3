"""Records of the preference flow: Prompt → Sample → Judgment → PreferencePair → FilterDecision."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from .engine import Message
from .ids import content_id

SampleStatus = Literal["ok", "truncated", "duplicate", "error"]
JudgmentStatus = Literal["ok", "parse_error", "error"]
Verdict = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]
Protocol = Literal["pairwise", "pointwise", "debate", "imported", "verifier"]

# Signed strength of a 5-level verdict, from the point of view of the response shown first ("A").
VERDICT_MARGIN: dict[str, int] = {"A>>B": 2, "A>B": 1, "A=B": 0, "B>A": -1, "B>>A": -2}


class Prompt(BaseModel):
    """A prompt: plain `text` or chat `messages` (exactly one). `source` is FILE:LINE of the input row.

    `reference` is an optional reference answer shown to pointwise judges (Prometheus); it is judging material,
    so a prompt with a reference has a different id from the same prompt without one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    text: str | None = None
    messages: tuple[Message, ...] | None = None
    source: str = ""
    reference: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Prompt:
        if (self.text is None) == (self.messages is None):
            raise ValueError("a prompt has either text or messages")
        return self

    @classmethod
    def of(cls, value: str | tuple[Message, ...], source: str = "", reference: str | None = None) -> Prompt:
        """A prompt with its content id: text or messages, plus the reference answer when there is one."""
        if isinstance(value, str):
            key: list = ["text", value]
            fields: dict = {"text": value}
        else:
            key = ["messages", [m.model_dump() for m in value]]
            fields = {"messages": tuple(value)}
        if reference is not None:
            key += ["reference", reference]
        return cls(id=content_id(*key), source=source, reference=reference, **fields)

    def as_messages(self) -> tuple[Message, ...]:
        return self.messages if self.messages is not None else (Message(role="user", content=self.text or ""),)

    def display_text(self) -> str:
        """The prompt as one string (the last user turn keeps its place; earlier turns are labelled)."""
        if self.text is not None:
            return self.text
        return "\n\n".join(f"[{m.role}] {m.content}" for m in self.as_messages())


class Sample(BaseModel):
    """One policy response to a prompt. `status` is "error" (with `error`) when the engine call failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    prompt_id: str
    policy: str
    model: str
    index: int
    text: str = ""
    status: SampleStatus = "ok"
    finish_reason: str | None = None
    completion_tokens: int = 0
    error: str | None = None
    duplicate_of: str | None = None


class DebateTurn(BaseModel):
    """One entry of a debate transcript: an agent's argument in a round, or its closing scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agent: str
    round: int  # 1..R for arguments; R + 1 for the closing scores; 0 for the final judge
    kind: Literal["argument", "scores", "final"]
    text: str


class Judgment(BaseModel):
    """One judge reply. Pairwise, debate and imported judgments compare two samples in one order: `first_id`
    was shown as A, `second_id` as B. A pointwise judgment rates one sample: `first_id`, no `second_id`.

    `verdict` (5-level, from A's point of view) and/or `score_a`/`score_b` (the ratings of the first and
    second sample) are set only when status is "ok"; `raw` always keeps the judge's text (both attempts when
    re-asked). Debates keep their `transcript`; imported judgments keep the file's `pair_ref`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    prompt_id: str
    judge: str
    protocol: Protocol = "pairwise"
    first_id: str
    second_id: str | None
    status: JudgmentStatus
    verdict: Verdict | None = None
    rationale: str = ""
    raw: str = ""
    reasked: bool = False
    error: str | None = None
    completion_tokens: int = 0
    score_a: float | None = None
    score_b: float | None = None
    transcript: tuple[DebateTurn, ...] | None = None
    pair_ref: str | None = None

    def margin_for(self, sample_id: str) -> float | None:
        """Signed strength in favour of `sample_id`: the verdict's level, else the score difference.

        None when there is no verdict (parse error, failed call) or the judgment rates a single sample.
        """
        if self.verdict is not None:
            m: float = VERDICT_MARGIN[self.verdict]
        elif self.second_id is not None and self.score_a is not None and self.score_b is not None:
            m = self.score_a - self.score_b
        else:
            return None
        return m if sample_id == self.first_id else -m


class PreferencePair(BaseModel):
    """Two samples of one prompt with the aggregated votes of the jury (see tasks/judge/jury.py).

    Every juror casts one vote on −2..2 (`vote_scale` "juror_votes_pm2": a pairwise juror's two orders averaged,
    a rating difference scaled by the juror's score range). `chosen_id` is the weighted majority of the vote
    signs; a split is a tie (`tie`), oriented by the sign of μ. `margin` is μ, the weighted mean vote for the
    chosen response (negative when the majority and μ disagree); `margin_std` is σ of the votes;
    `chosen_share`/`rejected_share` the weighted shares of voting jurors for each side; `agreement` the share
    of the label's category (chosen side, or tie votes for a tie). `n_parsed` counts the readings (a juror in
    one order, or its ratings) that gave a vote. `chosen_score`/`rejected_score` are the mean of the scores
    jurors gave, each in its juror's own units (mixed scales are not rescaled: jury.py `_all_scores`).
    `consistency` is C = (τ + 1)/2 of the `rank_consistency` filter (None: not computed).
    `confidence` is the jury's probability that `chosen_id` is the better response, from the `aggregation` that
    labelled the pair ("majority": the chosen side's weighted vote share, 0.5 for a tie; "dawid_skene"; "fitted");
    None when no juror voted (rows stored before migration m008 have both None).
    A filter that changes a pair (label flip, length-bias re-count, down-weighting, consistency) makes a new
    pair record with `derived_from` set to the pair it came from.

    Rows stored before migration m006 have `vote_scale` None: their margin, σ and agreement were computed over
    per-order votes in each protocol's own units (verdict levels, rubric or reward points).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    prompt_id: str
    chosen_id: str
    rejected_id: str
    margin: float
    tie: bool
    judgment_ids: tuple[str, ...]
    n_judgments: int
    n_parsed: int
    agreement: float
    margin_std: float = 0.0
    chosen_score: float | None = None
    rejected_score: float | None = None
    weight: float = 1.0
    derived_from: str | None = None
    vote_scale: str | None = None
    chosen_share: float | None = None
    rejected_share: float | None = None
    consistency: float | None = None
    confidence: float | None = None
    aggregation: str | None = None


class FilterDecision(BaseModel):
    """What one filter decided about one pair; dropped pairs are kept with their reason. A filter that changes a
    kept pair (label flip, re-count, down-weight) names the new pair record in `replaced_by`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    pair_id: str
    filter: str
    keep: bool
    reason: str = ""
    replaced_by: str | None = None
