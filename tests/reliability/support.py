"""Shared pieces of the reliability tests: a deterministic policy + judge behind the fault server, `prefsynth`
subprocesses, and checks of what a catalog holds.

PYTEST_DONT_REWRITE (no asserts here; test modules import it before pytest could rewrite it).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from prefsynth.engines.openai import OpenAIEngine
from prefsynth.schemas.engine import GenRequest, OpenAIEngineConfig
from tests.servers import FaultServer, body_hash

PREFSYNTH = str(Path(sys.executable).parent / "prefsynth")
_WORDS = ("river", "stone", "amber", "quiet", "lantern", "orbit", "meadow", "copper", "signal", "harbor", "violet",
          "thread", "summit", "echo", "canvas", "ember")

PROMPTS = [
    "Name a colour and explain why you like it.",
    "Give one tip for writing clear emails.",
    "What is a prime number?",
    "Suggest a name for a small bakery.",
    "Why do leaves change colour in autumn?",
    "Describe a calm morning in one sentence.",
]


# ------------------------------------------------------------------------------ the model behind the server


def responses_in(text: str) -> tuple[str, str] | None:
    """The two responses inside a pairwise judging prompt (as shown: A, B), or None for another prompt."""
    if "[Response A]\n" not in text:
        return None
    a = text.split("[Response A]\n", 1)[1].split("\n[End of Response A]", 1)[0]
    b = text.split("[Response B]\n", 1)[1].split("\n[End of Response B]", 1)[0]
    return a, b


def longer_wins(a: str, b: str) -> str:
    return "A>B" if len(a) > len(b) else "B>A" if len(b) > len(a) else "A=B"


def reply(body: dict, index: int) -> str:
    """What the served model says: a consistent judge (the longer response wins) or a policy whose answer is a
    pure function of (prompt, seed + index), like a seeded sampler."""
    messages = body.get("messages") or [{"role": "user", "content": body.get("prompt", "")}]
    judged = next((r for m in messages if (r := responses_in(m["content"])) is not None), None)
    if judged is not None:
        label = longer_wins(*judged)
        if messages[-1]["role"] == "user" and responses_in(messages[-1]["content"]) is None:
            return f"[[{label}]]"  # the constrained re-ask: the bare verdict
        return f"Both responses address the prompt; one has more detail.\nVerdict: [[{label}]]"
    digest = hashlib.sha256(f"{messages[-1]['content']}|{body.get('seed', 0) + index}".encode()).digest()
    return " ".join(_WORDS[b % len(_WORDS)] for b in digest[1 : 4 + digest[0] % 10])


def policy_server(**kw) -> FaultServer:
    """A fault server answering as `reply`, with every `n` choice in one response (like vLLM)."""
    return FaultServer(**{"default": ("reply",), "honour_n": True, "responder": reply, **kw})


# ------------------------------------------------------------------------------------------ configs, files


def write_prompts(folder: Path, prompts: list[str] = PROMPTS) -> Path:
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    return path


def engine_settings(base_url: str, **kw) -> dict:
    return {"kind": "openai", "base_url": base_url, "model": "served", "api_key_env": "PREFSYNTH_TEST_API_KEY",
            "max_concurrency": 2, "timeout_s": 10, "max_retries": 2, "backoff_s": 0.02, "max_backoff_s": 0.1, **kw}


def build_config(folder: Path, base_url: str, name: str = "resumable", engine: dict | None = None,
                 prompts: list[str] = PROMPTS, **top) -> Path:
    """A preference build on one served model: n=3 samples per prompt, every pair judged in both orders."""
    write_prompts(folder, prompts)
    config = {
        "name": name,
        "prompts": {"path": "prompts.jsonl"},
        "engines": {"srv": {**engine_settings(base_url), **(engine or {})}},
        "policies": [{"engine": "srv", "n": 3, "max_tokens": 32, "temperature": 0.8, "seed": 1}],
        "judge": {"engine": "srv", "max_tokens": 64},
        "batch_size": 2,
        **top,
    }
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


# ------------------------------------------------------------------------------------------- subprocesses


def start(env: dict, *args: str, out_dir: Path) -> subprocess.Popen:
    """`prefsynth ARGS` in the background; its stdout/stderr go to files in `out_dir` (see `finish`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stdout = (out_dir / "stdout").open("wb")
    stderr = (out_dir / "stderr").open("wb")
    proc = subprocess.Popen([PREFSYNTH, *args], env=env, stdout=stdout, stderr=stderr)
    proc.out_dir = out_dir  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen, timeout: float = 240.0) -> tuple[int, str, str]:
    """Wait for a `start`ed process; returns (exit code, stdout, stderr)."""
    code = proc.wait(timeout=timeout)
    out_dir: Path = proc.out_dir  # type: ignore[attr-defined]
    return code, (out_dir / "stdout").read_text(), (out_dir / "stderr").read_text()


def run(env: dict, *args: str, out_dir: Path, timeout: float = 240.0) -> tuple[int, str, str]:
    return finish(start(env, *args, out_dir=out_dir), timeout)


def wait_until(condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            code, out, err = finish(proc)
            raise AssertionError(f"process ended ({code}) before {what}:\n{out[-2000:]}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------- the catalog


def table_names(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]


def duplicate_rows(catalog: Path) -> dict[str, int]:
    """Per table, how many rows are exact copies of another row (every table, including the call cache)."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        return {
            t: n for t in table_names(con)
            if (n := con.execute(f'SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM "{t}")) FROM "{t}"')
                .fetchone()[0])
        }


def version_rows(catalog: Path) -> dict[str, int]:
    """Row counts of everything that makes up versions: none of it may exist without a committed version."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("datasets", "dataset_versions", "dataset_rows", "filter_decisions")}


def stored_request_hashes(catalog: Path, engine: dict) -> set[str]:
    """The HTTP request hashes (as the fault server counts them) of every call in the catalog's call cache."""
    client = OpenAIEngine(OpenAIEngineConfig(**engine))
    with duckdb.connect(str(catalog), read_only=True) as con:
        requests = [GenRequest.model_validate_json(r[0]) for r in con.execute("SELECT request FROM llm_calls").fetchall()]
    return {body_hash(client._request(req, req.n, req.seed)[1]) for req in requests}
