"""Issue 17 items 1 and 6: `weight:` on any juror (one juror = one weighted vote, whatever its orders) and
abstention (a tie, a parse error, a reward model's |score difference| below its threshold is no vote)."""

import pytest

from prefsynth.config.load import ConfigError, load_config
from prefsynth.config.preference import JudgeEvalConfig
from prefsynth.tasks.judge.panel import seat
from prefsynth.schemas.preference import Judgment, Sample
from prefsynth.tasks.judge.jury import Jury, JurorSpec, aggregate, juror_votes


def sample(sid: str) -> Sample:
    return Sample(id=sid, prompt_id="p1", policy="pol", model="m", index=0, text=sid)


X, Y = sample("x"), sample("y")


def ordered(jid, judge, first, second, verdict=None, status="ok", scores=(None, None)):
    return Judgment(id=jid, prompt_id="p1", judge=judge, protocol="imported", first_id=first, second_id=second,
                    status=status, verdict=verdict, score_a=scores[0], score_b=scores[1])


def config(tmp_path, jury: str):
    path = tmp_path / "jury.yaml"
    path.write_text(f"jury:\n{jury}")
    return load_config(path, JudgeEvalConfig)


def test_weight_from_the_config_decides_the_label_and_both_orders_are_one_juror(tmp_path):
    cfg = config(tmp_path, "  - {kind: imported, judge: strong, weight: 2.5}\n"
                           "  - {kind: imported, judge: rm1}\n  - {kind: imported, judge: rm2}\n")
    jury = seat(cfg.jurors, None).jury
    assert [(s.judge, s.weight) for s in jury.specs] == [("rm1", 1.0), ("rm2", 1.0), ("strong", 2.5)]
    # strong prefers x in both orders (two readings, one vote of 2.5); rm1 and rm2 prefer y once each.
    js = [ordered("s1", "strong", "x", "y", "A>B"), ordered("s2", "strong", "y", "x", "B>A"),
          ordered("r1", "rm1", "x", "y", "B>A"), ordered("r2", "rm2", "y", "x", "A>B")]
    pair = aggregate(X, Y, js, jury)
    assert (pair.chosen_id, pair.tie) == ("x", False)
    assert pair.agreement == pytest.approx(2.5 / 4.5) and pair.margin == pytest.approx((2.5 - 2) / 4.5)
    unweighted = aggregate(X, Y, js, Jury())  # one vote each: y by 2 to 1
    assert unweighted.chosen_id == "y" and unweighted.agreement == pytest.approx(2 / 3)
    assert pair.id != unweighted.id  # the weights are part of what the pair was counted with


def test_weight_is_not_an_identity_and_must_not_be_negative(tmp_path):
    with pytest.raises(ConfigError, match="the same judge"):
        config(tmp_path, "  - {kind: imported, judge: a}\n  - {kind: imported, judge: a, weight: 2}\n")
    with pytest.raises(ConfigError, match="weight"):
        config(tmp_path, "  - {kind: imported, judge: a, weight: -1}\n")


def test_a_tie_a_parse_error_and_a_small_score_difference_abstain(tmp_path):
    cfg = config(tmp_path, "  - {kind: imported, judge: rm, score_min: 0, score_max: 10, abstain_below: 0.5}\n"
                           "  - {kind: imported, judge: tie}\n  - {kind: imported, judge: broken}\n"
                           "  - {kind: imported, judge: one}\n")
    jury = seat(cfg.jurors, None).jury
    js = [ordered("r1", "rm", "x", "y", scores=(3.2, 3.0)),  # |0.2| < 0.5: abstains
          ordered("t1", "tie", "x", "y", "A=B"), ordered("t2", "tie", "y", "x", "A=B"),  # a tie: abstains
          ordered("b1", "broken", "x", "y", status="parse_error"),
          ordered("o1", "one", "y", "x", "A>B")]  # y shown first and preferred: the only vote, for y
    votes = {v.judge: v.vote for v in juror_votes(X, Y, js, jury)}
    assert votes == {"rm": None, "tie": None, "broken": None, "one": -1.0}
    pair = aggregate(X, Y, js, jury)
    assert (pair.chosen_id, pair.tie, pair.agreement, pair.margin) == ("y", False, 1.0, 1.0)
    assert (pair.chosen_share, pair.rejected_share) == (1.0, 0.0)
    # Above its threshold the reward model votes (0.8 of 0..10 → 0.16 for x): now a split, a tie.
    js[0] = ordered("r1", "rm", "x", "y", scores=(3.8, 3.0))
    assert aggregate(X, Y, js, jury).tie


def test_a_juror_whose_orders_cancel_abstains():
    """Position bias: 'the first one is better' in both orders is no preference at all — not a tie vote that
    would split the jury (it used to make [x, 0] a tie against one decided juror)."""
    js = [ordered("a1", "A", "x", "y", "A>B"), ordered("a2", "A", "y", "x", "A>B"),  # A: first wins, both times
          ordered("b1", "B", "x", "y", "A>>B")]
    assert [(v.judge, v.vote) for v in juror_votes(X, Y, js, Jury())] == [("A", None), ("B", 2.0)]
    pair = aggregate(X, Y, js)
    assert (pair.chosen_id, pair.tie, pair.agreement) == ("x", False, 1.0)
    assert pair.n_parsed == 3  # every reading parsed; the juror abstains, the readings stay on record
    assert JurorSpec("rm", (0.0, 1.0), abstain_below=0.1).on_scale(0.05) is None
