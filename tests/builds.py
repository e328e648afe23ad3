"""CLI helpers shared by tests of several packages.

- `cli(*args)`: run `prefsynth` in-process, assert it exits 0, return its stdout.
- `build_example(folder, example, command)`: copy examples/<example> and examples/prompts.jsonl into `folder`,
  run `prefsynth <command>` on it into `folder/c.duckdb` with `--json`; returns the parsed summary.
- `write_streamed_config(folder, base_url, ...)`: a preference build config (prompts file written alongside) whose
  one `openai` engine points at an OpenAI-compatible test server (tests/latency_server.py, tests/servers.py) with
  `max_concurrency` LIMIT; `top` adds or replaces top-level keys (a `jury` replaces the judge); returns its path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from prefsynth.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LIMIT = 6


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def build_example(tmp_path: Path, example: str, command: str = "build") -> dict:
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path / "prompts.jsonl")
    shutil.copy(EXAMPLES / example, tmp_path / example)
    return json.loads(cli(command, str(tmp_path / example), "--catalog", str(tmp_path / "c.duckdb"), "--json"))


def write_streamed_config(folder, base_url: str, prompts: int = 16, top: dict | None = None, **engine) -> str:
    (folder / "p.jsonl").write_text("".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(prompts)))
    settings = {"kind": "openai", "base_url": base_url, "model": "sim", "api_key_env": None,
                "max_concurrency": LIMIT, "backoff_s": 0.05, **engine}
    config = {"name": "streamed", "prompts": {"path": "p.jsonl"}, "engines": {"srv": settings},
              "policies": [{"engine": "srv", "n": 3, "max_tokens": 32, "temperature": 0.8, "seed": 1}],
              "judge": {"engine": "srv", "max_tokens": 64}, **(top or {})}
    if "jury" in config:
        del config["judge"]
    path = folder / "c.yaml"
    path.write_text(json.dumps(config))
    return str(path)
