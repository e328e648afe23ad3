"""Streaming a run's cache misses to an engine that takes one request at a time (`engine.submit`, a server).

No batches and no barrier: the engine's scheduler (engines/scheduler.py) sends each request the moment one of
its `max_concurrency` slots frees, and the streams keep it fed (all streams together hand it at most a quarter
more than its slots, so a slot never waits for the flow and the budget still sees every request before it goes).
Each reply is counted, checked against the build's limits, written to the journal at once and to the call cache
in groups (at most `SAVE_EVERY_S` = 50 ms after it arrived): a killed build loses only the requests in flight
(the next run saves the journal to the cache first). A follow-up (the judge's re-ask) goes out the moment its
first call is back.

Budgets stay exact: before a request goes out, its calls (two when it may be re-asked) are reserved against
`max_calls`, and the token/cost limits count every reserved call at the build's average so far
(runtime/budget.py), so only the calls in flight can overshoot a token or cost limit.
"""

from __future__ import annotations

import glob
import itertools
import json
import threading
import time
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Callable

from ..schemas.engine import GenRequest, GenResult
from ..tasks.generate import Answer, Followup, report_progress

if TYPE_CHECKING:
    from .calls import CallRunner

SAVE_EVERY_S = 0.05  # a reply waits at most this long in memory before it is written to the call cache
# Journals of this process's writers still in use: another build on the same catalog (DuckDB lets one process
# open it) must not take them; any other journal beside the catalog is a killed or failed run's.
_OPEN_JOURNALS: set[Path] = set()
_OPEN_LOCK = threading.Lock()


class CacheWriter:
    """Replies on their way to the call cache, shared by every stream of a build.

    One DuckDB insert costs ~4 ms whatever its size, so replies are written in groups: whichever stream thread
    finds the oldest waiting reply `SAVE_EVERY_S` old writes them all (streams wake at least that often), while
    the other streams go on sending (they never wait for a write in progress). Until its group is written, a
    reply is also in the `journal` (a JSON line beside the catalog, written at once: the OS keeps it when the
    process is killed), one file per writer (`<catalog>.replies.<id>.jsonl`); `recover` saves the journals that
    killed runs left beside the catalog to the cache (not those of writers still open in this process), and a
    writer's journal is removed whenever everything in it is in the cache. `close` when the build is over. No
    journal without a catalog file (`journal=None`).
    """

    def __init__(self, save: Callable[[list], None], journal: Path | None = None):
        self.save, self.rows, self.since = save, [], 0.0
        self.journal = journal
        self._file = None  # the journal, open for appending while it has replies not in the cache
        self._noted = self._saved = 0  # replies journaled, replies written to the cache
        self._lock = threading.Lock()  # guards `rows` and the journal file, held for microseconds
        self._saving = threading.Lock()  # held while one group is written
        if journal is not None:
            with _OPEN_LOCK:
                _OPEN_JOURNALS.add(journal)

    def close(self) -> None:
        """The build is over: the journal is no longer written (replies not in the cache stay in it, as a
        kill leaves them, for the next run to save)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        with _OPEN_LOCK:
            _OPEN_JOURNALS.discard(self.journal)

    def recover(self) -> int:
        """Save the replies killed runs left in journals beside the catalog (the cache ignores keys it has);
        how many. A journal still open in this process (another build on the catalog) is left alone."""
        if self.journal is None:
            return 0
        catalog = self.journal.name[: self.journal.name.rindex(".replies.")]
        with _OPEN_LOCK:
            left = [p for p in sorted(self.journal.parent.glob(glob.escape(catalog) + ".replies*.jsonl"))
                    if p not in _OPEN_JOURNALS]
        return sum(self._recover(path) for path in left)

    def _recover(self, journal: Path) -> int:
        rows = []
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                key, name, request, result = json.loads(line)
                rows.append((key, name, GenRequest.model_validate(request), GenResult.model_validate(result)))
            except (ValueError, TypeError):
                continue  # the line being written at the kill: its request is asked again
        if rows:
            self.save(rows)
        journal.unlink()
        return len(rows)

    def note(self, key: str, name: str, request: GenRequest, result: GenResult) -> None:
        """Journal a reply the moment the engine has it (on the engine loop, before a stream thread picks it up)."""
        if self.journal is None or not result.ok:
            return
        line = json.dumps([key, name, request.model_dump(mode="json"), result.model_dump(mode="json")]) + "\n"
        with self._lock:
            if self._file is None:
                self._file = open(self.journal, "a", encoding="utf-8")  # noqa: SIM115 (closed when emptied)
            self._file.write(line)
            self._file.flush()  # into the OS: survives a SIGKILL of this process
            self._noted += 1

    def add(self, key: str, name: str, request: GenRequest, result: GenResult) -> None:
        """Queue a reply for the cache (`note` journaled it already)."""
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
            with self._lock:  # everything journaled is in the cache: empty the journal
                self._saved += len(rows)
                if self._saved >= self._noted and self._file is not None:
                    self._file.close()
                    self._file = None
                    self.journal.unlink(missing_ok=True)
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
    # Replies come back on one queue per stream (the engine loop puts (token, result)): the loop completes no
    # future and wakes no waiter per reply, and this thread wakes once for all the replies that are in.
    replies: SimpleQueue[tuple[int, GenResult]] = SimpleQueue()
    pending: dict[int, tuple[int, GenRequest | None]] = {}  # token → (position, follow-up request or None)
    tokens = itertools.count()
    cap = engine.concurrency + max(1, engine.concurrency // 4)  # handed to the engine by all streams at once
    writer = runner.writer
    sent = 0

    def send(request: GenRequest, pos: int, follow: GenRequest | None) -> None:
        token = next(tokens)
        pending[token] = (pos, follow)
        key = todo[pos][0] if follow is None else follow.key(name)

        def deliver(result: GenResult) -> None:  # on the engine loop: journaled before any thread picks it up
            try:
                writer.note(key, name, request, result)
            finally:  # a journal that cannot be written must not lose the reply
                replies.put((token, result))

        engine.submit(request, deliver)

    try:
        while True:
            while sent < len(todo) and runner.reserve(engine_key, per_request, cap):
                send(todo[sent][1], sent, None)
                sent += 1
            if not pending:
                if sent < len(todo) and runner.wait_for_room(SAVE_EVERY_S):
                    writer.flush(only_due=True)
                    continue
                break
            done = _arrived(replies)
            writer.flush(only_due=True)
            for token, result in done:
                pos, follow = pending.pop(token)
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
                    send(again, pos, again)  # its call was reserved with the first
                    continue
                if again is not None:
                    runner.release(1)  # stopping: the reserved re-ask is not sent
                report_progress(stage, [(result, None)])
    finally:
        writer.flush(only_due=True)  # the rest by the next stream, or by the runner when none is left
    return [(f, s) for f, s in zip(firsts, seconds, strict=True)], sent  # type: ignore[misc]


def _arrived(replies: SimpleQueue) -> list[tuple[int, GenResult]]:
    """The replies in the queue, waiting at most `SAVE_EVERY_S` for the first (streams wake that often to save)."""
    try:
        done = [replies.get(timeout=SAVE_EVERY_S)]
    except Empty:
        return []
    while True:
        try:
            done.append(replies.get_nowait())
        except Empty:
            return done
