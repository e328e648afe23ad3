"""Engine calls as the flow process sees them: cache first, then the misses, streamed or in batch tasks.

The flow process alone reads and writes the call cache (single writer; a lock serialises the threads of stages
that run at once). Two ways to send the misses, chosen by the engine:
- a server engine (`engine.submit`: the openai engine) gets them one by one through its process-wide scheduler
  (runtime/stream.py): no batches, no Prefect task per request, every reply saved as it arrives;
- an in-process engine (llama.cpp, vLLM, dry run) gets them in `generate-batch` Prefect tasks (thread pool or
  Ray workers), at most `batches_in_flight` at once, each batch saved the moment it comes back.
Either way a killed build resumes without paying again for any call already back, and the same code enforces
the build's limits (runtime/budget.py) before every request or batch it sends.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prefect.futures import PrefectFuture, as_completed

from .. import progress
from ..engines.cache import CachePlan, CallCache
from ..schemas.engine import EngineConfig, GenRequest, GenResult
from ..tasks.generate import Answer, EngineSet, Followup
from .budget import BudgetExceeded, BuildStopped, RunLimits, TooManyErrors
from .scaleout import batch_returned, submit_batch
from .shared import InFlight
from .stream import CacheWriter, stream_calls


STREAMING_KINDS = frozenset({"openai"})  # engine kinds with `submit`: checked by config, without loading a model


@dataclass
class CallStats:
    engine_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    retries: int = 0
    last_error: str | None = None

    def count(self, fresh: list[GenResult], cost: Callable[[int, int], float] = lambda p, c: 0.0) -> None:
        for r in fresh:
            self.engine_calls += 1
            self.errors += int(not r.ok)
            self.retries += r.retries
            self.last_error = r.error or self.last_error
            self.prompt_tokens += r.prompt_tokens
            self.completion_tokens += r.completion_tokens
            self.cost += cost(r.prompt_tokens, r.completion_tokens)

    def as_dict(self) -> dict:
        return {
            "engine_calls": self.engine_calls,
            "cache_hits": self.cache_hits,
            "engine_errors": self.errors,
            "engine_retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": round(self.cost, 6),
        }


def journal_for(cache: CallCache) -> Path | None:
    """Where a runner's streamed replies wait for the call cache (runtime/stream.py): a file of its own beside
    the catalog file, if any (two builds on one catalog never write or remove each other's)."""
    path = getattr(cache.store, "path", None)
    return path.with_name(f"{path.name}.replies.{uuid.uuid4().hex[:12]}.jsonl") if isinstance(path, Path) else None


class CallRunner:
    """The engine calls of one build. `engines` names the build's engine configs; `served` is the `EngineSet`
    that holds their engine objects: by default a new one of its own (`EngineSet.for_build()`: it also serves the
    engines of an enclosing `serving(...)` block), closed by `close()` or on leaving `with`; pass one to serve
    engine objects built elsewhere."""

    def __init__(self, cache: CallCache, engines: dict[str, EngineConfig], batch_size: int,
                 limits: RunLimits | None = None, served: EngineSet | None = None):
        self.cache = cache
        self.engines = engines
        self.served = served if served is not None else EngineSet.for_build()
        self.batch_size = batch_size
        self.limits = limits or RunLimits()
        self.stats = CallStats()
        self.stop: BuildStopped | None = None  # set once the build must send nothing more (budget, errors)
        self._reserved = 0  # calls sent (or about to be) whose replies are not counted yet
        self._outstanding: Counter[str] = Counter()  # requests handed to each streaming engine, not back yet
        self._budget_at: tuple[str, int, int] | None = None  # (stage, sent, total) where the budget ran out
        self._known: dict[str, GenResult | None] = {}  # call-cache answers looked up ahead (None: a miss)
        self._lock = threading.RLock()  # stages running at once share the stats, the budget and the cache
        self._changed = threading.Condition(self._lock)  # a reply landed or a reservation was freed
        self.writer = CacheWriter(self.save_rows, journal_for(cache))  # streamed replies on their way to the cache
        self.writer.recover()  # a killed run's last replies, before anything is sent
        self._streams = 0  # streams running now (the last one to end saves what is left)
        self.in_flight = InFlight()  # requests a stream is sending, which other streams wait for

    def __enter__(self) -> CallRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """The build is over: close the engines this runner's set built (nothing outlives the build) and its
        replies journal."""
        self.served.close()
        self.writer.close()

    def check_errors(self) -> None:
        """Before a version is written: fail when more of the build's calls failed than `max_error_rate` allows."""
        problem = self.limits.error_message(self.stats, final=True)
        if problem:
            raise TooManyErrors(problem)

    def prefetch(self, engine_key: str, requests: list[GenRequest]) -> None:
        """Look up many requests in the call cache in one query, ahead of the groups that will send them (one
        query per group and stage cost more CPU than the HTTP calls of a 200-prompt build). Each answer is held
        until the `run` that plans its request reads it."""
        name = self.engine_name(engine_key)
        keys = [r.key(name) for r in requests]
        hits = self.cache.store.get_calls(sorted(set(keys)))
        self._known.update({k: hits.get(k) for k in keys})

    def all_stream(self) -> bool:
        """Whether every engine of the build is a server engine whose calls stream (see the module docstring)."""
        return bool(self.engines) and all(cfg.kind in STREAMING_KINDS for cfg in self.engines.values())

    def concurrency(self) -> int:
        """Requests the build's engines take at once, all together."""
        return sum(getattr(cfg, "max_concurrency", 1) for cfg in self.engines.values())

    def engine_name(self, engine_key: str) -> str:
        return self.served.engine(self.engines[engine_key]).name

    def run(self, engine_key: str, requests: list[GenRequest], stage: str) -> list[GenResult]:
        """Results for `requests` in order: cached ones free, the rest from the engine (streamed or in batch tasks)."""
        return [first for first, _ in self.run_with_followup(engine_key, requests, stage, None)]

    def run_with_followup(
        self, engine_key: str, requests: list[GenRequest], stage: str, followup: Followup | None
    ) -> list[Answer]:
        """Like `run`, plus each request's follow-up (see tasks.generate), both through the cache."""
        name = self.engine_name(engine_key)
        plan = self.cache.plan(name, requests, self._known)  # the catalog serialises its readers and writers
        if self._known:  # a look-ahead answer serves the one plan of its request: held longer, it would grow
            for key in plan.keys:  # with the build (every cached reply of every chunk)
                self._known.pop(key, None)
        progress.start(stage, len(requests))
        n_cached = len(requests) - len(plan.to_call)
        progress.advance(stage, n_cached, cached=n_cached)
        engine = self.served.engine(self.engines[engine_key])
        if hasattr(engine, "submit"):
            fresh = self._stream(engine, engine_key, name, plan, requests, stage, followup)
        else:
            fresh = self._call(engine_key, name, plan, requests, stage, followup)
        progress.finish(stage)
        firsts = CallCache.assemble(plan, [a for a, _ in fresh])
        with self._lock:
            self.stats.cache_hits += sum(r.cached for r in firsts)
        if followup is None:
            return [(r, None) for r in firsts]
        return self._followups(engine_key, plan, requests, firsts, fresh, followup, stage)

    def _followups(self, engine_key, plan, requests, firsts, fresh, followup, stage) -> list[Answer]:
        """Follow-ups of fresh calls came back with them; those of cached calls go through `run` (cache first)."""
        fresh_second = {plan.keys[i]: second for i, (_, second) in zip(plan.to_call, fresh, strict=True)}
        pending = {i: f for i, r in enumerate(firsts) if r.cached and (f := followup(requests[i], r)) is not None}
        later = {}
        if pending:
            results = self.run(engine_key, list(pending.values()), stage + " · follow-up")
            later = dict(zip(pending, results, strict=True))
        return [(r, later.get(i) if r.cached else fresh_second.get(plan.keys[i])) for i, r in enumerate(firsts)]

    def _stream(self, engine, engine_key, name, plan, requests, stage, followup) -> list[Answer]:
        """The misses through the engine's scheduler, one request at a time (runtime/stream.py); a request another
        stream is sending already is waited for, not sent again (runtime/shared.py)."""
        todo = [(plan.keys[i], requests[i]) for i in plan.to_call]
        send, owned, theirs = self.in_flight.claim(todo, followup)
        answers: dict[int, Answer] = {}
        with self._lock:
            self._streams += 1
        try:
            got, sent = stream_calls(self, engine, engine_key, name, [todo[p] for p in send], stage, followup)
            answers = {p: a for p, a in zip(send[:sent], got, strict=False)}
        finally:
            self.in_flight.publish(todo, owned, answers)
            with self._lock:
                self._streams -= 1
                last = self._streams == 0
            if last:
                self.writer.flush()  # no stream left to save the last replies soon
        if self.stop is not None:
            raise self.stop
        if sent < len(send):
            with self._lock:
                self._budget_at = (stage, sent, len(send))
                self.stop = BudgetExceeded(self.limits.budget_message(self.stats, stage, sent, len(send)))
            raise self.stop
        for pos, claim in theirs.items():
            answers[pos] = self.in_flight.wait(claim) or self._stopped()
            progress.advance(stage, 1)  # answered, by a call the other stream counts
        return [answers[p] for p in range(len(todo))]

    def _stopped(self):
        """A request another stream was sending never came back: that stream's build stopped."""
        raise self.stop or BuildStopped("stopped: a request shared with another stage was never answered")

    def final_stop(self) -> BuildStopped | None:
        """Why the build stopped, told once every stream has landed (the spending then is final)."""
        if isinstance(self.stop, BudgetExceeded) and self._budget_at is not None:
            return BudgetExceeded(self.limits.budget_message(self.stats, *self._budget_at))
        return self.stop

    # -- what stream_calls asks, from any thread

    def reserve(self, engine_key: str, calls: int, cap: int) -> bool:
        """Whether one more request (`calls` calls with its follow-up) may go out now; if so its calls are held.

        No when the build stops, when the budget has no room, or when `cap` requests are already handed to the
        engine by all streams together (more would only queue in its scheduler, out of the budget's reach).
        """
        with self._lock:
            if self.stop is not None or self._outstanding[engine_key] >= cap:
                return False
            if self.limits.allowance(self.stats, self._reserved, calls, 1) < 1:
                return False
            self._reserved += calls
            self._outstanding[engine_key] += 1
            return True

    def following(self, engine_key: str) -> None:
        """A follow-up is handed to the engine (its call was reserved with its first call)."""
        with self._lock:
            self._outstanding[engine_key] += 1

    def wait_for_room(self, timeout: float) -> bool:
        """A stream with nothing in flight was refused: wait for other streams' calls to land. False when
        waiting cannot help: the build stops, or nothing is reserved anywhere (the budget is spent)."""
        with self._lock:
            if self.stop is not None or self._reserved == 0:
                return False
            self._changed.wait(timeout)
            return True

    def release(self, calls: int) -> None:
        with self._lock:
            self._reserved -= calls
            self._changed.notify_all()

    def landed(self, engine_key: str, result: GenResult, stage: str, released: int) -> None:
        """A reply is back: count it, free the calls it held, and stop the build if too many have failed."""
        with self._lock:
            self._reserved -= released
            self._outstanding[engine_key] -= 1
            self._changed.notify_all()
            cost = self._count(engine_key, [result])
        if cost:  # priced engines (budget.prices): the progress bar shows the cost so far
            progress.advance(stage, 0, cost=cost)

    def _count(self, engine_key: str, results: list[GenResult]) -> float:
        """Count replies into the stats (the caller holds the lock) and stop the build (`self.stop`, which every
        stage checks before it sends) when too many have failed; returns the cost they added."""
        spent = self.stats.cost
        self.stats.count(results, lambda p, c: self.limits.cost(engine_key, p, c))
        problem = self.stop is None and self.limits.error_message(self.stats, final=False)
        if problem:
            self.stop = TooManyErrors(problem)
        return self.stats.cost - spent

    def save_rows(self, rows: list) -> None:
        """Successful replies (key, engine name, request, result) into the call cache (the catalog has its own
        lock: the runner's stays free for the streams meanwhile)."""
        self.cache.store.put_calls(rows)
        for key, *_ in rows:  # a look-ahead "miss" is stale now: a later plan of the same key reads the cache
            self._known.pop(key, None)

    def _call(self, engine_key, name, plan, requests, stage, followup) -> list[Answer]:
        """Send the cache misses in batches, at most `batches_in_flight` at once; save each as it returns.

        Over budget or over the error rate nothing more is sent; the batches in flight still land and are saved
        (they are paid for), then the build stops.
        """
        todo = [requests[i] for i in plan.to_call]
        done: dict[int, list[Answer]] = {}
        pending: dict[PrefectFuture, tuple[int, int]] = {}  # future → (offset in todo, size)
        sent = 0
        while True:
            if self.stop is None:
                sent = self._submit(engine_key, todo, sent, pending, stage, followup)
            if not pending:
                break
            fut = next(as_completed(list(pending)))
            start, _ = pending.pop(fut)
            done[start] = fut.result()
            batch_returned(stage, done[start])
            with self._lock:  # saved at once: resumable; counted like a streamed reply
                replies = self._save(name, plan, requests, start, done[start], followup)
                cost = self._count(engine_key, replies)
            if cost:  # priced engines (budget.prices): the progress bar shows the cost so far
                progress.advance(stage, 0, cost=cost)
        if self.stop is not None:
            raise self.stop
        if sent < len(todo):
            raise BudgetExceeded(self.limits.budget_message(self.stats, stage, sent, len(todo)))
        return [a for s in sorted(done) for a in done[s]]

    def _submit(self, engine_key, todo, sent: int, pending: dict, stage, followup) -> int:
        """Submit batches while the window and the budget allow; returns how many requests are sent by now."""
        per_request = 1 if followup is None else 2  # a follow-up (re-ask) may double a request's calls
        while sent < len(todo) and len(pending) < self.limits.batches_in_flight:
            reserved = per_request * sum(size for _, size in pending.values())
            size = self.limits.allowance(self.stats, reserved, per_request, min(self.batch_size, len(todo) - sent))
            if size == 0:
                break
            batch = todo[sent : sent + size]
            config = self.engines[engine_key]
            future = submit_batch(config, self.served.engine(config), batch, stage, followup)  # thread pool or Ray
            pending[future] = (sent, size)
            sent += size
        return sent

    def _save(self, name: str, plan: CachePlan, requests, start: int, answers: list[Answer],
              followup) -> list[GenResult]:
        """A returned batch into the call cache; returns its replies (first calls, then follow-ups) to count."""
        sub = CachePlan(keys=plan.keys, hits=plan.hits, to_call=plan.to_call[start : start + len(answers)])
        firsts = [a for a, _ in answers]
        self.cache.save(name, sub, requests, firsts)
        # A follow-up request is a pure function of its first call: the one the worker sent, else rebuilt here.
        seconds = [
            (second.answers() or followup(requests[i], first), second)
            for i, (first, second) in zip(sub.to_call, answers, strict=True)
            if second is not None
        ]
        if seconds:
            reqs = [f for f, _ in seconds]
            keys = [f.key(name) for f in reqs]
            self.cache.save(name, CachePlan(keys, {}, list(range(len(reqs)))), reqs, [s for _, s in seconds])
        return firsts + [s for _, s in seconds]
