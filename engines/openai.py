"""The engine for any OpenAI-compatible HTTP server: OpenAI, `vllm serve`, llama.cpp's server.

A plain `aiohttp.ClientSession` (no SDK): the servers differ in small ways (llama.cpp ignores `n`, only vLLM knows
`structured_outputs`), and the retry policy must be ours so that it honours `Retry-After`. aiohttp, not httpx: the
client's CPU per request is what keeps a fast server full from a small machine, and httpx (httpcore, anyio) cost
1.65 ms of CPU per call against aiohttp's 0.45 ms (1,500 calls at 64 in flight, benchmarks/README.md section 9).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp

from ..schemas.engine import Completion, GenRequest, GenResult, OpenAIEngineConfig
from .scheduler import Limits, acquire, release, release_when_collected, run_on_loop, start_on_loop

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Reply:
    """One HTTP response, read whole: status, headers (lower-case names) and body text."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Retryable(Exception):
    """A failed attempt worth repeating; `wait_s` is the server's `Retry-After`, if it sent one."""

    def __init__(self, reason: str, wait_s: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.wait_s, self.status = wait_s, status


class _Fatal(Exception):
    """A failed call that repeating cannot fix (a 4xx other than 429, or retries exhausted)."""


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None if absent/unparsable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def split_tokens(total: int, texts: list[str]) -> list[int]:
    """Share a response's total completion tokens among its choices in proportion to their text length.

    Servers report `usage` per response, not per choice; the shares sum exactly to `total`.
    """
    weights = [len(t) + 1 for t in texts]  # +1: an empty text still cost its stop token
    shares = [total * w // sum(weights) for w in weights]
    for i in range(total - sum(shares)):  # hand out the rounding remainder, first choices first
        shares[i % len(shares)] += 1
    return shares


class OpenAIEngine:
    """Sends each `GenRequest` to an OpenAI-compatible server through the engine's scheduler.

    At most `max_concurrency` HTTP calls are in flight to the server per process, however many batches, stages
    or builds send at once, within the optional `max_requests_per_minute` / `max_tokens_per_minute`: engines of
    one server (base_url and model) share one scheduler, the strictest limits of those open hold
    (engines/scheduler.py); `close()` lets go of it.
    `submit` sends one request and returns at once (the streaming runtime uses it); `generate` sends a list and
    waits for all of it. Transient failures (429, 5xx, connection errors, timeouts, malformed bodies)
    are retried with exponential backoff, a 429's Retry-After wins and slows every call to the server down; a
    request that still fails becomes a `GenResult` with `error` set. When a server returns fewer than `n`
    choices, the rest are asked for again with seeds offset by the index of their first completion, so a re-run
    asks exactly the same questions. The API key is read from the environment at call time and appears nowhere
    else (not in `name`, not in errors, not in logs).
    """

    def __init__(self, config: OpenAIEngineConfig):
        self.config = config
        self.name = f"openai:{config.model}"
        self.concurrency = config.max_concurrency  # a batch this big keeps every allowed slot busy
        limits = Limits(config.max_concurrency, config.max_requests_per_minute, config.max_tokens_per_minute)
        self.scheduler, self._holder = acquire(config.base_url, config.model, limits)  # shared per server
        self._collected = release_when_collected(self, config.base_url, config.model, self._holder)
        self._session: aiohttp.ClientSession | None = None  # made on the engine loop on first use

    def submit(self, request: GenRequest, deliver: Callable[[GenResult], None] | None = None) -> Future | None:
        """Send one request now (it queues for a slot). Without `deliver`: a future of its `GenResult` (never an
        exception); with it, `deliver(result)` is called on the engine loop when the result is in (the streaming
        runtime passes a queue's `put`: cheaper than a future per request) and None is returned."""
        if deliver is None:
            return run_on_loop(self._one(request))
        start_on_loop(self._deliver(request, deliver))
        return None

    async def _deliver(self, request: GenRequest, deliver: Callable[[GenResult], None]) -> None:
        deliver(await self._one(request))

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        futures = [self.submit(r) for r in requests]
        return [f.result() for f in futures]

    async def _post(self, url: str, body: dict, headers: dict) -> Reply:
        """POST a JSON body on the engine's one connection pool (keep-alive; the scheduler's slots bound the
        connections, so the pool itself has no limit) and read the whole response."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        data = json.dumps(body).encode()
        async with self._session.post(url, data=data, headers={**headers, **_JSON}) as resp:
            text = (await resp.read()).decode("utf-8", errors="replace")
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, text)

    def close(self) -> None:
        """Let go of the server's shared scheduler and close the connection pool (the build's `EngineSet` does,
        when the build ends; twice is harmless)."""
        self._collected.detach()
        release(self.config.base_url, self.config.model, self._holder)
        if self._session is not None:
            session, self._session = self._session, None
            run_on_loop(session.close()).result(timeout=10)

    async def _one(self, req: GenRequest) -> GenResult:
        cfg = self.config
        key = (os.environ.get(cfg.api_key_env) if cfg.api_key_env else None) or ""
        start = time.perf_counter()
        retries = [0]  # failed attempts of this request's HTTP calls, for the build summary
        try:
            completions, prompt_tokens = await self._complete(key, req, retries)
        except _Fatal as exc:
            return GenResult(error=_clean(str(exc), key), latency_s=time.perf_counter() - start,
                             retries=retries[0])
        except Exception as exc:  # a bug or an odd body must not sink the whole batch
            error = _clean(f"{type(exc).__name__}: {exc}", key)
            return GenResult(error=error, latency_s=time.perf_counter() - start, retries=retries[0])
        return GenResult(completions=completions, prompt_tokens=prompt_tokens, latency_s=time.perf_counter() - start,
                         retries=retries[0])

    async def _complete(self, key: str, req: GenRequest, retries: list[int]) -> tuple[list[Completion], int]:
        completions, prompt_tokens = await self._call(key, req, req.n, req.seed, retries)
        per = len(completions)  # what the server gives per call: 1 on llama.cpp, which ignores `n`
        cursor = per  # seeds req.seed + i for i < cursor are taken
        while len(completions) < req.n:
            # Ask for the rest in parallel chunks of `per`; each chunk's seed is offset by the index of its
            # first completion (seed, seed+1, ... on llama.cpp, like the embedded engine): distinct, reproducible.
            missing = req.n - len(completions)
            chunks = [(cursor + j, min(per, missing - j)) for j in range(0, missing, per)]
            outs = await asyncio.gather(*(self._call(key, req, k, req.seed + s, retries) for s, k in chunks))
            completions += [c for got, _ in outs for c in got]
            cursor += missing
        return completions[: req.n], prompt_tokens

    async def _call(self, key: str, req: GenRequest, n: int, seed: int,
                    retries: list[int]) -> tuple[list[Completion], int]:
        """One logical call with retries (counted in `retries`); raises `_Fatal` with the last reason when it
        cannot succeed. Each attempt holds one scheduler slot; the wait before a retry holds none."""
        cfg, sched = self.config, self.scheduler
        url, body = self._request(req, n, seed)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        estimate = _token_estimate(req, n)
        reason, wait = "no attempt made", 0.0
        for attempt in range(cfg.max_retries + 1):
            if attempt:
                retries[0] += 1
                await asyncio.sleep(wait)
            try:
                async with sched.slot(estimate), asyncio.timeout(cfg.timeout_s):  # total time, not per read
                    resp = await self._post(url, body, headers)
                completions, prompt_tokens = _parse(resp, chat=req.messages is not None)
                sched.succeeded(estimate, prompt_tokens + sum(c.completion_tokens for c in completions))
                return completions, prompt_tokens
            except _Retryable as exc:
                reason, hint = str(exc), exc.wait_s
                if exc.status is not None:  # refused with 429/5xx: generated nothing
                    sched.refused(estimate)
                if exc.status == 429:  # every engine of the server slows down (max_backoff_s caps its pause too)
                    sched.rate_limited(None if hint is None else min(hint, cfg.max_backoff_s))
            except TimeoutError:
                reason, hint = f"timeout after {cfg.timeout_s:g}s", None
            except aiohttp.ClientError as exc:  # connect/read/write errors, resets, truncated bodies
                reason, hint = f"connection error ({type(exc).__name__}: {exc})", None
            reason = _clean(reason, key)
            wait = min(cfg.max_backoff_s, hint if hint is not None else cfg.backoff_s * 2**attempt)
            log.info("%s: attempt %d failed: %s", self.name, attempt + 1, reason)
        tries = cfg.max_retries + 1
        raise _Fatal(f"gave up after {tries} attempt{'s' * (tries > 1)}; last: {reason}")

    def _request(self, req: GenRequest, n: int, seed: int) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body of one call asking for `n` choices with `seed`."""
        cfg = self.config
        body: dict[str, Any] = {
            "model": cfg.model,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
            "seed": seed,
            "n": n,
        }
        if req.stop:
            body["stop"] = list(req.stop)
        if req.choices and cfg.structured_outputs == "vllm":
            body["structured_outputs"] = {"choice": list(req.choices)}  # vLLM >= 0.12; others: free text
        root = cfg.base_url.rstrip("/")
        if req.messages is not None:
            body["messages"] = [m.model_dump() for m in req.messages]
            return f"{root}/chat/completions", body
        if req.prompt is None:
            raise _Fatal("request has neither `messages` nor `prompt`")
        body["prompt"] = req.prompt
        return f"{root}/completions", body


_JSON = {"Content-Type": "application/json"}


def _parse(resp: Reply, chat: bool) -> tuple[list[Completion], int]:
    """Completions and prompt tokens of one response; raises `_Retryable` / `_Fatal` on failure."""
    if not resp.ok:
        reason = f"HTTP {resp.status}: {resp.text}"  # shortened by _clean, after the key is redacted
        if resp.status in _RETRY_STATUS:
            raise _Retryable(reason, retry_after_s(resp.headers.get("retry-after")), resp.status)
        raise _Fatal(reason)
    try:
        data = json.loads(resp.text)
        choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
        texts = [(c["message"].get("content") if chat else c.get("text")) or "" for c in choices]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _Retryable(f"malformed response body (HTTP 200, {type(exc).__name__})") from exc
    if not choices:
        raise _Retryable("response has no choices (HTTP 200)")
    usage = data.get("usage") or {}
    shares = split_tokens(int(usage.get("completion_tokens") or 0), texts)
    completions = [
        Completion(
            text=text,
            finish_reason=c.get("finish_reason") or "stop",
            completion_tokens=int((c.get("usage") or {}).get("completion_tokens", share)),
        )
        for c, text, share in zip(choices, texts, shares, strict=True)
    ]
    return completions, int(usage.get("prompt_tokens") or 0)


def _token_estimate(req: GenRequest, n: int) -> float:
    """Tokens one call may use, charged against max_tokens_per_minute before it is sent (~4 characters a token)."""
    chars = len(req.prompt or "") + sum(len(m.content) for m in req.messages or ())
    return chars / 4 + req.max_tokens * n


def _clean(text: str, key: str, limit: int = 300) -> str:
    """Error text fit to log and return: the API key redacted first (a server may echo request headers in
    an error body), then shortened, so that not even a prefix of the key survives."""
    key = key.strip()
    text = text.replace(key, "***") if key else text
    return text if len(text) <= limit else text[: limit - 1] + "…"
