"""The filter suite: each filter's keep/drop and reason, label flips and down-weights, the funnel."""

import pytest

from prefsynth.schemas.preference import Judgment, PreferencePair, Prompt, Sample
from prefsynth.schemas.stages import (
    AgreementFilter, CrossVersionFilter, DropTiesFilter, LengthBiasFilter, NearDuplicatePairFilter,
    NearDuplicatePromptFilter, PositionSwapFilter, StrengthFilter,
)
from prefsynth.tasks.filter_dataset import near_duplicate_prompts, ranking_taus
from prefsynth.tasks.filter_rules import agreement, length_bias, position_swap, strength
from prefsynth.tasks.filters import FilterContext, filter_pairs, funnel
from prefsynth.tasks.judge.jury import Jury, JurorSpec, aggregate


def sample(sid, text=None, prompt="p1"):
    return Sample(id=sid, prompt_id=prompt, policy="pol", model="m", index=0, text=text or sid)


def j(jid, judge, first, second, verdict=None, status="ok", prompt="p1", scores=(None, None)):
    return Judgment(id=jid, prompt_id=prompt, judge=judge, first_id=first, second_id=second, status=status,
                    verdict=verdict if status == "ok" else None, score_a=scores[0], score_b=scores[1])


def ctx(samples, judgments, **kw):
    return FilterContext({x.id: x for x in judgments}, {s.id: s for s in samples}, **kw)


X, Y = sample("x"), sample("y")


def test_position_swap_checks_each_juror_that_judged_both_orders():
    consistent = [j("a1", "A", "x", "y", "A>B"), j("a2", "A", "y", "x", "B>A")]
    one_order = [j("b1", "B", "x", "y", "B>A")]
    failed = [j("c1", "C", "x", "y", "A>B"), j("c2", "C", "y", "x", status="parse_error")]
    flipper = [j("d1", "D", "x", "y", "A>B"), j("d2", "D", "y", "x", "A>B")]
    for js, expected in [
        (consistent + one_order + failed, (True, "same winner in both orders")),
        (consistent + flipper, (False, "verdict flips when the order is swapped")),
        (failed, (False, "no verdict in one order (parse_error)")),
        (one_order, (False, "judged in one order only")),
    ]:
        pair = aggregate(X, Y, js)
        assert position_swap(pair, ctx([X, Y], js)) == expected


def test_position_swap_reads_an_abstaining_reward_model_as_unknown_not_a_flip():
    # An imported reward model in both orders: x by 0.01, then (y shown first) y by 0.005. Under its
    # abstain_below 0.05 the jury reads both as no vote; the swap check must not read their signs as a flip.
    rm = [j("r1", "RM", "x", "y", scores=(0.51, 0.50)), j("r2", "RM", "y", "x", scores=(0.505, 0.50))]
    consistent = [j("a1", "A", "x", "y", "A>B"), j("a2", "A", "y", "x", "B>A")]
    jury = Jury.of([JurorSpec("RM", None, 1.0, 0.05)])
    for js, expected in [
        (consistent + rm, (True, "same winner in both orders")),  # the LLM juror is the one checked
        (rm, (False, "no verdict in one order (abstained)")),  # nobody checked: unknown, not a flip
    ]:
        pair = aggregate(X, Y, js, jury)
        assert position_swap(pair, ctx([X, Y], js, jury=jury)) == expected
    # Above its threshold the same differences are votes, and they do flip with the order.
    pair = aggregate(X, Y, rm)
    assert position_swap(pair, ctx([X, Y], rm)) == (False, "verdict flips when the order is swapped")


def test_agreement_threshold():
    js = [j("1", "A", "x", "y", "A>B"), j("2", "B", "x", "y", "A>B"), j("3", "C", "x", "y", "B>A")]
    pair = aggregate(X, Y, js)  # 2 of 3 votes with the majority
    assert agreement(AgreementFilter(min_agreement=0.6), pair, ctx([X, Y], js)) == (True, "jury agrees")
    assert agreement(AgreementFilter(min_agreement=0.7), pair, ctx([X, Y], js)) == (False, "agreement below 0.7")


def test_strength_keeps_strong_drops_weak_and_spread_and_flips_when_asked():
    strong = [j("1", "A", "x", "y", "A>>B"), j("2", "B", "y", "x", "B>A")]  # μ = 1.5, σ = 0.5
    c = ctx([X, Y], strong)
    pair = aggregate(X, Y, strong)
    assert strength(StrengthFilter(min_strength=1.0), pair, c) == (True, "strong preference")
    assert strength(StrengthFilter(min_strength=1.6), pair, c) == (False, "weak preference (|mean margin| below 1.6)")
    assert strength(StrengthFilter(min_strength=1.0, max_std=0.4), pair, c) == (False, "margins spread more than 0.4")
    # Majority for x (two slight wins) but one juror's much-better verdict for y twice: μ = (1 + 1 − 2 − 2) / 4
    mixed = [j("a", "A", "x", "y", "A>B"), j("b", "B", "x", "y", "A>B"), j("c", "C", "x", "y", "B>>A"),
             j("d", "D", "y", "x", "A>>B"), j("e", "E", "x", "y", "A>B")]
    pair = aggregate(X, Y, mixed)
    assert pair.chosen_id == "x" and pair.margin == pytest.approx(-0.2)
    c = ctx([X, Y], mixed)
    assert strength(StrengthFilter(min_strength=0.2), pair, c) == (False, "mean margin favours the rejected response")
    out = strength(StrengthFilter(min_strength=0.2, flip=True), pair, c)
    assert out.keep and out.reason.startswith("label flipped")
    assert (out.pair.chosen_id, out.pair.rejected_id, out.pair.margin) == ("y", "x", pytest.approx(0.2))
    assert out.pair.derived_from == pair.id and out.pair.id != pair.id


def test_length_bias_turns_slight_wins_of_much_longer_responses_into_ties():
    long, short = sample("L", "word " * 150), sample("S", "brief")  # 750 vs 5 characters
    slight = [j("1", "A", "L", "S", "A>B"), j("2", "A", "S", "L", "B>A")]
    pair = aggregate(long, short, slight)
    out = length_bias(LengthBiasFilter(), pair, ctx([long, short], slight))
    assert out == (False, "slight win by a response over 500 characters longer counts as a tie")
    assert length_bias(LengthBiasFilter(max_chars=800), pair, ctx([long, short], slight))[0] is True
    # Two much-better jurors survive, the slight one becomes a tie, which abstains (issue 17 item 6): votes 2, 2
    # → L, μ = 2, and the two voters agree.
    much = [j("1", "A", "L", "S", "A>>B"), j("2", "A", "S", "L", "B>>A"), j("3", "B", "L", "S", "A>B"),
            j("4", "C", "L", "S", "A>>B")]
    pair = aggregate(long, short, much)
    assert pair.margin == pytest.approx(5 / 3)
    out = length_bias(LengthBiasFilter(), pair, ctx([long, short], much))
    assert out.keep and out.pair.chosen_id == "L" and out.pair.margin == pytest.approx(2.0)
    assert out.pair.agreement == pytest.approx(1.0) and out.pair.derived_from == pair.id
    short_wins = [j("1", "A", "S", "L", "A>B")]  # the shorter response won: nothing to correct
    pair = aggregate(long, short, short_wins)
    assert length_bias(LengthBiasFilter(), pair, ctx([long, short], short_wins)) == (
        True, "no slight win by a much longer response")


def _pair_of(a, b, verdict="A>B", prompt="p1"):
    js = [j(f"{a.id}{b.id}1", "A", a.id, b.id, verdict, prompt=prompt)]
    return aggregate(a, b, js), js


def test_near_duplicate_pair_and_prompts():
    a, b, c = sample("a", "The sky is blue because of Rayleigh scattering."), \
        sample("b", "The sky is blue because of Rayleigh scattering!"), sample("c", "No idea.")
    dup, js1 = _pair_of(a, b)
    fine, js2 = _pair_of(a, c)
    run = filter_pairs([dup, fine], [NearDuplicatePairFilter()], ctx([a, b, c], js1 + js2))
    assert [p.id for p in run.kept] == [fine.id]
    assert run.decisions[0].reason == "chosen and rejected are near-duplicates (ratio ≥ 90)"
    assert near_duplicate_prompts(["Explain gravity.", "Explain gravity!", "Name a fruit.", "Explain gravity"], 90) \
        == {1, 3}


def test_near_duplicate_prompts_keep_the_first_prompt_across_the_dataset():
    prompts = {"p1": Prompt(id="p1", text="What is the capital of France?"),
               "p2": Prompt(id="p2", text="What is the capital of France ?"),
               "p3": Prompt(id="p3", text="Write a poem about rain.")}
    samples, pairs, judgments = [], [], []
    for pid in prompts:
        s1, s2 = sample(pid + "a", "one", pid), sample(pid + "b", "two", pid)
        pair, js = _pair_of(s1, s2, prompt=pid)
        samples += [s1, s2]
        pairs.append(pair)
        judgments += js
    run = filter_pairs(pairs, [NearDuplicatePromptFilter()], ctx(samples, judgments, prompts=prompts))
    assert [p.prompt_id for p in run.kept] == ["p1", "p3"]
    assert run.decisions[1].reason.startswith("prompt is a near-duplicate of an earlier prompt")


def _ranking_pairs(order: str, prompt="p1", margin=1.0):
    """Pairs that rank samples in `order` (best first): every better one chosen over every worse one."""
    return [PreferencePair(id=f"{prompt}{order}{w}{l}", prompt_id=prompt, chosen_id=w, rejected_id=l, margin=margin,
                           tie=False, judgment_ids=(), n_judgments=0, n_parsed=1, agreement=1.0)
            for i, w in enumerate(order) for l in order[i + 1:]]


def test_cross_version_tau_drops_or_downweights_inconsistent_prompts():
    now = _ranking_pairs("abc") + _ranking_pairs("def", "p2")
    parent = _ranking_pairs("cba") + _ranking_pairs("dfe", "p2")  # p1 reversed (τ = −1); p2 one swap (τ = 1/3)
    taus = ranking_taus(now, parent)
    assert taus["p1"] == pytest.approx(-1.0) and taus["p2"] == pytest.approx(1 / 3)
    c = FilterContext({}, {}, all_pairs=tuple(now), parent_pairs=tuple(parent))
    run = filter_pairs(now, [CrossVersionFilter(min_tau=0.0)], c)
    assert {p.prompt_id for p in run.kept} == {"p2"}
    run = filter_pairs(now, [CrossVersionFilter(min_tau=0.5, action="downweight")], c)
    weights = {p.prompt_id: p.weight for p in run.kept}
    assert weights == {"p1": 0.0, "p2": pytest.approx((1 + 1 / 3) / 2)} and len(run.derived) == 6
    assert all(d.replaced_by for d in run.decisions)
    no_parent = filter_pairs(now, [CrossVersionFilter()], FilterContext({}, {}))
    assert len(no_parent.kept) == 6 and no_parent.decisions[0].reason == "no parent version"


def test_funnel_counts_drops_and_changes_per_filter_in_order():
    from prefsynth.tasks.judge.jury import Jury, JurorSpec

    jury = Jury.of([JurorSpec("S1", score_range=(1, 10)), JurorSpec("S2", score_range=(1, 10))])
    good = [j("g1", "A", "x", "y", "A>>B"), j("g2", "A", "y", "x", "B>>A")]
    # S1 and S2 rate x one point higher (of 1–10) in both orders: +2/9 each, μ = 2/9 — a weak preference
    weak = [j(f"w{k}", f"S{k}", "x", "y", scores=(6.0, 5.0)) for k in (1, 2)] + [
        j(f"w{k}r", f"S{k}", "y", "x", scores=(5.0, 6.0)) for k in (1, 2)]
    tie = [j("t1", "A", "x", "y", "A=B"), j("t2", "A", "y", "x", "A=B")]
    # The same two weak raters for x, and C prefers y much in both orders: x by majority, μ = (4/9 − 2) / 3 → flipped.
    flip = [w.model_copy(update={"id": "f" + w.id}) for w in weak] + [
        j("f5", "C", "x", "y", "B>>A"), j("f6", "C", "y", "x", "A>>B")]
    pairs = [aggregate(X, Y, js, jury) for js in (good, weak, tie, flip)]
    configs = [DropTiesFilter(), StrengthFilter(min_strength=0.5, flip=True), PositionSwapFilter()]
    run = filter_pairs(pairs, configs, ctx([X, Y], good + weak + tie + flip, jury=jury))
    f = funnel(len(pairs), configs, run.decisions)
    assert f["pairs_in"] == 4 and f["pairs_out"] == len(run.kept) == 2
    assert f["steps"][0] == {"filter": "drop_ties", "in": 4, "dropped": 1, "reasons": {"tie": 1}}
    assert f["steps"][1]["dropped"] == 1 and f["steps"][1]["changed"] == {
        "label flipped (mean margin favours the rejected response)": 1}
    assert [p.chosen_id for p in run.kept] == ["x", "y"]  # good, and the flipped pair (its jurors flip-checked)
    labels = funnel(1, [DropTiesFilter(), DropTiesFilter()], [])["steps"]
    assert [s["filter"] for s in labels] == ["drop_ties#1", "drop_ties#2"]


def test_a_flipped_label_gets_its_own_agreement_and_tie():
    """issue 12 item 10: a flip kept the old `agreement` (4/5), so a later agreement filter passed a label backed
    by 1 juror of 5. After a flip, agreement is the share of jurors for the new chosen response."""
    js = [j("a", "A", "x", "y", "A>B"), j("b", "B", "x", "y", "A>B"), j("c", "C", "y", "x", "B>>A"),
          j("d", "D", "y", "x", "B>>A"), j("e", "E", "x", "y", "B>>A")]
    pair = aggregate(X, Y, js)  # A, B for x (+1 each); C, D for x (+2 each); E for y (−2): x by 4 of 5
    assert pair.chosen_id == "x" and pair.agreement == pytest.approx(4 / 5)
    weak = pair.model_copy(update={"margin": -0.6})  # as if μ favoured the rejected response
    run = filter_pairs([weak], [StrengthFilter(min_strength=0.5, flip=True), AgreementFilter(min_agreement=0.6)],
                       ctx([X, Y], js))
    flipped = run.derived[0]
    assert flipped.chosen_id == "y" and flipped.agreement == pytest.approx(1 / 5) and not flipped.tie
    assert run.kept == [] and run.decisions[-1].reason == "agreement below 0.6"

    # The same on votes that really disagree: four jurors rate x one point higher on 1–10 (+2/9 each), E prefers
    # y much (−2): x by majority, μ = (8/9 − 2) / 5 < 0.
    from prefsynth.tasks.judge.jury import Jury, JurorSpec

    js = [j(k, k.upper(), "x", "y", scores=(6.0, 5.0)) for k in "abcd"] + [j("e", "E", "x", "y", "B>>A")]
    jury = Jury.of([JurorSpec(k, score_range=(1, 10)) for k in "ABCD"])
    pair = aggregate(X, Y, js, jury)
    assert pair.chosen_id == "x" and pair.margin == pytest.approx((8 / 9 - 2) / 5)
    out = strength(StrengthFilter(min_strength=0.2, flip=True), pair, ctx([X, Y], js, jury=jury))
    assert (out.pair.chosen_id, out.pair.tie, out.pair.agreement) == ("y", False, pytest.approx(1 / 5))
    assert (out.pair.chosen_share, out.pair.rejected_share) == (pytest.approx(1 / 5), pytest.approx(4 / 5))


def test_length_bias_recount_decides_whatever_an_earlier_filter_did():
    """issue 12 item 11: after an earlier filter changed a pair (here a flip), length_bias kept it unchanged even
    when the recount's winner was the other response. The recount decides, whatever came before."""
    long, short = sample("L", "word " * 150), sample("S", "brief")
    # A, B, G: L much better (+2 each); C, D: L slightly better (ties after the recount); F: S much better.
    # Recount: 2, 2, 2, 0, 0, −2 → L. The jury's pair (L) is flipped to S by hand first.
    js = [j("a", "A", "L", "S", "A>>B"), j("b", "B", "S", "L", "B>>A"), j("g", "G", "L", "S", "A>>B"),
          j("c", "C", "L", "S", "A>B"), j("d", "D", "S", "L", "B>A"), j("f", "F", "S", "L", "A>>B")]
    c = ctx([long, short], js)
    pair = aggregate(long, short, js)
    assert pair.chosen_id == "L"
    flipped = pair.model_copy(update={"id": "flipped", "derived_from": pair.id, "chosen_id": "S", "rejected_id": "L",
                                      "margin": -pair.margin})
    direct = length_bias(LengthBiasFilter(), pair, c)
    after_flip = length_bias(LengthBiasFilter(), flipped, c)
    assert direct.pair.chosen_id == after_flip.pair.chosen_id == "L"
    fields = ("chosen_id", "rejected_id", "margin", "tie", "agreement", "margin_std", "chosen_share")
    assert [getattr(after_flip.pair, f) for f in fields] == [getattr(direct.pair, f) for f in fields]
    assert after_flip.pair.derived_from == pair.id


def test_rank_consistency_exports_c_on_every_pair_it_can_rank():
    """issue 12 item 16: CREAM uses C = (τ + 1)/2 as a soft label; the filter records C on each pair of a prompt
    whose ranking it could compare (None where τ is undefined), and a down-weight multiplies by the same C."""
    from prefsynth.schemas.stages import RankConsistencyFilter

    now = _ranking_pairs("abc") + _ranking_pairs("def", "p2") + _ranking_pairs("gh", "p3")
    parent = _ranking_pairs("cba") + _ranking_pairs("dfe", "p2")  # p1: τ = −1; p2: τ = 1/3; p3: no parent ranking
    c = FilterContext({}, {}, all_pairs=tuple(now), parent_pairs=tuple(parent))
    run = filter_pairs(now, [RankConsistencyFilter(min_tau=-1.0)], c)  # keeps all, records C
    consistency = {p.prompt_id: p.consistency for p in run.kept}
    assert consistency == {"p1": 0.0, "p2": pytest.approx(2 / 3), "p3": None}
    assert {p.prompt_id: p.weight for p in run.kept} == {"p1": 1.0, "p2": 1.0, "p3": 1.0}
    assert all(p.derived_from for p in run.kept if p.prompt_id != "p3")
    run = filter_pairs(now, [RankConsistencyFilter(min_tau=0.5, action="downweight")], c)
    p2 = [(p.weight, p.consistency) for p in run.kept if p.prompt_id == "p2"]
    assert p2 == [(pytest.approx(2 / 3), pytest.approx(2 / 3))] * 3
