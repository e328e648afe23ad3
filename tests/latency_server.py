"""A simulated model server on 127.0.0.1: OpenAI-compatible, with a latency per request, a capacity and a rate limit.

Like `vllm serve` seen from the client: each request takes a latency drawn from a fixed distribution (by default
0.05–0.455 s uniform, and one request in twenty takes 1 s: mean ≈ 0.29 s — a spread and a long tail, like
generation lengths), at most `capacity` requests are served at once (the rest queue, their latency starts when
they are served), and with `rate_per_s` set, requests beyond that rate (a token bucket with a one-second burst)
get `429` with `Retry-After: 1`, like a hosted API. The latency of a request is a pure function of its body, so
a rerun of the same workload costs the same.

It records what a test or benchmark asserts: `peak_in_flight` (requests received and not yet answered, the
queue included), `served` and `sum_latency_s` of answered requests, `rejected` (429s). Replies: a judging request
(its prompt lists the verdicts `[[A>B]]`...) gets a short rationale and a verdict; any other request gets a text
unique to the request and choice (so no two samples are duplicates).

In a thread: `with LatencyServer(capacity=64) as server: server.base_url`. As a process (benchmarks, so that the
server does not share the client's interpreter): `python tests/latency_server.py --port P --capacity 64`, with the
counters at GET /stats. PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import threading
import time


VERDICTS = ("A>B", "B>A", "A>>B", "B>>A")


def latency_of(body: dict, tail_every: int = 20, low: float = 0.05, high: float = 0.455, tail: float = 1.0) -> float:
    """The request's latency: a pure function of its body (mean ≈ 0.29 s with the defaults)."""
    d = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
    if int.from_bytes(d[:4], "big") % tail_every == 0:
        return tail
    return low + (high - low) * int.from_bytes(d[4:8], "big") / 2**32


def reply_texts(body: dict) -> list[str]:
    messages = body.get("messages") or []
    prompt = body.get("prompt") or " ".join(str(m.get("content", "")) for m in messages)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    n = int(body.get("n", 1))
    if "[[A>B]]" in prompt:
        return [f"Both are fine; one is clearer.\nVerdict: [[{VERDICTS[int(digest[i], 16) % 4]}]]" for i in range(n)]
    return [_words(hashlib.sha256(f"{digest}:{i}".encode()).digest()) for i in range(n)]


_WORDS = ("apple", "river", "stone", "cloud", "maple", "quartz", "ember", "violet", "harbor", "lantern", "meadow",
          "canyon", "falcon", "glacier", "saffron", "thimble")


def _words(d: bytes) -> str:
    """Twelve words picked by the digest: two replies share few words, so no two are near-duplicates."""
    return " ".join(_WORDS[b % len(_WORDS)] + str(b) for b in d[:12]) + "."


class LatencyServer:
    def __init__(self, capacity: int = 1_000_000, rate_per_s: float | None = None, port: int = 0):
        self.capacity, self.rate_per_s, self.port = capacity, rate_per_s, port
        self.in_flight = self.peak_in_flight = self.served = self.rejected = 0
        self.sum_latency_s = 0.0
        self.first_at = self.last_at = None  # when the first request came, when the last reply went
        self._tokens, self._stamp = rate_per_s or 0.0, time.monotonic()
        self._slots: asyncio.Semaphore | None = None
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        return {"peak_in_flight": self.peak_in_flight, "served": self.served, "rejected": self.rejected,
                "sum_latency_s": round(self.sum_latency_s, 4), "capacity": self.capacity,
                "rate_per_s": self.rate_per_s, "busy_s": round((self.last_at or 0) - (self.first_at or 0), 4)}

    def _admit(self) -> bool:
        """The rate limit: a token bucket of `rate_per_s`, one second of burst."""
        if self.rate_per_s is None:
            return True
        now = time.monotonic()
        self._tokens = min(self.rate_per_s, self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _handle(self, request):
        from starlette.responses import JSONResponse

        body = await request.json()
        self.first_at = self.first_at or time.monotonic()
        if not self._admit():
            self.rejected += 1
            return JSONResponse({"error": {"message": "rate limited"}}, 429, headers={"Retry-After": "1"})
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.capacity)
            async with self._slots:
                latency = latency_of(body)
                await asyncio.sleep(latency)
        finally:
            self.in_flight -= 1
        self.served += 1
        self.sum_latency_s += latency
        self.last_at = time.monotonic()
        texts = reply_texts(body)
        chat = request.url.path.endswith("/chat/completions")
        choices = [{"index": i, "finish_reason": "stop",
                    **({"message": {"role": "assistant", "content": t}} if chat else {"text": t})}
                   for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        return JSONResponse({"id": "sim", "object": "completion", "model": body.get("model"), "choices": choices,
                             "usage": {"prompt_tokens": 20, "completion_tokens": tokens,
                                       "total_tokens": 20 + tokens}})

    async def _stats(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse(self.stats())

    def _config(self):
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        app = Starlette(routes=[Route("/v1/chat/completions", self._handle, methods=["POST"]),
                                Route("/v1/completions", self._handle, methods=["POST"]),
                                Route("/stats", self._stats, methods=["GET"])])
        return uvicorn.Config(app, log_level="warning", access_log=False, http="h11", lifespan="off",
                              backlog=4096, timeout_keep_alive=60)

    def start(self) -> LatencyServer:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(self._config())
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("latency server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> LatencyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=None, help="requests per second before 429s")
    args = parser.parse_args()
    server = LatencyServer(args.capacity, args.rate, args.port).start()
    print("ready", flush=True)
    server._thread.join()


if __name__ == "__main__":
    main()
