"""One request scheduler per server per process: how many requests are in flight to it, how fast new ones go out.

A server engine (engines/openai.py) sends every HTTP call through a `Scheduler`, on one event loop per process
(`run_on_loop`). Whatever sends the requests — one batch, several batches, several stages at once, several builds
in one process (two flows in a long-lived Prefect worker, a script running builds in threads) — the calls in
flight to one server never exceed its `max_concurrency`, and a call goes out the moment a slot frees (FIFO, no
batches).

Each build has its own engine objects, so the scheduler is not the engine's: engines share one per server
identity (base_url and model) through a reference-counted registry (`acquire` when an engine is built,
`release` when it is closed; the last release drops it). When engines with different limits share a server, the
strictest holds: the smallest `max_concurrency` and rate limits among the engines holding it now (when the
strict one is closed they relax to the strictest of those left: see `_Shared`). A tighter limit applies to calls
granted after the engine that sets it joins; calls already in flight finish.

Optional rate limits are token buckets with a one-second burst: `max_requests_per_minute` and
`max_tokens_per_minute` (a call is charged its prompt estimate plus `max_tokens × n` when it goes out, and the
difference to the tokens the server reports is refunded when it comes back; an attempt the server refused with
429/5xx is refunded whole).

On a 429 the scheduler paces new calls at 90 % of the rate the server accepted over the last second (at least one
call per Retry-After) and ramps back up by 5 % per second of successful calls (additive increase per success,
multiplicative decrease at most once per second: a burst of 429s from one overload is one slow-down). The call
that got the 429 itself waits its Retry-After before it is retried (engines/openai.py). The pace belongs to the
server, so every engine sharing it slows down.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import weakref
from collections import deque
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Coroutine, Iterable

RAMP_PER_SUCCESS = 0.05  # req/s added per successful call: at r calls/s the rate grows 5 % per second
SLOW_DOWN = 0.9  # on a 429, pace at this share of the rate the server accepted over the last second
UNTHROTTLE_RATE = 10_000.0  # req/s: above this the pace is no limit anymore and is dropped

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _engine_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="prefsynth-engine-loop", daemon=True).start()
        return _loop


def run_on_loop(coro: Coroutine) -> Future:
    """Run `coro` on the process's engine event loop (a daemon thread started on first use); a thread-safe
    future of its result. One loop per process, so every scheduler and HTTP client lives on the same loop."""
    return asyncio.run_coroutine_threadsafe(coro, _engine_loop())


def start_on_loop(coro: Coroutine) -> None:
    """Start `coro` on the engine loop and forget it (it reports its own result, and must not raise): no
    thread-safe future to complete, whose locks and wake-ups cost the loop more than the HTTP call itself."""
    loop = _engine_loop()
    loop.call_soon_threadsafe(loop.create_task, coro)


class TokenBucket:
    """`rate` units per second, at most `capacity` saved up; `take` may go negative (the next call waits)."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.level, self.stamp = capacity, clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_s(self, amount: float) -> float:
        """Seconds until `amount` may be taken (a call bigger than the bucket waits for a full bucket)."""
        self._refill()
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def refund(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)

    def retune(self, rate: float, capacity: float) -> None:
        self._refill()  # what was saved at the old rate stays saved
        self.rate, self.capacity = rate, capacity
        self.level = min(self.capacity, self.level)


def _bucket(bucket: TokenBucket | None, per_minute: float | None, clock: Callable[[], float]) -> TokenBucket | None:
    """The bucket for `per_minute` units (None: no limit, no bucket), retuned from `bucket` if there is one."""
    if not per_minute:
        return None
    rate, capacity = per_minute / 60, max(1.0, per_minute / 60)
    if bucket is None:
        return TokenBucket(rate, capacity, clock)
    bucket.retune(rate, capacity)
    return bucket


class Scheduler:
    """Slots for one server's calls: at most `max_concurrency` in flight, within the rate limits, FIFO.

    Must be used from the engine loop only (`run_on_loop`); `peak_in_flight` and `throttled` are for reports.
    """

    def __init__(self, max_concurrency: int, requests_per_minute: float | None = None,
                 tokens_per_minute: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.limit, self.clock = max_concurrency, clock
        self.requests = _bucket(None, requests_per_minute, clock)
        self.tokens = _bucket(None, tokens_per_minute, clock)
        self.pace: float | None = None  # req/s while slowed down by 429s, else None
        self.in_flight = self.peak_in_flight = self.throttled = 0
        self._next_send = 0.0  # earliest send time under the pace
        self._last_slow_down = -1e9
        self._successes: deque[float] = deque()  # times of successful calls in the last second
        self._queue: deque[tuple[asyncio.Future, float]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def set_limits(self, limits: Limits) -> None:
        """New limits (engines joined or left the server): what the buckets saved is kept, up to their new size."""
        self.limit = limits.max_concurrency
        self.requests = _bucket(self.requests, limits.requests_per_minute, self.clock)
        self.tokens = _bucket(self.tokens, limits.tokens_per_minute, self.clock)
        if self._timer is not None:  # it waits for the old rates: a looser limit may grant sooner
            self._timer.cancel()
            self._timer = None
        self._pump()

    @asynccontextmanager
    async def slot(self, tokens: float = 0.0) -> AsyncIterator[None]:
        """Hold one of the server's slots for one HTTP call (charged `tokens` against max_tokens_per_minute)."""
        waiter = asyncio.get_running_loop().create_future()
        self._queue.append((waiter, tokens))
        self._pump()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted just before the cancel: give the slot back
                self._release()
            raise
        try:
            yield
        finally:
            self._release()

    def succeeded(self, estimated_tokens: float = 0.0, used_tokens: float | None = None) -> None:
        """A call came back well: ramp the pace up; refund the tokens charged beyond what it used."""
        now = self.clock()
        self._successes.append(now)
        while self._successes and self._successes[0] < now - 1.0:
            self._successes.popleft()
        if self.tokens is not None and used_tokens is not None:
            self.tokens.refund(estimated_tokens - used_tokens)
        if self.pace is not None:
            self.pace += RAMP_PER_SUCCESS
            if self.pace > UNTHROTTLE_RATE:
                self.pace = None

    def refused(self, estimated_tokens: float) -> None:
        """The server answered 429/5xx: nothing was generated, so the tokens charged for the attempt go back."""
        if self.tokens is not None:
            self.tokens.refund(estimated_tokens)

    def rate_limited(self, retry_after_s: float | None) -> None:
        """The server said 429: pace new calls below the rate it accepted (at most one slow-down per second)."""
        now = self.clock()
        self.throttled += 1
        if now - self._last_slow_down < 1.0:
            return
        self._last_slow_down = now
        accepted = sum(1 for t in self._successes if t >= now - 1.0)  # calls/s the server took just now
        floor = 1.0 / max(retry_after_s or 1.0, 1e-3)  # at least one call per Retry-After: a probe
        target = SLOW_DOWN * accepted if self.pace is None else SLOW_DOWN * min(self.pace, accepted or self.pace)
        self.pace = max(floor, target)
        self._next_send = max(self._next_send, now + (retry_after_s or 0.0) if not accepted else now)

    # -- granting slots

    def _release(self) -> None:
        self.in_flight -= 1
        self._pump()

    def _wait_s(self, tokens: float) -> float:
        now = self.clock()
        waits = [self._next_send - now if self.pace is not None else 0.0]
        if self.requests is not None:
            waits.append(self.requests.wait_s(1))
        if self.tokens is not None:
            waits.append(self.tokens.wait_s(tokens))
        return max(0.0, *waits)

    def _pump(self) -> None:
        """Grant slots from the head of the queue while a slot is free and the rates allow."""
        while self._queue and self.in_flight < self.limit:
            waiter, tokens = self._queue[0]
            if waiter.done():  # its caller gave up while waiting
                self._queue.popleft()
                continue
            wait = self._wait_s(tokens)
            if wait > 0:
                if self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(wait, self._on_timer)
                return
            self._queue.popleft()
            self._take(tokens)
            waiter.set_result(None)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _take(self, tokens: float) -> None:
        now = self.clock()
        if self.pace is not None:
            self._next_send = max(self._next_send, now - 1.0 / self.pace) + 1.0 / self.pace
        if self.requests is not None:
            self.requests.take(1)
        if self.tokens is not None:
            self.tokens.take(tokens)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)


# -- one scheduler per server per process


@dataclass(frozen=True)
class Limits:
    """What one engine allows at its server: calls in flight, and optional rates (None: no limit)."""

    max_concurrency: int
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @staticmethod
    def strictest(held: Iterable[Limits]) -> Limits:
        """The smallest of each limit among `held` (a rate nobody set stays None)."""
        held = list(held)

        def least(values: Iterable[float | None]) -> float | None:
            return min((v for v in values if v), default=None)

        return Limits(min(h.max_concurrency for h in held), least(h.requests_per_minute for h in held),
                      least(h.tokens_per_minute for h in held))


@dataclass
class _Shared:
    """One server's scheduler and the engines holding it.

    When the strictest engine is closed, the limits relax to the strictest of the engines still holding it
    (not kept until all leave): the limits in force are always those of the builds running now, a function of
    their configs alone. Kept, a long-lived worker whose builds overlap would never drop back to zero holders
    and would apply a finished build's limit for ever, to builds that never asked for it. A provider's limit
    therefore belongs in every config that names its server, as it always had to.
    """

    scheduler: Scheduler
    limits: Limits  # in force (the strictest of `holders`)
    holders: dict[int, Limits] = field(default_factory=dict)


_shared: dict[tuple[str, str], _Shared] = {}
_shared_lock = threading.Lock()  # engines are built and closed on build threads, not on the engine loop
_holder_ids = itertools.count()
_orphans: deque[tuple[str, str, int]] = deque()  # (base_url, model, holder) of engines collected unclosed


def _server(base_url: str, model: str) -> tuple[str, str]:
    return base_url.rstrip("/"), model


def acquire(base_url: str, model: str, limits: Limits) -> tuple[Scheduler, int]:
    """The scheduler every engine of this server (base_url, model) shares in this process, with the holder id to
    `release` it with; `limits` count towards its limits until then."""
    key = _server(base_url, model)
    with _shared_lock:
        _release_orphans()
        holder = next(_holder_ids)
        entry = _shared.get(key)
        if entry is None:
            scheduler = Scheduler(limits.max_concurrency, limits.requests_per_minute, limits.tokens_per_minute)
            entry = _shared[key] = _Shared(scheduler, limits)
        entry.holders[holder] = limits
        _retune(entry)
        return entry.scheduler, holder


def release(base_url: str, model: str, holder: int) -> None:
    """The engine `holder` is closed: its limits no longer count; the last release drops the scheduler.
    Releasing twice is harmless."""
    with _shared_lock:
        _release_orphans()
        _drop(_server(base_url, model), holder)


def release_when_collected(engine: object, base_url: str, model: str, holder: int) -> weakref.finalize:
    """Release `holder` should `engine` be garbage-collected unclosed (a script that never closes it must not pin
    its limits for the rest of the process); `detach()` it on close. The callback takes no lock — the collector
    may run on a thread that holds the registry's — it queues the release for the next registry call."""
    collected = weakref.finalize(engine, _orphans.append, (base_url, model, holder))
    collected.atexit = False
    return collected


def shared_limits(base_url: str, model: str) -> Limits | None:
    """The limits in force at this server (None: no engine holds its scheduler)."""
    with _shared_lock:
        _release_orphans()
        entry = _shared.get(_server(base_url, model))
        return None if entry is None else entry.limits


def _drop(key: tuple[str, str], holder: int) -> None:
    """Under the lock: `holder`'s limits no longer count; without holders the scheduler goes."""
    entry = _shared.get(key)
    if entry is None or entry.holders.pop(holder, None) is None:
        return
    if entry.holders:
        _retune(entry)
    else:
        del _shared[key]


def _release_orphans() -> None:
    """Under the lock: release the engines collected unclosed since the last registry call."""
    while _orphans:
        base_url, model, holder = _orphans.popleft()
        _drop(_server(base_url, model), holder)


def _retune(entry: _Shared) -> None:
    """Apply the holders' strictest limits. On the engine loop, which alone touches a scheduler; called under the
    lock, so that changes reach the loop in the order they were made, and before the calls of the engine that
    made them (its thread sends them later, to the same loop queue)."""
    limits = Limits.strictest(entry.holders.values())
    if limits != entry.limits:
        entry.limits = limits
        _engine_loop().call_soon_threadsafe(entry.scheduler.set_limits, limits)
