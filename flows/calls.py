"""Engine calls as the flow process sees them: cache first, then batches of misses as Prefect tasks.

The flow process alone reads and writes the call cache (single writer); each finished batch is saved at
once, so a killed build resumes without paying again for any call that succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect.futures import as_completed

from .. import progress
from ..engines.cache import CachePlan, CallCache
from ..schemas.engine import EngineConfig, GenRequest, GenResult
from ..tasks.generate import Answer, Followup, engine_for, generate_batch


@dataclass
class CallStats:
    engine_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def count(self, fresh: list[GenResult]) -> None:
        for r in fresh:
            self.engine_calls += 1
            self.errors += int(not r.ok)
            self.prompt_tokens += r.prompt_tokens
            self.completion_tokens += r.completion_tokens

    def as_dict(self) -> dict:
        return {
            "engine_calls": self.engine_calls,
            "cache_hits": self.cache_hits,
            "engine_errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


class CallRunner:
    def __init__(self, cache: CallCache, engines: dict[str, EngineConfig], batch_size: int):
        self.cache = cache
        self.engines = engines
        self.batch_size = batch_size
        self.stats = CallStats()

    def engine_name(self, engine_key: str) -> str:
        return engine_for(self.engines[engine_key]).name

    def run(self, engine_key: str, requests: list[GenRequest], stage: str) -> list[GenResult]:
        """Results for `requests` in order: cached ones free, the rest from the engine in batch tasks."""
        return [first for first, _ in self.run_with_followup(engine_key, requests, stage, None)]

    def run_with_followup(
        self, engine_key: str, requests: list[GenRequest], stage: str, followup: Followup | None
    ) -> list[Answer]:
        """Like `run`, plus each request's follow-up (see tasks.generate), both through the cache."""
        name = self.engine_name(engine_key)
        plan = self.cache.plan(name, requests)
        progress.start(stage, len(requests))
        n_cached = len(requests) - len(plan.to_call)
        progress.advance(stage, n_cached, cached=n_cached)
        fresh = self._call(engine_key, name, plan, requests, stage, followup)
        progress.finish(stage)
        firsts = CallCache.assemble(plan, [a for a, _ in fresh])
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

    def _call(self, engine_key, name, plan, requests, stage, followup) -> list[Answer]:
        todo = [requests[i] for i in plan.to_call]
        if not todo:
            return []
        config = self.engines[engine_key]
        starts = range(0, len(todo), self.batch_size)
        futures = {generate_batch.submit(config, todo[s : s + self.batch_size], stage, followup): s for s in starts}
        by_start: dict[int, list[Answer]] = {}
        for fut in as_completed(list(futures)):
            start = futures[fut]
            answers = by_start[start] = fut.result()
            self._save(name, plan, requests, start, answers, followup)  # saved as soon as it exists: resumable
        return [a for s in starts for a in by_start[s]]

    def _save(self, name: str, plan: CachePlan, requests, start: int, answers: list[Answer], followup) -> None:
        sub = CachePlan(keys=plan.keys, hits=plan.hits, to_call=plan.to_call[start : start + len(answers)])
        firsts = [a for a, _ in answers]
        self.cache.save(name, sub, requests, firsts)
        # A follow-up request is a pure function of its first call, so the flow rebuilds it to key the cache.
        seconds = [
            (followup(requests[i], first), second)
            for i, (first, second) in zip(sub.to_call, answers, strict=True)
            if second is not None
        ]
        self.stats.count(firsts + [s for _, s in seconds])
        if seconds:
            reqs = [f for f, _ in seconds]
            keys = [f.key(name) for f in reqs]
            self.cache.save(name, CachePlan(keys, {}, list(range(len(reqs)))), reqs, [s for _, s in seconds])
