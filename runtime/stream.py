"""Streaming a run's cache misses to an engine that takes one request at a time (`engine.submit`, a server).

No batches and no barrier: the engine's scheduler (engines/scheduler.py) sends each request the moment one of
its `max_concurrency` slots frees, and the streams keep it fed (all streams together hand it at most a quarter
more than its slots, so a slot never waits for the flow and the budget still sees every request before it goes). Each reply is counted, checked against the build's limits and saved to the call
cache as it arrives (in groups, at most `SAVE_EVERY_S` = 50 ms after it arrived): a killed build loses only the
requests in flight and the replies of its last 50 ms. A follow-up (the judge's re-ask) goes out the moment its first call is back.

Budgets stay exact: before a request goes out, its calls (two when it may be re-asked) are reserved against
`max_calls`, and the token/cost limits count every reserved call at the build's average so far
(runtime/budget.py), so only the calls in flight can overshoot a token or cost limit.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Callable

from ..schemas.engine import GenRequest, GenResult
from ..tasks.generate import Answer, Followup, report_progress

if TYPE_CHECKING:
    from .calls import CallRunner

SAVE_EVERY_S = 0.05  # a reply waits at most this long in memory before it is written to the call cache


class CacheWriter:
    """Replies on their way to the call cache, shared by every stream of a build.

    One DuckDB insert costs ~4 ms whatever its size, so replies are written in groups: whichever stream thread
    finds the oldest waiting reply `SAVE_EVERY_S` old writes them all (streams wake at least that often), while
    the other streams go on sending (they never wait for a write in progress).
    """

    def __init__(self, save: Callable[[list], None]):
        self.save, self.rows, self.since = save, [], 0.0
        self._lock = threading.Lock()  # guards `rows`, held for microseconds
        self._saving = threading.Lock()  # held while one group is written

    def add(self, key: str, name: str, request: GenRequest, result: GenResult) -> None:
        if not result.ok:
            return  # failures are asked again on the next run
        with self._lock:
            if not self.rows:
                self.since = time.monotonic()
            self.rows.append((key, name, request, result))

    def flush(self, only_due: bool = False) -> None:
        """Write the waiting replies; with `only_due`, only when they are due and no other write is running."""
        if not self._saving.acquire(blocking=not only_due):
            return
        try:
            with self._lock:
                if not self.rows or (only_due and time.monotonic() - self.since < SAVE_EVERY_S):
                    return
                rows, self.rows = self.rows, []
            self.save(rows)
        finally:
            self._saving.release()


def stream_calls(runner: CallRunner, engine, engine_key: str, name: str, todo: list[tuple[str, GenRequest]],
                 stage: str, followup: Followup | None) -> tuple[list[Answer], int]:
    """Answers for `todo` (cache key, request), in order, and how many requests were sent.

    Stops sending when the build's budget or error rate says so (`runner.stop`); what is in flight still lands
    and is saved.
    """
    per_request = 1 if followup is None else 2  # a follow-up (re-ask) may double a request's calls
    firsts: list[GenResult | None] = [None] * len(todo)
    seconds: list[GenResult | None] = [None] * len(todo)
    pending: dict[Future, tuple[int, GenRequest | None]] = {}  # future → (position, follow-up request or None)
    cap = engine.concurrency + max(1, engine.concurrency // 4)  # handed to the engine by all streams at once
    writer = runner.writer
    sent = 0
    try:
        while True:
            while sent < len(todo) and runner.reserve(engine_key, per_request, cap):
                pending[engine.submit(todo[sent][1])] = (sent, None)
                sent += 1
            if not pending:
                if sent < len(todo) and runner.wait_for_room(SAVE_EVERY_S):
                    writer.flush(only_due=True)
                    continue
                break
            done, _ = wait(list(pending), timeout=SAVE_EVERY_S, return_when=FIRST_COMPLETED)
            writer.flush(only_due=True)
            for fut in done:
                pos, follow = pending.pop(fut)
                result = fut.result()
                if follow is not None:  # a follow-up came back: the answer is complete
                    seconds[pos] = result
                    writer.add(follow.key(name), name, follow, result)
                    runner.landed(engine_key, result, stage, released=1)
                    report_progress(stage, [(firsts[pos], result)])
                    continue
                firsts[pos] = result
                writer.add(todo[pos][0], name, todo[pos][1], result)
                again = followup(todo[pos][1], result) if followup is not None else None
                runner.landed(engine_key, result, stage, released=per_request if again is None else 1)
                if again is not None and runner.stop is None:
                    runner.following(engine_key)
                    pending[engine.submit(again)] = (pos, again)  # its call was reserved with the first
                    continue
                if again is not None:
                    runner.release(1)  # stopping: the reserved re-ask is not sent
                report_progress(stage, [(result, None)])
    finally:
        writer.flush(only_due=True)  # the rest by the next stream, or by the runner when none is left
    return [(f, s) for f, s in zip(firsts, seconds, strict=True)], sent  # type: ignore[misc]
