"""Deterministic synthetic replies: exercises a whole config at zero cost."""

from __future__ import annotations

import hashlib
import time

from ..schemas.engine import Completion, DryRunEngineConfig, GenRequest, GenResult

_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


class DryRunEngine:
    """Replies are a pure function of (request, completion index).

    A request with `choices` gets one of them (so constrained judging parses); free requests get a short
    deterministic text whose length varies with the seed, bounded by `max_tokens` words.
    """

    def __init__(self, config: DryRunEngineConfig | None = None):
        self.config = config or DryRunEngineConfig()
        self.name = f"dry_run:{self.config.model}"
        self.concurrency = 1_000_000

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        return [self._one(r) for r in requests]

    def _one(self, req: GenRequest) -> GenResult:
        if self.config.latency_s:
            time.sleep(self.config.latency_s)
        key = req.key(self.name)
        completions = [self._completion(req, key, i) for i in range(req.n)]
        return GenResult(completions=completions, prompt_tokens=0, latency_s=self.config.latency_s)

    @staticmethod
    def _completion(req: GenRequest, key: str, index: int) -> Completion:
        d = _digest(key, index)
        if req.choices:
            text = req.choices[d[0] % len(req.choices)]
            return Completion(text=text, finish_reason="stop", completion_tokens=1)
        n_words = min(req.max_tokens, 4 + d[1] % 12)
        text = " ".join(_WORDS[b % len(_WORDS)] for b in d[2 : 2 + n_words])
        finish = "length" if n_words == req.max_tokens else "stop"
        return Completion(text=text, finish_reason=finish, completion_tokens=n_words)
