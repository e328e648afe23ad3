"""Config of the `verifier` juror: no model, the responses' final answers checked against the prompt's reference.

Kept apart from schemas/judges.py (which lists it in `JurorConfig`) because it has no engine and no prompt.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VerifierJudgeConfig(BaseModel):
    """A juror that checks each response's final answer against the prompt's reference answer
    (`prompts.reference_field`) the way label-steps checks a rollout (tasks/judge/verifier.py): it votes ±2 for
    the correct response of a pair where the other is wrong, and abstains otherwise (both or neither correct, a
    check that timed out or failed, a response cut at max_tokens, a prompt without a reference)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["verifier"]
    math_verify: bool = Field(True, description="When the exact compare fails, ask math-verify (symbolic "
                                                "equivalence) unless the answer is a plain number and the "
                                                "reference a number, as label-steps does")
    timeout_s: float = Field(5.0, gt=0, description="Hard time limit of one math-verify check; a check over it "
                                                    "is unknown and the verifier abstains on that pair")
    weight: float = Field(1.0, ge=0.0, description="How much this juror's vote counts (default 1; above the "
                                                   "other jurors' total weight, a checked answer decides)")

    @property
    def score_range(self) -> tuple[float, float]:
        """Scores are 1 (correct) and 0 (wrong): one correct and one wrong is a full-range vote, ±2."""
        return 0.0, 1.0
