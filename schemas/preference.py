"""Records of the preference flow: Prompt → Sample → Judgment → PreferencePair → FilterDecision."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from .engine import Message

SampleStatus = Literal["ok", "truncated", "duplicate", "error"]
JudgmentStatus = Literal["ok", "parse_error", "error"]
Verdict = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]

# Signed strength of a 5-level verdict, from the point of view of the response shown first ("A").
VERDICT_MARGIN: dict[str, int] = {"A>>B": 2, "A>B": 1, "A=B": 0, "B>A": -1, "B>>A": -2}


class Prompt(BaseModel):
    """A prompt: plain `text` or chat `messages` (exactly one). `source` is FILE:LINE of the input row."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    text: str | None = None
    messages: tuple[Message, ...] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _one_form(self) -> Prompt:
        if (self.text is None) == (self.messages is None):
            raise ValueError("a prompt has either text or messages")
        return self

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


class Judgment(BaseModel):
    """One judge reply comparing two samples in one order: `first_id` was shown as A, `second_id` as B.

    `verdict` is None unless status is "ok"; `raw` always keeps the judge's text (both attempts when re-asked).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    prompt_id: str
    judge: str
    protocol: Literal["pairwise"] = "pairwise"
    first_id: str
    second_id: str
    status: JudgmentStatus
    verdict: Verdict | None = None
    rationale: str = ""
    raw: str = ""
    reasked: bool = False
    error: str | None = None
    completion_tokens: int = 0

    def margin_for(self, sample_id: str) -> int | None:
        """Signed verdict strength in favour of `sample_id` (None if no verdict)."""
        if self.verdict is None:
            return None
        m = VERDICT_MARGIN[self.verdict]
        return m if sample_id == self.first_id else -m


class PreferencePair(BaseModel):
    """Two samples of one prompt with their aggregated judgments.

    `chosen_id`/`rejected_id` follow the mean margin; on a tie (margin 0) they keep the canonical order.
    `margin` ≥ 0 is the mean signed verdict strength for the chosen response over the judgments that parsed;
    `agreement` is the fraction of parsed judgments whose winner equals the majority's.
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


class FilterDecision(BaseModel):
    """What one filter decided about one pair; dropped pairs are kept with their reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pair_id: str
    filter: str
    keep: bool
    reason: str = ""
