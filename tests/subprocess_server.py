"""A server subprocess for tests and benchmarks: start it, wait until a URL answers 200, stop it at the end.

Used by tests/servers.py (llama.cpp and Prefect servers) and tests/vllm_server.py (vLLM's OpenAI server).
Only the standard library and httpx: the vLLM environment imports it too.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for subprocesses that must be told their port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(cmd: list[str], ready_url: str, name: str, startup_timeout_s: float, *, env: dict | None = None,
          log_path: Path | None = None, stop_timeout_s: float = 30.0) -> Iterator[None]:
    """Run `cmd` until the block ends; the block starts once `ready_url` answers 200.

    Output goes to `log_path`, or to an unnamed temporary file: a file, not a pipe, because nobody reads the
    output while tests run and a full pipe would stall the server. A server that exits or is not ready in
    time raises with the tail of its output.
    """
    with (log_path.open("w+b") if log_path else tempfile.TemporaryFile()) as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, ready_url, name, startup_timeout_s, log)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False  # not listening yet


def _wait_ready(proc: subprocess.Popen, url: str, name: str, timeout_s: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while not answers(url):
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready after {timeout_s:g}s ({url}):\n{_tail(log)}")
        time.sleep(0.25)


def _tail(log: IO[bytes], chars: int = 3000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-chars:]
