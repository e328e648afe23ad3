"""Aggregation of both-order judgments into pairs, and the filters with their reasons."""

from prefsynth.schemas.preference import Judgment, Sample
from prefsynth.schemas.stages import DropTiesFilter, PositionSwapFilter
from prefsynth.tasks.filters import FilterContext, drop_ties, funnel, position_swap, run_filters
from prefsynth.tasks.pairs import aggregate, candidate_pairs


def sample(sid: str, prompt: str = "p1", status: str = "ok") -> Sample:
    return Sample(id=sid, prompt_id=prompt, policy="pol", model="m", index=0, text=sid, status=status)


def judgment(jid: str, first: str, second: str, verdict: str | None, status: str = "ok") -> Judgment:
    return Judgment(
        id=jid, prompt_id="p1", judge="j", first_id=first, second_id=second, status=status,
        verdict=verdict if status == "ok" else None,
    )


X, Y = sample("x"), sample("y")


def ctx_for(*judgments: Judgment) -> FilterContext:
    return FilterContext({j.id: j for j in judgments}, {X.id: X, Y.id: Y})


def test_consistent_orders_pick_the_winner_with_mean_margin():
    # (x, y): A>>B means x by 2; (y, x): B>A means x by 1 → mean 1.5 for x
    js = [judgment("j1", "x", "y", "A>>B"), judgment("j2", "y", "x", "B>A")]
    pair = aggregate(X, Y, js)
    assert (pair.chosen_id, pair.rejected_id) == ("x", "y")
    assert pair.margin == 1.5 and not pair.tie
    assert pair.agreement == 1.0 and pair.n_parsed == 2
    assert position_swap(pair, ctx_for(*js)) == (True, "same winner in both orders")


def test_position_bias_flips_and_is_dropped():
    # The judge always prefers the response shown first: x wins one order, y the other.
    js = [judgment("j1", "x", "y", "A>B"), judgment("j2", "y", "x", "A>B")]
    pair = aggregate(X, Y, js)  # its two orders cancel: the juror abstains (issue 17 item 6), no vote at all
    assert pair.tie and pair.margin == 0 and pair.agreement == 0.0 and pair.chosen_share == 0.0
    assert position_swap(pair, ctx_for(*js)) == (False, "verdict flips when the order is swapped")


def test_winner_for_y_when_margins_favour_it():
    js = [judgment("j1", "x", "y", "B>>A"), judgment("j2", "y", "x", "A=B")]
    pair = aggregate(X, Y, js)
    assert (pair.chosen_id, pair.margin) == ("y", 1.0)  # one juror: the mean of its orders, −2 and 0
    assert pair.agreement == 1.0 and pair.margin_std == 0.0
    assert position_swap(pair, ctx_for(*js))[0] is False


def test_parse_error_never_becomes_a_verdict():
    js = [judgment("j1", "x", "y", "A>B"), judgment("j2", "y", "x", None, status="parse_error")]
    pair = aggregate(X, Y, js)
    assert pair.n_parsed == 1 and pair.margin == 1.0
    assert position_swap(pair, ctx_for(*js)) == (False, "no verdict in one order (parse_error)")


def test_nothing_parsed_is_a_tie_without_verdict():
    js = [judgment("j1", "x", "y", None, "error"), judgment("j2", "y", "x", None, "parse_error")]
    pair = aggregate(X, Y, js)
    assert pair.tie and pair.n_parsed == 0
    assert drop_ties(pair, ctx_for(*js)) == (False, "no parsed verdict")


def test_run_filters_records_every_decision_and_the_funnel():
    good = [judgment("g1", "x", "y", "A>B"), judgment("g2", "y", "x", "B>A")]
    flip = [judgment("f1", "x", "y", "A>B"), judgment("f2", "y", "x", "A>B")]
    tie = [judgment("t1", "x", "y", "A=B"), judgment("t2", "y", "x", "A=B")]
    pairs = [aggregate(X, Y, js) for js in (good, flip, tie)]
    configs = [PositionSwapFilter(), DropTiesFilter()]
    kept, decisions = run_filters(pairs, configs, ctx_for(*good, *flip, *tie))
    assert [p.id for p in kept] == [pairs[0].id]
    assert [(d.filter, d.keep) for d in decisions] == [
        ("position_swap", True), ("drop_ties", True),  # good
        ("position_swap", False),  # flip stops at the first filter
        ("position_swap", True), ("drop_ties", False),  # tie passes the swap check, then is dropped
    ]
    f = funnel(len(pairs), configs, decisions)
    assert f["pairs_in"] == 3 and f["pairs_out"] == 1
    assert f["steps"][0] == {"filter": "position_swap", "in": 3, "dropped": 1,
                             "reasons": {"verdict flips when the order is swapped": 1}}
    assert f["steps"][1]["in"] == 2 and f["steps"][1]["reasons"] == {"tie": 1}


def test_candidate_pairs_skip_errors_and_duplicates_and_stay_within_a_prompt():
    samples = [sample("a"), sample("b"), sample("c", status="error"), sample("d", status="duplicate"),
               sample("e", status="truncated"), sample("z", prompt="p2")]
    pairs = [(x.id, y.id) for x, y in candidate_pairs(samples)]
    assert pairs == [("a", "b"), ("a", "e"), ("b", "e")]
