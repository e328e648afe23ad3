"""Config pieces of the judges: one model per protocol, and `JurorConfig`, the discriminated union a jury lists.

A juror is a judge with its settings. The same engine at another temperature or seed is another juror.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .verifier import VerifierJudgeConfig  # the juror that checks answers (no engine)

_FORBID = ConfigDict(extra="forbid")


def _weight():
    """Every juror's `weight` (issue 17): how much its one vote counts in the jury (tasks/judge/votes.py)."""
    return Field(1.0, ge=0.0, description="How much this juror's vote counts (default 1; 0: recorded, not counted)")


class JudgeConfig(BaseModel):
    """A pairwise judge: rationale first, then a 5-level verdict, asked in both orders."""

    model_config = _FORBID
    kind: Literal["pairwise"] = "pairwise"
    engine: str = Field(..., description="Name of an entry under `engines`")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Judging temperature (0 = greedy)")
    max_tokens: int = Field(384, ge=16, description="Longest judge reply (rationale + verdict)")
    seed: int = Field(0, description="Judge seed")
    weight: float = _weight()
    reask: bool = Field(True, description="Ask once more, constrained to the verdict labels, when a reply has none")
    max_response_chars: int = Field(
        6000, ge=100, description="Responses longer than this are cut (marked) in the judging prompt"
    )

    @property
    def score_range(self) -> tuple[float, float] | None:
        """Verdicts only: no scores to put on the vote scale."""
        return None


class RubricConfig(BaseModel):
    """A Prometheus score rubric: the criterion and one description per integer score (contiguous, e.g. 1–5)."""

    model_config = _FORBID
    criteria: str = Field(
        "Is the response helpful, correct and clear for the user's request?",
        description="The question the score answers",
    )
    scores: dict[int, str] = Field(
        default_factory=lambda: {
            1: "The response is unhelpful, wrong or off-topic.",
            2: "The response addresses the request but has major errors or omissions.",
            3: "The response is partly helpful; it has noticeable errors or gaps.",
            4: "The response is helpful and mostly correct, with minor issues.",
            5: "The response is fully helpful, correct and clear.",
        },
        description="Score → description of a response that deserves it; keys must be consecutive integers",
    )

    @field_validator("scores")
    @classmethod
    def _consecutive(cls, value: dict[int, str]) -> dict[int, str]:
        keys = sorted(value)
        if len(keys) < 2 or keys != list(range(keys[0], keys[-1] + 1)):
            raise ValueError("score keys must be at least two consecutive integers, e.g. 1..5")
        return dict(sorted(value.items()))

    @property
    def low(self) -> int:
        return min(self.scores)

    @property
    def high(self) -> int:
        return max(self.scores)


class PointwiseJudgeConfig(BaseModel):
    """A pointwise judge (Prometheus, Kim et al. 2023/2024): feedback first, then an integer rubric score."""

    model_config = _FORBID
    kind: Literal["pointwise"]
    engine: str = Field(..., description="Name of an entry under `engines`")
    rubric: RubricConfig = Field(default_factory=RubricConfig)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Judging temperature (0 = greedy)")
    max_tokens: int = Field(384, ge=16, description="Longest judge reply (feedback + score)")
    seed: int = Field(0, description="Judge seed")
    weight: float = _weight()
    reask: bool = Field(True, description="Ask once more, constrained to the score lines, when a reply has none")
    max_response_chars: int = Field(6000, ge=100, description="Responses longer than this are cut in the prompt")

    @property
    def score_range(self) -> tuple[float, float]:
        """The rubric's range: a rating difference d votes d / (high − low) × 2 (tasks/judge/votes.py)."""
        return float(self.rubric.low), float(self.rubric.high)


class DebateAgent(BaseModel):
    """One debater: a name and a persona (ChatEval's role descriptions)."""

    model_config = _FORBID
    name: str = Field(..., min_length=1, max_length=40, description="Shown in the transcript")
    persona: str = Field(..., min_length=1, description="Who the agent is and what it cares about")


def _default_agents() -> list[DebateAgent]:
    return [
        DebateAgent(name="Critic", persona="You are a demanding critic who checks every claim for errors and gaps."),
        DebateAgent(name="User", persona="You are the person who asked: you care whether the answer helps you."),
    ]


class DebateJudgeConfig(BaseModel):
    """A multi-agent debate judge (ChatEval, Chan et al. 2023): agents with distinct personas argue in turn over
    a shared transcript for `rounds` rounds, then each scores both responses; the verdict is the mean of the
    agents' scores, or the verdict of a final judge that reads the transcript.
    """

    model_config = _FORBID
    kind: Literal["debate"]
    engine: str = Field(..., description="Name of an entry under `engines` (all agents use it)")
    agents: list[DebateAgent] = Field(default_factory=_default_agents, min_length=2, description="At least two")
    rounds: int = Field(2, ge=1, le=10, description="Rounds of discussion (every agent speaks once per round)")
    verdict: Literal["mean_scores", "final_judge"] = Field(
        "mean_scores", description="mean of the agents' scores, or a final judge's 5-level verdict"
    )
    score_min: int = Field(1, description="Lowest score an agent may give")
    score_max: int = Field(10, description="Highest score an agent may give (at most 10 values in the range)")
    both_orders: bool = Field(True, description="Also debate with the responses swapped (exposes position bias)")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Agents' temperature")
    turn_max_tokens: int = Field(160, ge=16, description="Longest argument of one turn")
    max_tokens: int = Field(160, ge=16, description="Longest closing (scores) or final-judge reply")
    seed: int = Field(0, description="Seed; each agent and round gets its own offset")
    weight: float = _weight()
    reask: bool = Field(True, description="Re-ask, constrained, when closing scores or the final verdict don't parse")
    max_response_chars: int = Field(4000, ge=100, description="Responses longer than this are cut in the prompt")

    @model_validator(mode="after")
    def _valid(self) -> DebateJudgeConfig:
        if not 1 < self.score_max - self.score_min + 1 <= 10:
            raise ValueError("score_min..score_max must span 2 to 10 values")
        names = [a.name for a in self.agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be distinct (got {names})")
        return self

    @property
    def score_range(self) -> tuple[float, float]:
        """The agents' score range: a mean-score difference is scaled by it onto the vote scale."""
        return float(self.score_min), float(self.score_max)


class ImportedJudgeConfig(BaseModel):
    """Judgments loaded with `prefsynth import-judgments` under the judge name `judge` (no engine calls)."""

    model_config = _FORBID
    kind: Literal["imported"]
    judge: str = Field(..., min_length=1, description="The `judge` value of the imported lines")
    score_min: float | None = Field(None, description="Lowest score the judge gives (with score_max: its range)")
    score_max: float | None = Field(None, description="Highest score; without a range a score difference votes "
                                                      "its sign only (a slight preference, ±1)")
    abstain_below: float = Field(0.0, ge=0.0, description="A |score difference| below this (in the judge's own "
                                                          "units) is no vote: the reward model abstains")
    weight: float = _weight()

    @model_validator(mode="after")
    def _range(self) -> ImportedJudgeConfig:
        if (self.score_min is None) != (self.score_max is None):
            raise ValueError("score_min and score_max go together")
        if self.score_min is not None and self.score_max is not None and self.score_min >= self.score_max:
            raise ValueError(f"score_min ({self.score_min:g}) must be below score_max ({self.score_max:g})")
        return self

    @property
    def score_range(self) -> tuple[float, float] | None:
        """The declared range of the imported scores, or None (unknown: a difference votes its sign)."""
        if self.score_min is None or self.score_max is None:
            return None
        return self.score_min, self.score_max


JurorConfig = Annotated[
    JudgeConfig | PointwiseJudgeConfig | DebateJudgeConfig | ImportedJudgeConfig | VerifierJudgeConfig,
    Field(discriminator="kind"),
]
JUROR_KINDS = ("pairwise", "pointwise", "debate", "imported", "verifier")


def with_default_kind(value: object) -> object:
    """A judge written without `kind` is the pairwise judge (configs from before juries keep working)."""
    if isinstance(value, dict) and "kind" not in value:
        return {**value, "kind": "pairwise"}
    return value


class PairingConfig(BaseModel):
    """Which pairs of a prompt's samples are judged and kept.

    `all_pairs` compares every pair; `best_vs_worst` and `best_vs_each` rank samples by their mean pointwise
    score (so the jury needs a pointwise juror) and pair the best with the worst, or with every other sample
    (UltraFeedback / Starling-style pairing from ratings).
    """

    model_config = _FORBID
    strategy: Literal["all_pairs", "best_vs_worst", "best_vs_each"] = "all_pairs"
