"""One request scheduler per engine of a build (a CLI command runs one build per process): how many requests
are in flight, how fast new ones go out.

A server engine (engines/openai.py) sends every HTTP call through its `Scheduler`, on one event loop per process
(`run_on_loop`). Whatever sends the requests — one batch, several batches, several stages at once — the engine's
calls in flight never exceed `max_concurrency`, and a call goes out the moment a slot frees (FIFO, no batches).

Optional rate limits are token buckets with a one-second burst: `max_requests_per_minute` and
`max_tokens_per_minute` (a call is charged its prompt estimate plus `max_tokens × n` when it goes out, and the
difference to the tokens the server reports is refunded when it comes back; an attempt the server refused with
429/5xx is refunded whole).

On a 429 the scheduler paces new calls at 90 % of the rate the server accepted over the last second (at least one
call per Retry-After) and ramps back up by 5 % per second of successful calls (additive increase per success,
multiplicative decrease at most once per second: a burst of 429s from one overload is one slow-down). The call
that got the 429 itself waits its Retry-After before it is retried (engines/openai.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Coroutine

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


class Scheduler:
    """Slots for one engine's calls: at most `max_concurrency` in flight, within the rate limits, FIFO.

    Must be used from the engine loop only (`run_on_loop`); `peak_in_flight` and `throttled` are for reports.
    """

    def __init__(self, max_concurrency: int, requests_per_minute: float | None = None,
                 tokens_per_minute: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.limit, self.clock = max_concurrency, clock
        self.requests = TokenBucket(requests_per_minute / 60, max(1.0, requests_per_minute / 60), clock) \
            if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute / 60, max(1.0, tokens_per_minute / 60), clock) \
            if tokens_per_minute else None
        self.pace: float | None = None  # req/s while slowed down by 429s, else None
        self.in_flight = self.peak_in_flight = self.throttled = 0
        self._next_send = 0.0  # earliest send time under the pace
        self._last_slow_down = -1e9
        self._successes: deque[float] = deque()  # times of successful calls in the last second
        self._queue: deque[tuple[asyncio.Future, float]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @asynccontextmanager
    async def slot(self, tokens: float = 0.0) -> AsyncIterator[None]:
        """Hold one of the engine's slots for one HTTP call (charged `tokens` against max_tokens_per_minute)."""
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
