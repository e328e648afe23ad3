"""The reference of a rationale item (tasks/rationale_items.py): which side should win, before the judgments."""

from types import SimpleNamespace

import pytest

from prefsynth.schemas.preference import Judgment
from prefsynth.schemas.rationale import RationaleInput
from prefsynth.tasks.answers import AnswerCheck
from prefsynth.tasks.rationale_items import reference_for, show
from prefsynth.tasks.rationalize import Reference


def j(jid: str, verdict: str) -> Judgment:
    return Judgment(id=jid, prompt_id="p", judge="j", first_id="a", second_id="b", status="ok", verdict=verdict)


# -- review finding: in `auto` mode a verifier that cannot decide leaves the item to the consensus -----------------
@pytest.mark.parametrize("statuses", [("correct", "correct"), ("incorrect", "unparseable"), ("timeout", "correct")],
                         ids=["both right", "both wrong", "timeout"])
def test_auto_reference_falls_back_to_consensus_when_the_verifier_cannot_decide(statuses):
    """A math item (gold_answer) whose answers the verifier cannot tell apart has no verified reference; `auto`
    then goes on to the consensus of the K judgments (config `reference`, README), while `verifier` leaves it
    without a reference."""
    checks = dict(zip(("2+3 = 5", "2+3 = 5!"), statuses))
    checker = SimpleNamespace(check=lambda text, gold: AnswerCheck(None, checks[text]))
    item = RationaleInput(prompt_id="p", prompt_text="What is 2+3?", response_a="2+3 = 5", response_b="2+3 = 5!",
                          gold_answer="5")
    votes = [j("1", "A>B"), j("2", "A>>B"), j("3", "A>B"), j("4", "B>A")]
    for mode, expected in [("auto", Reference("A", "consensus")), ("verifier", Reference(None, "none"))]:
        config = SimpleNamespace(reference=mode, order="as_given", min_consensus_margin=0.5)
        (shown,) = show(config, [item], checker)
        assert reference_for(config, shown, votes) == expected


def test_a_decided_verifier_stands_in_auto_mode():
    checker = SimpleNamespace(check=lambda text, gold: AnswerCheck(None, "correct" if "5" in text else "incorrect"))
    item = RationaleInput(prompt_id="p", prompt_text="What is 2+3?", response_a="6", response_b="5", gold_answer="5")
    config = SimpleNamespace(reference="auto", order="as_given", min_consensus_margin=0.5)
    (shown,) = show(config, [item], checker)
    assert reference_for(config, shown, [j("1", "A>B")] * 4) == Reference("B", "verifier")
