"""Issue 14 item 2: the `verifier` juror — answers checked against the prompt's reference the way label-steps
checks them; it votes ±2 for the correct response against a wrong one and abstains otherwise (both or neither
correct, an unknown check), and position_swap lets the pairs it decided through."""

from types import SimpleNamespace

import pytest

from prefsynth.config.load import ConfigError, load_config
from prefsynth.config.preference import PreferenceBuildConfig
from prefsynth.tasks.judge.panel import seat
from prefsynth.schemas.preference import Judgment, Prompt, Sample
from prefsynth.schemas.verifier import VerifierJudgeConfig
from prefsynth.tasks.answers import AnswerCheck
from prefsynth.tasks.filter_rules import FilterContext, position_swap
from prefsynth.tasks.judge.jury import aggregate, juror_votes
from prefsynth.tasks.judge.verifier import judge_name, verified, verify_pairs
from prefsynth.tasks.judge.verifier_stats import CheckedPair, position_bias, verifier_figures
from prefsynth.tasks.verify import AnswerChecker

CFG = VerifierJudgeConfig(kind="verifier")
NAME = judge_name(CFG)
PROMPT = Prompt.of("What is 17 multiplied by 3?", reference="51")
OPEN = Prompt.of("Write a haiku about autumn leaves.")


def sample(sid: str, text: str, prompt: Prompt = PROMPT, status: str = "ok") -> Sample:
    return Sample(id=sid, prompt_id=prompt.id, policy="pol", model="m", index=0, text=text, status=status,
                  finish_reason="length" if status == "truncated" else "stop")


RIGHT = sample("right", "17 times 3: 17 * 3 = 51. The answer is 51.")
WRONG = sample("wrong", "17 * 3 = 50, so the answer is 50.")
ALSO_RIGHT = sample("also", "Three 17s make \\boxed{51}.")
NO_ANSWER = sample("none", "Multiplication is repeated addition.")  # states no answer: wrong, as in label-steps


def verifier_on(x: Sample, y: Sample, checker=None) -> list[Judgment]:
    with AnswerChecker(use_math_verify=False) as exact:
        [found] = verify_pairs(CFG, NAME, {PROMPT.id: PROMPT, OPEN.id: OPEN}, [(x, y)], checker or exact)
    return found


def vote(x: Sample, y: Sample, checker=None) -> float | None:
    jury = seat([CFG], None).jury
    [v] = juror_votes(x, y, verifier_on(x, y, checker), jury)
    return v.vote


def test_one_correct_answer_gets_the_full_vote_in_either_order():
    assert vote(RIGHT, WRONG) == 2.0
    assert vote(WRONG, RIGHT) == -2.0  # for y = RIGHT
    assert vote(NO_ANSWER, ALSO_RIGHT) == -2.0
    [j] = verifier_on(RIGHT, WRONG)
    assert (j.protocol, j.status, j.score_a, j.score_b) == ("verifier", "ok", 1.0, 0.0)
    assert "'51' correct" in j.rationale and "'50' wrong" in j.rationale


def test_both_correct_or_neither_correct_abstains():
    assert vote(RIGHT, ALSO_RIGHT) is None
    assert vote(WRONG, NO_ANSWER) is None
    [j] = verifier_on(WRONG, NO_ANSWER)
    assert (j.status, j.score_a, j.score_b) == ("ok", 0.0, 0.0)


class _TimesOut:
    """A checker whose math-verify call timed out on one text (what AnswerChecker reports on a hung sympy)."""

    def __init__(self, slow_text: str):
        self.slow_text = slow_text

    def check(self, text: str, gold: str) -> AnswerCheck:
        if text == self.slow_text:
            return AnswerCheck("51^{1}", "timeout")
        with AnswerChecker(use_math_verify=False) as exact:
            return exact.check(text, gold)


@pytest.mark.parametrize("unknown", ["timeout", "truncated"])
def test_an_unknown_check_abstains_and_is_never_a_vote_against(unknown):
    slow = sample("slow", "So it is \\boxed{51^{1}}.", status="truncated" if unknown == "truncated" else "ok")
    checker = _TimesOut(slow.text)
    for x, y in ((slow, WRONG), (WRONG, slow), (slow, RIGHT)):
        assert vote(x, y, checker) is None
    [j] = verifier_on(slow, WRONG, checker)
    assert j.status == "error" and j.score_a is None and f"A {unknown}" in j.error


def test_a_prompt_without_reference_gets_no_verifier_judgment():
    a, b = sample("a", "Leaves fall.", OPEN), sample("b", "Red leaves drift.", OPEN)
    assert verifier_on(a, b) == []


def test_each_response_is_checked_once():
    calls = []

    class Counting:
        def check(self, text, gold):
            calls.append(text)
            return AnswerCheck("51", "correct")

    verify_pairs(CFG, NAME, {PROMPT.id: PROMPT}, [(RIGHT, WRONG), (RIGHT, ALSO_RIGHT), (WRONG, ALSO_RIGHT)], Counting())
    assert sorted(calls) == sorted([RIGHT.text, WRONG.text, ALSO_RIGHT.text])


def biased(jid: str, first: Sample, second: Sample) -> Judgment:
    """A position-biased LLM judge: 'A is better', whatever A is."""
    return Judgment(id=jid, prompt_id=PROMPT.id, judge="llm", first_id=first.id, second_id=second.id, status="ok",
                    verdict="A>B")


def test_position_swap_keeps_a_pair_the_verifier_decided_and_drops_one_it_did_not():
    weighted = VerifierJudgeConfig(kind="verifier", weight=2)
    jury = seat([weighted], None).jury
    samples = {s.id: s for s in (RIGHT, WRONG, ALSO_RIGHT)}
    for x, y in ((WRONG, RIGHT), (RIGHT, WRONG)):
        js = verifier_on(x, y) + [biased("l1", x, y), biased("l2", y, x)]  # the LLM flips with the order
        pair = aggregate(x, y, js, jury)
        assert (pair.chosen_id, pair.rejected_id, pair.tie) == ("right", "wrong", False)
        ctx = FilterContext({j.id: j for j in js}, samples, jury=jury)
        assert position_swap(pair, ctx) == (True, "decided by the verifier (no order to swap)")
    js = verifier_on(RIGHT, ALSO_RIGHT) + [biased("l1", RIGHT, ALSO_RIGHT), biased("l2", ALSO_RIGHT, RIGHT)]
    pair = aggregate(RIGHT, ALSO_RIGHT, js, jury)  # the verifier abstains: the flip decides as before
    assert position_swap(pair, FilterContext({j.id: j for j in js}, samples, jury=jury)) == (
        False, "verdict flips when the order is swapped")


def test_figures_count_the_checks_and_score_the_llm_judge_by_the_order_shown():
    pairs = []
    for x, y, kept in ((RIGHT, WRONG, True), (NO_ANSWER, ALSO_RIGHT, True), (RIGHT, ALSO_RIGHT, False)):
        js = verifier_on(x, y) + [biased(f"{x.id}-{y.id}", x, y), biased(f"{y.id}-{x.id}", y, x)]
        chosen = x if x in (RIGHT, ALSO_RIGHT) else y
        pairs.append(CheckedPair(chosen.id, kept, js))
    f = verifier_figures(pairs)
    assert {k: f[k] for k in ("checked", "decided", "both_correct", "neither_correct", "unknown", "kept",
                              "kept_chosen_correct")} == {"checked": 3, "decided": 2, "both_correct": 1,
                                                          "neither_correct": 0, "unknown": 0, "kept": 2,
                                                          "kept_chosen_correct": 2}
    llm = f["judges"]["llm"]  # right every time the correct answer is A, never when it is B
    assert llm["correct_first"] == {"right": 2, "wrong": 0, "tie": 0, "no_verdict": 0, "right_rate": 1.0}
    assert llm["correct_second"] == {"right": 0, "wrong": 2, "tie": 0, "no_verdict": 0, "right_rate": 0.0}
    assert position_bias(llm) == 1.0 and llm["votes"] == {"correct": 0, "wrong": 0, "abstain": 2}
    assert verifier_figures([CheckedPair("x", True, [biased("l", RIGHT, WRONG)])]) is None  # no verifier


def test_a_verifier_needs_prompts_with_a_reference_field(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"prompt": "What is 2 + 2?", "answer": "4"}\n')
    text = ("name: v\nprompts:\n  path: p.jsonl\n{ref}engines:\n  e: {{kind: dry_run}}\npolicies:\n  - engine: e\n"
            "jury:\n  - engine: e\n  - kind: verifier\n    weight: 2\n")
    (tmp_path / "bad.yaml").write_text(text.format(ref=""))
    with pytest.raises(ConfigError, match="reference_field"):
        load_config(tmp_path / "bad.yaml", PreferenceBuildConfig)
    (tmp_path / "good.yaml").write_text(text.format(ref="  reference_field: answer\n"))
    cfg = load_config(tmp_path / "good.yaml", PreferenceBuildConfig)
    assert [j.kind for j in cfg.jurors] == ["pairwise", "verifier"] and cfg.jurors[1].score_range == (0.0, 1.0)
    assert seat(cfg.jurors[1:], SimpleNamespace()).jury.specs[0].weight == 2


def test_the_verified_filter_keeps_decided_pairs_of_verifiable_prompts_and_every_open_pair():
    prompts = {PROMPT.id: PROMPT, OPEN.id: OPEN}
    jury = seat([CFG], None).jury

    def decide(x, y, checker=None, extra=()):
        js = verifier_on(x, y, checker) + list(extra)
        return verified(aggregate(x, y, js, jury), prompts, {j.id: j for j in js})

    assert decide(WRONG, RIGHT) == (True, "chosen answer correct, rejected wrong")
    assert decide(RIGHT, ALSO_RIGHT) == (False, "both answers correct")
    assert decide(WRONG, NO_ANSWER) == (False, "neither answer correct")
    slow = sample("slow", "So it is \\boxed{51^{1}}.")
    assert decide(slow, WRONG, _TimesOut(slow.text)) == (False, "answer check unknown")
    a, b = sample("a", "Leaves fall.", OPEN), sample("b", "Red leaves drift.", OPEN)
    assert decide(a, b, extra=[biased("l1", a, b)]) == (True, "open prompt (no reference answer)")
    # Outvoted: two LLM jurors sure of the wrong answer against one verifier of weight 1.
    llms = [Judgment(id=f"{k}", prompt_id=PROMPT.id, judge=f"llm{k}", first_id=WRONG.id, second_id=RIGHT.id,
                     status="ok", verdict="A>>B") for k in (1, 2)]
    js = verifier_on(WRONG, RIGHT) + llms
    pair = aggregate(WRONG, RIGHT, js, jury)
    assert pair.chosen_id == "wrong"
    assert verified(pair, prompts, {j.id: j for j in js}) == (False, "chosen answer wrong (the jury outvoted the verifier)")


def test_figures_read_other_jurors_as_the_build_jury_does():
    """Review finding: the verifier figures score each juror with the build's jury — a reward model's score
    difference below its `abstain_below` is an abstention (not a right reading), a weight-0 juror casts no
    counted vote — and classify the verifier's judgment the way the `verified` filter does."""
    from prefsynth.tasks.judge.verifier import verifier_outcome
    from prefsynth.tasks.judge.votes import Jury, JurorSpec

    rm = Judgment(id="rm", prompt_id=PROMPT.id, judge="rm", first_id=RIGHT.id, second_id=WRONG.id, status="ok",
                  score_a=0.55, score_b=0.5)  # barely prefers the correct answer: below its threshold of 0.2
    muted = Judgment(id="mu", prompt_id=PROMPT.id, judge="muted", first_id=RIGHT.id, second_id=WRONG.id,
                     status="ok", verdict="A>>B")
    js = verifier_on(RIGHT, WRONG) + [rm, muted]
    jury = Jury.of([JurorSpec(NAME, (0.0, 1.0), 1.0), JurorSpec("rm", (0.0, 1.0), 1.0, 0.2),
                    JurorSpec("muted", None, 0.0)])
    f = verifier_figures([CheckedPair(RIGHT.id, True, js)], jury)
    assert f["judges"]["rm"]["correct_first"]["no_verdict"] == 1 and f["judges"]["rm"]["votes"]["abstain"] == 1
    assert f["judges"]["muted"]["correct_first"]["right"] == 1  # its readings are still measured
    assert f["judges"]["muted"]["votes"] == {"correct": 0, "wrong": 0, "abstain": 1}  # weight 0: not counted
    outcome = verifier_outcome(js)
    assert (outcome.kind, outcome.correct_id, outcome.wrong_id) == ("decided", RIGHT.id, WRONG.id)
    assert verifier_outcome(verifier_on(RIGHT, ALSO_RIGHT)).kind == "both_correct"
    assert verifier_outcome([rm]).kind == "not_checked"
