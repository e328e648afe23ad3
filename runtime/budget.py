"""Limits of one build: what it may spend (calls, tokens, cost) and how many of its engine calls may fail.

`CallRunner` (runtime/calls.py), the one place engine calls are made, asks `RunLimits` before it sends each
request (server engines, streamed) or batch (in-process engines) and counts each reply as it comes back. A build
that reaches a limit sends nothing more, waits for what is in flight (those replies are cached), and stops with
`BuildStopped`: no version is written, and a rerun with a higher limit pays only for the calls the first run
did not make.

How exact the limits are:
- `max_calls` is never exceeded: a request (batch) goes out only if its calls fit next to every call already in
  flight, counting a request that may get a follow-up (the judge's re-ask) as two calls.
- `max_tokens` and `max_cost` are only known after the replies: the calls in flight are counted at the build's
  average tokens (cost) per call so far, a request (batch) goes out only if it fits too, and nothing is sent
  once the limit is reached. A build can overshoot by what its calls in flight spend beyond that average — at
  most the engine's `max_concurrency` (plus a quarter) streamed requests, or `batches_in_flight × batch_size`
  calls; one request's worth when the calls are alike.
- `max_error_rate` is checked after every reply (batch) once `MIN_CALLS_FOR_RATE` calls were made (so a dead
  server stops a build after those calls and the ones in flight instead of retrying every prompt), and over all
  calls before the version is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FORBID = ConfigDict(extra="forbid")
MIN_CALLS_FOR_RATE = 20


class Price(BaseModel):
    """What one engine's model costs, per million tokens (any currency: `max_cost` is in the same unit)."""

    model_config = _FORBID
    input_per_mtok: float = Field(..., ge=0, description="Price of one million prompt tokens")
    output_per_mtok: float = Field(..., ge=0, description="Price of one million completion tokens")


class BudgetConfig(BaseModel):
    """Spending limits of one build (cache hits are free). Reaching one stops the build without a version."""

    model_config = _FORBID
    max_calls: int | None = Field(None, ge=1, description="Engine calls (cache misses, re-asks included)")
    max_tokens: int | None = Field(None, ge=1, description="Prompt + completion tokens of those calls")
    max_cost: float | None = Field(None, gt=0, description="Cost of those calls, from `prices`")
    prices: dict[str, Price] = Field(
        default_factory=dict, description="Price per engine (a key of `engines`: one model each); needed by max_cost"
    )

    def check_prices(self, engines: Iterable[str]) -> None:
        """Every engine needs a price when a cost limit is set (a missing one would count as free)."""
        engines = list(engines)
        unknown = sorted(set(self.prices) - set(engines))
        if unknown:
            raise ValueError(f"budget.prices: no engine named {', '.join(map(repr, unknown))} "
                             f"(engines: {', '.join(engines) or 'none'})")
        missing = [e for e in engines if e not in self.prices]
        if self.max_cost is not None and missing:
            raise ValueError("budget.prices: max_cost needs a price for every engine; missing "
                             + ", ".join(map(repr, missing)))


class LimitFields(BaseModel):
    """The config fields of a build's limits (mixed into each build flow's config model)."""

    model_config = _FORBID
    budget: BudgetConfig = Field(default_factory=BudgetConfig, description="Spending limits (cache hits are free)")
    max_error_rate: float = Field(
        0.25, ge=0, le=1,
        description="Share of engine calls that may fail after retries; above it the build stops without a version",
    )
    batches_in_flight: int = Field(
        1, ge=1, le=64,
        description="Engine batches running at once (raise it for several workers, e.g. Ray GPUs); a kill loses "
        "at most their replies, and a token or cost budget is overshot by at most their calls",
    )

    @model_validator(mode="after")
    def _budget_prices_name_engines(self) -> LimitFields:
        self.budget.check_prices(getattr(self, "engines", {}))
        return self


class BuildStopped(RuntimeError):
    """A build stopped on purpose before writing a version; the calls it finished are in the call cache."""


class BudgetExceeded(BuildStopped):
    pass


class TooManyErrors(BuildStopped):
    pass


class Spent(Protocol):
    """What the runner has spent so far (runtime.calls.CallStats)."""

    engine_calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    last_error: str | None


@dataclass(frozen=True)
class RunLimits:
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    max_error_rate: float = 1.0
    batches_in_flight: int = 1

    @classmethod
    def of(cls, config: Any) -> RunLimits:
        """The limits a flow config sets (configs without them run unlimited, one batch in flight)."""
        return cls(
            budget=getattr(config, "budget", None) or BudgetConfig(),
            max_error_rate=getattr(config, "max_error_rate", 1.0),
            batches_in_flight=getattr(config, "batches_in_flight", 1),
        )

    def cost(self, engine_key: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.budget.prices.get(engine_key)
        if price is None:
            return 0.0
        return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6

    def allowance(self, spent: Spent, reserved_calls: int, calls_per_request: int, wanted: int) -> int:
        """How many of `wanted` requests may be sent now, with `reserved_calls` calls already in flight."""
        b = self.budget
        n = wanted
        if b.max_calls is not None:
            n = min(n, (b.max_calls - spent.engine_calls - reserved_calls) // calls_per_request)
        for used, limit in ((spent.prompt_tokens + spent.completion_tokens, b.max_tokens), (spent.cost, b.max_cost)):
            if limit is None:
                continue
            if used >= limit:
                return 0
            per_call = used / spent.engine_calls if spent.engine_calls else 0
            if per_call > 0:  # the build's average so far says how many more calls fit
                fit = (int((limit - used) / per_call) - reserved_calls) // calls_per_request
                n = min(n, fit if reserved_calls else max(fit, 1))  # below the limit, one request may always go
        return max(0, n)

    def budget_message(self, spent: Spent, stage: str, sent: int, total: int) -> str:
        b = self.budget
        tokens = spent.prompt_tokens + spent.completion_tokens
        reached = [
            f"{name}={_number(limit)} (spent {_number(used)})"
            for name, limit, used in (
                ("max_calls", b.max_calls, spent.engine_calls),
                ("max_tokens", b.max_tokens, tokens),
                ("max_cost", b.max_cost, round(spent.cost, 6)),
            )
            if limit is not None
        ]
        return (f"budget reached: {', '.join(reached)}; stopped in '{stage}' after sending {sent} of {total} "
                f"requests. No version was written; the {spent.engine_calls - spent.errors} successful calls are "
                "cached, so a rerun with a higher limit pays only for the rest")

    def error_message(self, spent: Spent, final: bool) -> str | None:
        """Why the build must stop for failed calls, or None while the failure rate is acceptable."""
        calls = spent.engine_calls
        if not calls or (not final and calls < MIN_CALLS_FOR_RATE):
            return None
        rate = spent.errors / calls
        if rate <= self.max_error_rate:
            return None
        return (f"{spent.errors} of {calls} engine calls failed after retries ({rate:.0%}, more than "
                f"max_error_rate={self.max_error_rate:g}); last error: {spent.last_error}. No version was written; "
                "the successful calls are cached, so a rerun pays only for the failed ones")


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:.6g}"
