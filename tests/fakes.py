"""Test doubles: a scripted engine (replies come from a function of the request; every request is recorded) and
an in-memory call store."""

from __future__ import annotations

import threading
from typing import Callable

from prefsynth.schemas.engine import Completion, GenRequest, GenResult

Reply = Callable[[GenRequest, int], "str | Exception"]


class MemoryCallStore:
    """A dict-backed `engines.cache.CallStore`, for tests that need a call cache without a catalog."""

    def __init__(self) -> None:
        self.rows: dict[str, GenResult] = {}

    def get_calls(self, keys: list[str]) -> dict[str, GenResult]:
        return {k: self.rows[k] for k in keys if k in self.rows}

    def put_calls(self, rows: list[tuple[str, str, GenRequest, GenResult]]) -> None:
        for key, _engine, _req, result in rows:
            self.rows[key] = result


class ScriptedEngine:
    """`reply(request, completion_index)` returns the text, or an Exception to simulate a failed call."""

    def __init__(self, reply: Reply, name: str = "scripted:test", concurrency: int = 4):
        self.reply = reply
        self.name = name
        self.concurrency = concurrency
        self.requests: list[GenRequest] = []
        self._lock = threading.Lock()

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        with self._lock:
            self.requests.extend(requests)
        return [self._one(r) for r in requests]

    def _one(self, req: GenRequest) -> GenResult:
        completions = []
        for i in range(req.n):
            text = self.reply(req, i)
            if isinstance(text, Exception):
                return GenResult(error=f"{type(text).__name__}: {text}")
            completions.append(Completion(text=text, finish_reason="stop", completion_tokens=len(text.split())))
        return GenResult(completions=completions, prompt_tokens=10)


def is_judging(req: GenRequest) -> bool:
    """Judging requests (first asks and re-asks) carry the pairwise template."""
    return any("[Response A]" in m.content for m in req.messages or ())


def response_texts(req: GenRequest) -> tuple[str, str]:
    """The two responses inside a pairwise judging prompt (as shown: A, B)."""
    body = next(m.content for m in req.messages if "[Response A]" in m.content)
    a = body.split("[Response A]\n", 1)[1].split("\n[End of Response A]", 1)[0]
    b = body.split("[Response B]\n", 1)[1].split("\n[End of Response B]", 1)[0]
    return a, b


def policy_then_judge(policy: Callable[[GenRequest, int], str], judge: Callable[[GenRequest], str]) -> Reply:
    """Route sampling requests to `policy` and judging requests (first asks and re-asks) to `judge`."""

    def reply(req: GenRequest, i: int):
        return judge(req) if is_judging(req) else policy(req, i)

    return reply


def longer_wins(req: GenRequest) -> str:
    """A consistent judge: prefers the longer response in either order."""
    a, b = response_texts(req)
    label = "A>B" if len(a) > len(b) else "B>A" if len(b) > len(a) else "A=B"
    return f"The better response is more complete.\nVerdict: [[{label}]]"


def numbered_policy(req: GenRequest, i: int) -> str:
    prompt = req.messages[-1].content
    return f"Answer {i} to '{prompt[:20]}'" + " with detail" * (i + 1)
