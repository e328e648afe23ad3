"""A simulated model server on 127.0.0.1: OpenAI-compatible, with a latency per request, a capacity and a rate limit.

Like `vllm serve` seen from the client: each request takes a latency drawn from a fixed distribution (by default
0.05–0.455 s uniform, and one request in twenty takes 1 s: mean ≈ 0.29 s — a spread and a long tail, like
generation lengths), at most `capacity` requests are served at once (the rest queue, their latency starts when
they are served), and with `rate_per_s` set, requests beyond that rate (a token bucket with a one-second burst)
get `429` with `Retry-After: 1`, like a hosted API. The latency of a request is a pure function of its body, so
a rerun of the same workload costs the same.

It records what a test or benchmark asserts: `peak_in_flight` (requests received and not yet answered, the
queue included), `served` and `sum_latency_s` of answered requests, `rejected` (429s), `cpu_s` (the server's own
CPU time). Replies: a judging request (its prompt lists the verdicts `[[A>B]]`...) gets a short rationale and a
verdict; any other request gets a text unique to the request and choice (so no two samples are duplicates).

A lean HTTP/1.1 server on plain asyncio streams (keep-alive, Content-Length bodies; no framework): the simulated
latency is the server's cost, not its own CPU — a Starlette/uvicorn server spent ~1 s of CPU per 1,000 requests,
which on a 2-core machine shared with the client was most of the gap to the bound (benchmarks/latency_bound.py).

In a thread: `with LatencyServer(capacity=64) as server: server.base_url`. As a process (benchmarks, so that the
server does not share the client's interpreter): `python tests/latency_server.py --port P --capacity 64`, with the
counters at GET /stats (and each served request's (start, end) at GET /intervals). PYTEST_DONT_REWRITE
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
_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}


def digest_of(body: dict) -> bytes:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()


def latency_of(body: dict, tail_every: int = 20, low: float = 0.05, high: float = 0.455, tail: float = 1.0,
               digest: bytes | None = None) -> float:
    """The request's latency: a pure function of its body (mean ≈ 0.29 s with the defaults)."""
    d = digest or digest_of(body)
    if int.from_bytes(d[:4], "big") % tail_every == 0:
        return tail
    return low + (high - low) * int.from_bytes(d[4:8], "big") / 2**32


def reply_texts(body: dict, digest: bytes | None = None) -> list[str]:
    messages = body.get("messages") or []
    prompt = body.get("prompt") or " ".join(str(m.get("content", "")) for m in messages)
    hexdigest = (digest or digest_of(body)).hex()
    n = int(body.get("n", 1))
    if "[[A>B]]" in prompt:
        return [f"Both are fine; one is clearer.\nVerdict: [[{VERDICTS[int(hexdigest[i], 16) % 4]}]]"
                for i in range(n)]
    return [_words(hashlib.sha256(f"{hexdigest}:{i}".encode()).digest()) for i in range(n)]


_WORDS = ("apple", "river", "stone", "cloud", "maple", "quartz", "ember", "violet", "harbor", "lantern", "meadow",
          "canyon", "falcon", "glacier", "saffron", "thimble")


def _words(d: bytes) -> str:
    """Twelve words picked by the digest: two replies share few words, so no two are near-duplicates."""
    return " ".join(_WORDS[b % len(_WORDS)] + str(b) for b in d[:12]) + "."


def completion_body(body: dict, chat: bool, digest: bytes) -> dict:
    """The OpenAI-style response to `body`."""
    texts = reply_texts(body, digest)
    choices = [{"index": i, "finish_reason": "stop",
                **({"message": {"role": "assistant", "content": t}} if chat else {"text": t})}
               for i, t in enumerate(texts)]
    tokens = sum(len(t.split()) for t in texts)
    return {"id": "sim", "object": "completion", "model": body.get("model"), "choices": choices,
            "usage": {"prompt_tokens": 20, "completion_tokens": tokens, "total_tokens": 20 + tokens}}


class LatencyServer:
    def __init__(self, capacity: int = 1_000_000, rate_per_s: float | None = None, port: int = 0):
        self.capacity, self.rate_per_s, self.port = capacity, rate_per_s, port
        self.in_flight = self.peak_in_flight = self.served = self.rejected = 0
        self.sum_latency_s = 0.0
        self.intervals: list[tuple[float, float]] = []  # (start, end) of each request's latency, since first_at
        self.first_at = self.last_at = None  # when the first request came, when the last reply went
        self._tokens, self._stamp = rate_per_s or 0.0, time.monotonic()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        return {"in_flight": self.in_flight, "peak_in_flight": self.peak_in_flight, "served": self.served, "rejected": self.rejected,
                "sum_latency_s": round(self.sum_latency_s, 4), "capacity": self.capacity,
                "rate_per_s": self.rate_per_s, "busy_s": round((self.last_at or 0) - (self.first_at or 0), 4),
                "cpu_s": round(time.process_time(), 3)}

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

    async def _complete(self, body: dict, chat: bool) -> tuple[int, dict, dict]:
        """(status, JSON body, extra headers) of one completion request."""
        self.first_at = self.first_at or time.monotonic()
        if not self._admit():
            self.rejected += 1
            return 429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"}
        digest = digest_of(body)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            async with self._slots:
                latency, began = latency_of(body, digest=digest), time.monotonic()
                await asyncio.sleep(latency)
        finally:
            self.in_flight -= 1
        self.served += 1
        self.sum_latency_s += latency
        self.last_at = time.monotonic()
        self.intervals.append((round(began - self.first_at, 4), round(self.last_at - self.first_at, 4)))
        return 200, completion_body(body, chat, digest), {}

    async def _route(self, method: str, path: str, raw: bytes) -> tuple[int, dict, dict]:
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            return await self._complete(json.loads(raw), chat=path.endswith("/chat/completions"))
        if method == "GET" and path == "/stats":
            return 200, self.stats(), {}
        if method == "GET" and path == "/intervals":
            return 200, {"intervals": self.intervals}, {}
        return 404, {"error": {"message": f"no route {method} {path}"}}, {}

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection: requests one after the other (clients do not pipeline)."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
                raw = await reader.readexactly(int(headers.get("content-length", 0)))
                status, payload, extra = await self._route(method, path, raw)
                data = json.dumps(payload).encode()
                close = headers.get("connection", "").lower() == "close"
                lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "Content-Type: application/json",
                         f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in extra.items())]
                if close:
                    lines.append("Connection: close")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client closed the connection, or the server stops (a cancel ends the task quietly)
        finally:
            writer.close()

    async def _serve(self, sock: socket.socket) -> None:
        self._slots = asyncio.Semaphore(self.capacity)
        self._server = await asyncio.start_server(self._connection, sock=sock, backlog=4096, limit=2**20)

    def start(self) -> LatencyServer:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-server", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None

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
