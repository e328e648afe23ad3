"""How a jury turns its jurors' votes into one label and a confidence per pair: `aggregation:` (issue 17).

- `majority` (default): the weighted majority of the vote signs (tasks/judge/jury.py); confidence = the chosen
  side's weighted share of the voting jurors.
- `dawid_skene`: Dawid & Skene (1979) by EM on the build's own votes, no gold needed: one confusion matrix per
  rater, each juror's order its own rater (so a juror that favours the first response shown is modelled as such);
  confidence = the posterior of the chosen side (crowd-kit's `DawidSkene`).
- `fitted`: a logistic model fitted on gold labels by `prefsynth eval-judge --fit` (tasks/judge/fitted.py);
  confidence = σ(Σ coefficient × feature), features per juror from tasks/judge/features.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_FORBID = ConfigDict(extra="forbid")
FEATURES = ("xy", "yx", "agree", "scores", "score_diff")  # per juror: see tasks/judge/features.py


class MajorityAggregation(BaseModel):
    """The weighted majority of the jurors' vote signs; confidence = the chosen side's share of the voters."""

    model_config = _FORBID
    kind: Literal["majority"] = "majority"


class DawidSkeneAggregation(BaseModel):
    """Dawid–Skene EM over the build's own votes (each juror's order is its own rater); no gold labels."""

    model_config = _FORBID
    kind: Literal["dawid_skene"]
    n_iter: int = Field(100, ge=1, le=10_000, description="Most EM iterations")
    tol: float = Field(1e-5, gt=0.0, description="Stop when the log-likelihood moves less than this")


class FittedAggregation(BaseModel):
    """A logistic model of P(x better) over the jurors' features, fitted on gold labels by `eval-judge --fit`.

    `coefficients[judge][feature]`: features `xy`, `yx` (the juror's vote in each order, −2..2 for x), `agree`
    (its vote when both orders name the same winner, else 0), `scores` (its rating difference on −2..2) and
    `score_diff` (its score difference in its own units, whatever the range: a reward model's magnitude). A
    juror or feature left out weighs 0. No intercept: which response is "x" is arbitrary. `fit` records how the
    model was fitted and its cross-validated accuracy and frontier (information only; not part of pair ids).
    """

    model_config = _FORBID
    kind: Literal["fitted"]
    coefficients: dict[str, dict[str, float]] = Field(..., description="judge name → feature → coefficient")
    fit: dict = Field(default_factory=dict, description="How it was fitted: gold file, items, folds, CV accuracy")

    @field_validator("coefficients")
    @classmethod
    def _known_features(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for judge, feats in value.items():
            unknown = sorted(set(feats) - set(FEATURES))
            if unknown:
                raise ValueError(f"{judge!r}: unknown feature(s) {unknown} (known: {', '.join(FEATURES)})")
        return value

    def key(self) -> list:
        """What changes the model's decisions (part of pair ids)."""
        return sorted([j, sorted(f.items())] for j, f in self.coefficients.items())


AggregationConfig = Annotated[
    MajorityAggregation | DawidSkeneAggregation | FittedAggregation, Field(discriminator="kind")
]
AGGREGATION_KINDS = ("majority", "dawid_skene", "fitted")
