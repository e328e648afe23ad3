"""Content-addressed call cache: a re-run, retry or resume never pays twice for a call that succeeded.

Keys are `GenRequest.key(engine.name)`: a hash of engine, model, messages/prompt and every sampling field
(seed and n included). The cache reads and writes through `CallStore`, which `storage/` implements on the
catalog table `llm_calls`, so engines never import storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..schemas.engine import GenRequest, GenResult


class CallStore(Protocol):
    def get_calls(self, keys: list[str]) -> dict[str, GenResult]: ...

    def put_calls(self, rows: list[tuple[str, str, GenRequest, GenResult]]) -> None:
        """Rows of (key, engine name, request, result); only successful results are passed."""
        ...


@dataclass
class CachePlan:
    """Which requests of a batch are answered by the cache and which must go to the engine.

    `to_call` holds one index per distinct missing key, so identical requests in a batch are sent once.
    """

    keys: list[str]
    hits: dict[str, GenResult]
    to_call: list[int]


class CallCache:
    def __init__(self, store: CallStore):
        self.store = store

    def plan(self, engine_name: str, requests: list[GenRequest],
             known: dict[str, GenResult | None] | None = None) -> CachePlan:
        """Which requests the cache answers. `known` holds answers looked up earlier (None: not in the cache),
        so only the other keys are looked up now."""
        keys = [r.key(engine_name) for r in requests]
        known = known or {}
        hits = self.store.get_calls(sorted({k for k in keys if k not in known}))
        hits.update({k: hit for k in keys if (hit := known.get(k)) is not None})
        seen: set[str] = set()
        to_call = []
        for i, k in enumerate(keys):
            if k not in hits and k not in seen:
                seen.add(k)
                to_call.append(i)
        return CachePlan(keys=keys, hits=hits, to_call=to_call)

    def save(self, engine_name: str, plan: CachePlan, requests: list[GenRequest], results: list[GenResult]) -> None:
        """Store the successful results of `plan.to_call` (failures are retried on the next run)."""
        rows = [
            (plan.keys[i], engine_name, requests[i], res)
            for i, res in zip(plan.to_call, results, strict=True)
            if res.ok
        ]
        if rows:
            self.store.put_calls(rows)

    @staticmethod
    def assemble(plan: CachePlan, results: list[GenResult]) -> list[GenResult]:
        """Results for every request of the batch, in order; cache hits are marked `cached=True`."""
        fresh = {plan.keys[i]: r for i, r in zip(plan.to_call, results, strict=True)}
        out = []
        for k in plan.keys:
            if k in plan.hits:
                out.append(plan.hits[k].model_copy(update={"cached": True}))
            else:
                out.append(fresh[k])
        return out
