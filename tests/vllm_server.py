"""vLLM on the embedded model, for tests and benchmarks: the Hugging Face model folder and vLLM's OpenAI server.

- `hf_model_dir()`: the embedded SmolLM2 GGUF converted to a Hugging Face folder by tools/convert_gguf.py
  ($PREFSYNTH_VLLM_MODEL_DIR, else .models/smollm2-135m-instruct), converted on first use.
- `run_vllm_server(dir)`: `python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 until the block ends
  (the CPU build's `vllm` console command fails; the module entry point works).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVED_NAME = "smollm2"
MAX_MODEL_LEN = 1024
KV_CACHE_GB = 0.5  # the CPU build sizes its KV cache from this, not from GPU memory
CONVERTED_MARKER = "prefsynth-conversion.json"  # tools/convert_gguf.py writes it last


def hf_model_dir() -> Path:
    out = Path(os.environ.get("PREFSYNTH_VLLM_MODEL_DIR") or ROOT / ".models" / "smollm2-135m-instruct")
    if not (out / CONVERTED_MARKER).is_file():
        subprocess.run([sys.executable, str(ROOT / "tools" / "convert_gguf.py"), str(out)], check=True)
    return out


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def run_vllm_server(model_dir: Path, startup_timeout_s: float = 600.0) -> Iterator[str]:
    """Yields the server's base URL (…/v1); the server serves `model_dir` as SERVED_NAME."""
    port = free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
           "--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager", "--dtype", "bfloat16",
           "--kv-cache-memory-bytes", str(int(KV_CACHE_GB * 2**30))]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: nobody drains it while tests run
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}/v1/models", startup_timeout_s, log)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen, url: str, timeout_s: float, log) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"vLLM server exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.5)
    raise TimeoutError(f"vLLM server not ready after {timeout_s:g}s ({url})")
