"""Lines of the files users bring: judgments made elsewhere (`import-judgments`) and gold labels (`eval-judge`).

An imported line's `verdict` and `score_a`/`score_b` always refer to the file's `response_a` and `response_b`;
`order` only says how the judge saw them ("BA": response_b was shown first). Stored judgments are in the
pipeline's own terms (`first_id` = the response shown first), so the verdict is mirrored for "BA" lines.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .engine import Message
from .ids import content_id
from .preference import Judgment, Prompt, Sample, Verdict

_MIRROR = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
IMPORTED_POLICY = "imported"


class FieldProblem(ValueError):
    """A row-level check that is about one field: readers report `field` with the file and line."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(problem)


class _PairRow(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: str | list[Message]
    response_a: str
    response_b: str
    pair_id: str | None = None

    @field_validator("prompt")
    @classmethod
    def _not_empty(cls, value):
        """A prompt needs text; a response may be empty (a model that answered nothing is judgeable, issue 17)."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        if isinstance(value, list) and not value:
            raise ValueError("must not be an empty message list")
        return value

    @model_validator(mode="after")
    def _two_responses(self):
        if self.response_a == self.response_b:
            raise FieldProblem("response_b", "is the same text as response_a")
        return self

    def prompt_record(self, source: str) -> Prompt:
        return Prompt.of(self.prompt if isinstance(self.prompt, str) else tuple(self.prompt), source)


def imported_sample(prompt_id: str, text: str) -> Sample:
    """A response that came with a file: identity is (prompt, text), whichever side of a line it was on."""
    return Sample(id=content_id(prompt_id, IMPORTED_POLICY, text), prompt_id=prompt_id, policy=IMPORTED_POLICY,
                  model="external", index=0, text=text)


class ImportedJudgmentRow(_PairRow):
    """One line of an `import-judgments` file: a verdict, or two scores, by the judge named `judge`."""

    judge: str = Field(..., min_length=1)
    verdict: Verdict | None = None
    score_a: float | int | None = None
    score_b: float | int | None = None
    order: Literal["AB", "BA"] = "AB"

    @field_validator("score_a", "score_b")
    @classmethod
    def _finite(cls, value):
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _verdict_or_scores(self):
        has_scores = self.score_a is not None or self.score_b is not None
        if self.verdict is None and not has_scores:
            raise FieldProblem("verdict", "missing: give either verdict or score_a and score_b")
        if self.verdict is not None and has_scores:
            raise FieldProblem("verdict", "give either verdict or score_a/score_b, not both")
        if has_scores and (self.score_a is None or self.score_b is None):
            raise FieldProblem("score_b" if self.score_b is None else "score_a", "missing: score_a and score_b go together")
        return self

    def records(self, source: str) -> tuple[Prompt, Sample, Sample, Judgment]:
        """The prompt, both responses and the judgment in the pipeline's terms (first = shown first)."""
        prompt = self.prompt_record(source)
        a, b = imported_sample(prompt.id, self.response_a), imported_sample(prompt.id, self.response_b)
        swapped = self.order == "BA"
        first, second = (b, a) if swapped else (a, b)
        verdict = _MIRROR[self.verdict] if swapped and self.verdict else self.verdict
        sa, sb = (self.score_b, self.score_a) if swapped else (self.score_a, self.score_b)
        sa, sb = (None if v is None else float(v) for v in (sa, sb))
        key = content_id("imported", self.judge, prompt.id, first.id, second.id, verdict, sa, sb, self.pair_id)
        judgment = Judgment(
            id=key, prompt_id=prompt.id, judge=self.judge, protocol="imported", first_id=first.id,
            second_id=second.id, status="ok", verdict=verdict, score_a=sa, score_b=sb, pair_ref=self.pair_id,
            raw=f"imported from {source}",
        )
        return prompt, a, b, judgment


class GoldRow(_PairRow):
    """One line of an `eval-judge` gold file: which of the two responses is better, and where the item is from."""

    label: Literal["A>B", "B>A"]
    source: str = "all"


class ImportedJudgment(BaseModel):
    """A stored imported judgment with the texts it was about, so a build can match it to its own samples."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    judgment: Judgment
    prompt_text: str
    first_text: str
    second_text: str
