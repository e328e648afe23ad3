"""Jury aggregation: one vote per juror on −2..2, majority with split → tie, μ and σ, agreement; pairing."""

import pytest

from prefsynth.schemas.judges import PairingConfig
from prefsynth.schemas.preference import Judgment, Sample
from prefsynth.tasks.judge.jury import Jury, JurorSpec, aggregate, jury_agreement, majority, votes_for
from prefsynth.tasks.pairs import mean_scores, select_pairs


def sample(sid: str, prompt: str = "p1", text: str | None = None) -> Sample:
    return Sample(id=sid, prompt_id=prompt, policy="pol", model="m", index=0, text=text or sid)


def ordered(jid, judge, first, second, verdict=None, status="ok", score_a=None, score_b=None):
    return Judgment(id=jid, prompt_id="p1", judge=judge, protocol="pairwise", first_id=first, second_id=second,
                    status=status, verdict=verdict, score_a=score_a, score_b=score_b)


def rating(jid, judge, sid, score, status="ok"):
    return Judgment(id=jid, prompt_id="p1", judge=judge, protocol="pointwise", first_id=sid, second_id=None,
                    status=status, score_a=score if status == "ok" else None)


X, Y = sample("x"), sample("y")


@pytest.mark.parametrize(
    "margins, winner",
    [([2, 1], 1), ([1, -1], 0), ([-2, 0], 0), ([1, 1, -2], 1), ([0, 0, 1], 0), ([], 0), ([-1, -1, 0, 2], -1)],
)
def test_majority_with_split_as_tie(margins, winner):
    assert majority(margins) == winner


def test_three_jurors_majority_mean_and_spread():
    # Jurors A and B prefer x slightly in both orders; C prefers y strongly in both: votes 1, 1, 1, 1, −2, −2.
    js = [
        ordered("a1", "A", "x", "y", "A>B"), ordered("a2", "A", "y", "x", "B>A"),
        ordered("b1", "B", "x", "y", "A>B"), ordered("b2", "B", "y", "x", "B>A"),
        ordered("c1", "C", "x", "y", "B>>A"), ordered("c2", "C", "y", "x", "A>>B"),
    ]
    pair = aggregate(X, Y, js)
    assert (pair.chosen_id, pair.tie) == ("x", False)  # 4 votes for x against 2
    assert pair.margin == pytest.approx(0.0)  # μ = (4 − 4) / 6
    # σ (population) of [1, 1, 1, 1, −2, −2] around 0: √((4 + 8) / 6) = √2
    assert pair.margin_std == pytest.approx(2 ** 0.5)
    assert pair.agreement == pytest.approx(4 / 6) and pair.n_parsed == 6 and pair.n_judgments == 6


def test_majority_and_mean_can_disagree_then_the_strength_is_negative():
    js = [ordered("a", "A", "x", "y", "A>B"), ordered("b", "B", "x", "y", "A>B"), ordered("c", "C", "x", "y", "B>>A"),
          ordered("d", "D", "y", "x", "A>>B")]
    pair = aggregate(X, Y, js)  # votes 1, 1, −2, −2: a 2–2 split → tie, oriented by the mean (−0.5 → y)
    assert pair.tie and pair.chosen_id == "y" and pair.margin == pytest.approx(0.5)
    js = js[:3] + [ordered("d", "D", "x", "y", "A>B")]  # 1, 1, −2, 1: x by majority, μ = 0.25
    pair = aggregate(X, Y, js)
    assert pair.chosen_id == "x" and not pair.tie and pair.margin == pytest.approx(0.25)
    js = [ordered("a", "A", "x", "y", "A>B"), ordered("b", "B", "x", "y", "A>B"),
          ordered("c", "C", "x", "y", score_a=1.0, score_b=9.0)]  # scores on 1–9: −8/8 × 2 = −2
    pair = aggregate(X, Y, js, Jury.of([JurorSpec("C", score_range=(1, 9))]))
    assert pair.chosen_id == "x" and pair.margin == pytest.approx((1 + 1 - 2) / 3)
    assert (pair.chosen_score, pair.rejected_score) == (1.0, 9.0)


def test_pointwise_ratings_vote_once_per_juror_with_the_score_difference():
    js = [rating("r1", "P", "x", 5), rating("r2", "P", "y", 2), rating("r3", "Q", "x", 3), rating("r4", "Q", "y", 4),
          rating("r5", "R", "x", 4), rating("r6", "R", "y", 0, status="parse_error")]
    jury = Jury.of([JurorSpec(k, score_range=(1, 5)) for k in "PQR"])  # a difference d votes d / 4 × 2
    votes = votes_for(X, Y, js, jury)
    assert [(v.judge, v.slot, v.margin) for v in votes] == [("P", "scores", 1.5), ("Q", "scores", -0.5),
                                                            ("R", "scores", None)]
    pair = aggregate(X, Y, js, jury)  # P for x, Q for y (R abstains): a split, oriented by μ = 0.5
    assert pair.chosen_id == "x" and pair.tie and pair.margin == pytest.approx(0.5) and pair.n_parsed == 2
    assert pair.chosen_score == pytest.approx(4.0) and pair.rejected_score == pytest.approx(3.0)  # means of ratings


def test_jury_agreement_over_pairs_with_a_missing_juror():
    # Two raters (juror J in both orders) over three pairs; in pair 3 the second order did not parse.
    pairs = [
        [ordered("1a", "J", "x", "y", "A>B"), ordered("1b", "J", "y", "x", "B>A")],  # x, x
        [ordered("2a", "J", "x", "y", "A>B"), ordered("2b", "J", "y", "x", "A>B")],  # x, y
        [ordered("3a", "J", "x", "y", "B>A"), ordered("3b", "J", "y", "x", None, status="parse_error")],  # y, −
    ]
    stats = jury_agreement([votes_for(X, Y, js) for js in pairs])
    assert stats["raters"] == 2 and stats["pairs"] == 3 and stats["complete_pairs"] == 2
    # Fleiss on complete pairs [[1, 1], [1, −1]]: P̄ = 1/2, p = (3/4, 1/4) → P_e = 5/8 → κ = (1/2 − 5/8) / (3/8)
    assert stats["fleiss_kappa"] == pytest.approx(-1 / 3, abs=1e-4)
    # α nominal: coincidences o(1,1) = 2, o(1,−1) = o(−1,1) = 1 → n = 4, D_o = 1/2, D_e = 2·3·1/12 → α = 0
    assert stats["alpha_nominal"] == pytest.approx(0.0, abs=1e-4)


def test_pairing_strategies_from_mean_pointwise_scores():
    s = [sample(n) for n in "abcd"] + [sample("e", prompt="p2"), sample("f", prompt="p2")]
    ratings = [rating(f"r{n}{k}", f"J{k}", n, v) for n, vs in
               {"a": (3, 3), "b": (5, 4), "c": (1, 2), "d": (4.5, 4.5), "e": (2, 2), "f": (2, 2)}.items()
               for k, v in enumerate(vs)]
    scores = mean_scores(ratings)
    assert scores == {"a": 3, "b": 4.5, "c": 1.5, "d": 4.5, "e": 2, "f": 2}

    def ids(strategy):
        return [(x.id, y.id) for x, y in select_pairs(s, PairingConfig(strategy=strategy), scores)]

    assert ids("best_vs_worst") == [("b", "c")]  # b and d tie at 4.5: the earlier sample ranks first; p2: no spread
    assert ids("best_vs_each") == [("b", "a"), ("b", "c")]  # d scores as much as b: no preference to learn
    assert len(ids("all_pairs")) == 6 + 1


def imported(jid, judge, first, second, score_a, score_b):
    return Judgment(id=jid, prompt_id="p1", judge=judge, protocol="imported", first_id=first, second_id=second,
                    status="ok", score_a=score_a, score_b=score_b)


def test_every_vote_is_on_one_scale_so_a_wide_scale_juror_cannot_outvote_the_jury():
    """issue 12 item 12: a 1–10 rating difference (−7) outweighed four slight wins (μ = −0.6, a flip candidate).

    On the vote scale a rating difference is divided by the rubric range and doubled: −7/9 × 2 ≈ −1.56.
    """
    from prefsynth.schemas.stages import StrengthFilter
    from prefsynth.tasks.filter_rules import FilterContext, strength
    from prefsynth.tasks.judge.jury import Jury, JurorSpec, juror_votes

    js = [ordered("a1", "A", "x", "y", "A>B"), ordered("a2", "A", "y", "x", "B>A"),
          ordered("b1", "B", "x", "y", "A>B"), ordered("b2", "B", "y", "x", "B>A"),
          rating("p1", "P", "x", 3), rating("p2", "P", "y", 10)]
    jury = Jury.of([JurorSpec("P", score_range=(1, 10))])
    p_vote = -7 / 9 * 2
    votes = juror_votes(X, Y, js, jury)
    assert [(v.judge, v.vote) for v in votes] == [("A", 1.0), ("B", 1.0), ("P", pytest.approx(p_vote))]
    assert [len(v.readings) for v in votes] == [2, 2, 1]  # each order kept under its juror
    pair = aggregate(X, Y, js, jury)
    assert (pair.chosen_id, pair.tie) == ("x", False)
    assert pair.margin == pytest.approx((1 + 1 + p_vote) / 3) and pair.agreement == pytest.approx(2 / 3)
    ctx = FilterContext({j.id: j for j in js}, {X.id: X, Y.id: Y}, jury=jury)
    assert strength(StrengthFilter(min_strength=0.1, flip=True), pair, ctx) == (True, "strong preference")


def test_a_pairwise_juror_votes_once_however_many_orders_it_judged():
    """issue 12 item 12: a pairwise juror's two orders are one vote (their mean); a pointwise juror is one vote."""
    from prefsynth.tasks.judge.jury import Jury, JurorSpec

    # A: x by 2 and by 1 → one vote 1.5; P (1–5 rubric) prefers y by 2 points → −2/4 × 2 = −1. One juror each:
    # a split, so a tie oriented by μ = 0.25 (old: votes 2, 1, −2 → x by majority).
    js = [ordered("a1", "A", "x", "y", "A>>B"), ordered("a2", "A", "y", "x", "B>A"),
          rating("p1", "P", "x", 2), rating("p2", "P", "y", 4)]
    pair = aggregate(X, Y, js, Jury.of([JurorSpec("P", score_range=(1, 5))]))
    assert pair.tie and pair.chosen_id == "x" and pair.margin == pytest.approx(0.25)
    assert pair.margin_std == pytest.approx(1.25) and pair.n_parsed == 3
    # Weights from the config count instead of one each: P at weight 2 outvotes A.
    weighted = aggregate(X, Y, js, Jury.of([JurorSpec("P", score_range=(1, 5), weight=2.0)]))
    assert (weighted.chosen_id, weighted.tie) == ("y", False)
    assert weighted.margin == pytest.approx((2 * 1 - 1.5) / 3) and weighted.agreement == pytest.approx(2 / 3)


def test_abstaining_jurors_and_scores_without_a_range():
    """issue 12 item 12: a juror with no parsed reading abstains (not a vote); a score difference of unknown range
    (an imported reward model without `score_min`/`score_max`) votes its sign only, as a slight preference."""
    from prefsynth.tasks.judge.jury import Jury, JurorSpec, juror_votes

    js = [ordered("a1", "A", "x", "y", "A>>B"), ordered("a2", "A", "y", "x", "B>>A"),
          ordered("c1", "C", "x", "y", None, status="parse_error"), ordered("c2", "C", "y", "x", None, status="error"),
          imported("r1", "RM", "x", "y", -4.5, 0.5)]
    votes = juror_votes(X, Y, js, Jury())
    assert [(v.judge, v.vote) for v in votes] == [("A", 2.0), ("C", None), ("RM", -1.0)]
    pair = aggregate(X, Y, js, Jury())
    assert pair.chosen_id == "x" and pair.tie  # A against RM: a split; C's failures are not votes
    ranged = juror_votes(X, Y, js, Jury.of([JurorSpec("RM", score_range=(-10, 10))]))
    assert ranged[-1].vote == pytest.approx(-5 / 20 * 2)


def test_the_docs_say_the_majority_of_vote_signs_decides_as_the_code_does():
    """issue 12 item 15: README said the mean margin decides chosen/rejected and zero is a tie; the code takes the
    majority of the vote signs (a split is a tie). The docs now say what the code does, and the code does it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    readme, judging = (" ".join((root / f).read_text().replace("*", "").split()) for f in ("README.md", "docs/judging.md"))
    assert "the mean margin decides chosen/rejected" not in readme
    assert "majority of the vote signs decides chosen/rejected" in readme and "majority of the vote signs" in judging
    assert "cross_version` (Kendall τ against the parent version, CREAM)" not in readme  # item 16: its real name
    # Majority for x (A: 1 and 0 → 0.5; B: 1) against C (−2): x is chosen though μ = −1/6 favours y.
    js = [ordered("a", "A", "x", "y", "A>B"), ordered("a2", "A", "y", "x", "A=B"), ordered("b", "B", "x", "y", "A>B"),
          ordered("c", "C", "x", "y", "B>>A"), ordered("d", "C", "y", "x", "A>>B")]
    pair = aggregate(X, Y, js, Jury())
    assert pair.chosen_id == "x" and not pair.tie and pair.margin == pytest.approx(-1 / 6)
    split = aggregate(X, Y, js[3:] + js[2:3], Jury())  # B for x, C for y: a split is a tie, oriented by μ
    assert split.tie and split.chosen_id == "y" and split.margin == pytest.approx(0.5)
