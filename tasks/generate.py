"""The one Prefect task that talks to models: a batch of requests on one engine.

Workers are stateless: the engine is built once per process from its config (a Ray worker builds its own) and
the call cache stays with the flow process, which sends only the requests the cache could not answer.
"""

from __future__ import annotations

import threading

from prefect import task
from prefect.cache_policies import NO_CACHE

from .. import progress
from ..engines.base import Engine, build_engine
from ..schemas.engine import EngineConfig, GenRequest, GenResult

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(config: EngineConfig) -> Engine:
    """The process-wide engine for this config (models load once per process)."""
    key = config.model_dump_json()
    with _engines_lock:
        if key not in _engines:
            _engines[key] = build_engine(config)
        return _engines[key]


def forget_engines() -> None:
    """Drop every engine built by this process (tests, or to free a model's memory)."""
    with _engines_lock:
        _engines.clear()


def generate_now(config: EngineConfig, requests: list[GenRequest], stage: str = "") -> list[GenResult]:
    """Run the batch in this process, reporting progress per request where the engine allows."""
    engine = engine_for(config)
    step = max(1, getattr(engine, "concurrency", len(requests)))
    results: list[GenResult] = []
    # Chunks as wide as the engine's own concurrency: no loss of parallelism, and progress still moves.
    for start in range(0, len(requests), step):
        chunk = engine.generate(requests[start : start + step])
        results.extend(chunk)
        progress.advance(
            stage, len(chunk), tokens=sum(r.completion_tokens for r in chunk), errors=sum(not r.ok for r in chunk)
        )
    return results


@task(name="generate-batch", cache_policy=NO_CACHE, retries=0)
def generate_batch(config: EngineConfig, requests: list[GenRequest], stage: str = "") -> list[GenResult]:
    """Engine failures come back as `GenResult.error` records; the task itself does not fail on them."""
    return generate_now(config, requests, stage)
