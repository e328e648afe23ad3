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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.subprocess_server import free_port, serve

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


@contextmanager
def run_vllm_server(model_dir: Path, startup_timeout_s: float = 600.0) -> Iterator[str]:
    """Yields the server's base URL (…/v1); the server serves `model_dir` as SERVED_NAME."""
    port = free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
           "--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager", "--dtype", "bfloat16",
           "--kv-cache-memory-bytes", str(int(KV_CACHE_GB * 2**30))]
    with serve(cmd, f"http://127.0.0.1:{port}/v1/models", "vLLM server", startup_timeout_s):
        yield f"http://127.0.0.1:{port}/v1"
