"""Engine calls as the flow process sees them: cache first, then batches of misses as Prefect tasks.

The flow process alone reads and writes the call cache (single writer); each finished batch is saved at
once, so a killed build resumes without paying again for any call that succeeded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prefect.futures import as_completed

from .. import progress
from ..engines.cache import CachePlan, CallCache
from ..schemas.engine import EngineConfig, GenRequest, GenResult
from ..tasks.generate import engine_for, generate_batch


@dataclass
class CallStats:
    engine_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_stage: Counter = field(default_factory=Counter)

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
        config = self.engines[engine_key]
        name = self.engine_name(engine_key)
        plan = self.cache.plan(name, requests)
        todo = [requests[i] for i in plan.to_call]
        progress.start(stage, len(requests))
        progress.advance(stage, len(requests) - len(todo), cached=len(requests) - len(todo))
        fresh = self._call(config, todo, stage, name, plan, requests)
        progress.finish(stage)
        results = CallCache.assemble(plan, fresh)
        self.stats.cache_hits += sum(r.cached for r in results)
        self._count(fresh, stage)
        return results

    def _call(self, config, todo, stage, name, plan, requests) -> list[GenResult]:
        if not todo:
            return []
        starts = list(range(0, len(todo), self.batch_size))
        futures = {generate_batch.submit(config, todo[s : s + self.batch_size], stage): s for s in starts}
        by_start: dict[int, list[GenResult]] = {}
        for fut in as_completed(list(futures)):
            start = futures[fut]
            batch = fut.result()
            by_start[start] = batch
            sub = _subplan(plan, start, len(batch))
            self.cache.save(name, sub, requests, batch)  # saved as soon as it exists: resumable
        return [r for s in starts for r in by_start[s]]

    def _count(self, results: list[GenResult], stage: str) -> None:
        for r in results:
            self.stats.engine_calls += 1
            self.stats.errors += int(not r.ok)
            self.stats.prompt_tokens += r.prompt_tokens
            self.stats.completion_tokens += r.completion_tokens
            self.stats.by_stage[stage] += 1


def _subplan(plan: CachePlan, start: int, length: int) -> CachePlan:
    return CachePlan(keys=plan.keys, hits=plan.hits, to_call=plan.to_call[start : start + length])
