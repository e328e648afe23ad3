"""RunLimits (runtime/budget.py): how many requests a build may still send, and when its failures stop it."""

from __future__ import annotations

import pytest

from prefsynth.runtime.budget import MIN_CALLS_FOR_RATE, BudgetConfig, Price, RunLimits
from prefsynth.runtime.calls import CallStats


def spent(calls=0, errors=0, tokens=0, cost=0.0) -> CallStats:
    return CallStats(engine_calls=calls, errors=errors, prompt_tokens=tokens, cost=cost, last_error="HTTP 503")


def test_no_budget_allows_every_request():
    assert RunLimits().allowance(spent(10_000, tokens=10**9), 0, 2, 32) == 32


@pytest.mark.parametrize(
    "calls, reserved, per_request, expected",
    [
        (0, 0, 1, 10),  # the whole batch fits
        (12, 0, 1, 8),  # cut to what is left
        (12, 4, 1, 4),  # calls in flight count as spent
        (12, 0, 2, 4),  # a request that may be re-asked counts twice
        (19, 0, 2, 0),  # one call left, but a request may need two: stop (never exceed)
        (20, 0, 1, 0),
    ],
)
def test_max_calls_is_a_hard_limit(calls, reserved, per_request, expected):
    limits = RunLimits(budget=BudgetConfig(max_calls=20))
    assert limits.allowance(spent(calls), reserved, per_request, 10) == expected


def test_token_limit_cuts_batches_by_the_average_call():
    limits = RunLimits(budget=BudgetConfig(max_tokens=1000))
    assert limits.allowance(spent(0), 0, 1, 32) == 32  # nothing known yet: one batch
    assert limits.allowance(spent(10, tokens=500), 0, 1, 32) == 10  # 50 per call, 500 left
    assert limits.allowance(spent(10, tokens=500), 4, 1, 32) == 6  # 4 calls in flight
    assert limits.allowance(spent(19, tokens=990), 0, 1, 32) == 1  # below the limit, one request may always go
    assert limits.allowance(spent(19, tokens=990), 1, 1, 32) == 0  # ... unless one is already in flight
    assert limits.allowance(spent(20, tokens=1000), 0, 1, 32) == 0


def test_cost_comes_from_the_prices_of_each_engine():
    limits = RunLimits(budget=BudgetConfig(max_cost=1.0, prices={"a": Price(input_per_mtok=2.0, output_per_mtok=8.0)}))
    assert limits.cost("a", 1_000_000, 500_000) == pytest.approx(6.0)
    assert limits.cost("unpriced", 10**6, 10**6) == 0.0
    assert limits.allowance(spent(4, cost=0.5), 0, 1, 32) == 4
    assert limits.allowance(spent(4, cost=1.0), 0, 1, 32) == 0


def test_prices_must_name_engines_and_cover_them_for_max_cost():
    BudgetConfig(prices={"a": Price(input_per_mtok=1, output_per_mtok=1)}).check_prices(["a", "b"])  # no max_cost
    with pytest.raises(ValueError, match="no engine named 'c'"):
        BudgetConfig(prices={"c": Price(input_per_mtok=1, output_per_mtok=1)}).check_prices(["a"])
    with pytest.raises(ValueError, match="missing 'b'"):
        BudgetConfig(max_cost=1, prices={"a": Price(input_per_mtok=1, output_per_mtok=1)}).check_prices(["a", "b"])


def test_error_rate_waits_for_enough_calls_then_stops_and_always_checks_at_the_end():
    limits = RunLimits(max_error_rate=0.25)
    few = spent(MIN_CALLS_FOR_RATE - 1, errors=MIN_CALLS_FOR_RATE - 1)
    assert limits.error_message(few, final=False) is None
    assert "19 of 19 engine calls failed after retries (100%" in limits.error_message(few, final=True)
    assert "last error: HTTP 503" in limits.error_message(few, final=True)
    assert limits.error_message(spent(20, errors=5), final=False) is None  # exactly at the threshold is fine
    assert "6 of 20" in limits.error_message(spent(20, errors=6), final=False)
    assert limits.error_message(spent(0), final=True) is None  # no calls, nothing to judge
