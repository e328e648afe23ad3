"""Judge evaluation's swap inconsistency reads each order the way the jury does (`votes_for`): a reading the
jury takes for an abstention (a score difference under the juror's `abstain_below`) is unknown — neither a flip
nor a consistent pair of orders — as in the position-swap filter (tasks/filter_rules.py)."""

from __future__ import annotations

from prefsynth.schemas.preference import Judgment, Prompt, Sample
from prefsynth.tasks.judge.evaluation import GoldItem, evaluate_group
from prefsynth.tasks.judge.jury import Jury, JurorSpec

PROMPT = Prompt.of("q")
X = Sample(id="x", prompt_id=PROMPT.id, policy="gold", model="gold", index=0, text="x")
Y = Sample(id="y", prompt_id=PROMPT.id, policy="gold", model="gold", index=1, text="y")
ITEM = GoldItem(PROMPT, X, Y, "A>B", "src")


def scored(jid: str, first: Sample, second: Sample, scores: tuple[float, float]) -> Judgment:
    return Judgment(id=jid, prompt_id=PROMPT.id, judge="RM", first_id=first.id, second_id=second.id, status="ok",
                    score_a=scores[0], score_b=scores[1])


# x ahead by 0.01 in one order, y ahead by 0.005 in the other: raw signs flip, but both are under abstain_below.
RM = [scored("r1", X, Y, (0.51, 0.50)), scored("r2", Y, X, (0.505, 0.50))]


def swap(jury: Jury | None) -> float | None:
    return evaluate_group("RM", "pairwise", 1, [ITEM], [RM], [], jury)["swap_inconsistency"]


def test_an_abstaining_reward_model_is_not_counted_as_flipping_with_the_order():
    assert swap(Jury.of([JurorSpec("RM", None, 1.0, 0.05)])) is None  # no judge read in both orders: unknown


def test_above_its_threshold_the_same_readings_do_flip():
    assert swap(None) == 1.0
