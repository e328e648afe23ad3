"""A whole build through the `openai` engine against llama-cpp-python's own server on 127.0.0.1."""

import json

import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_build_over_a_real_openai_compatible_server(tmp_path, llama_server, monkeypatch):
    monkeypatch.setenv("PREFSYNTH_TEST_KEY", "sk-test-not-a-real-key")
    (tmp_path / "p.jsonl").write_text('{"prompt": "Name a colour."}\n')
    (tmp_path / "c.yaml").write_text(
        "name: served\nprompts: {path: p.jsonl}\n"
        f"engines: {{srv: {{kind: openai, base_url: '{llama_server}', model: smollm2, api_key_env: PREFSYNTH_TEST_KEY,"
        " max_concurrency: 2}}\n"
        "policies: [{engine: srv, n: 2, max_tokens: 12, temperature: 1.0, seed: 3}]\n"
        "judge: {engine: srv, max_tokens: 32}\n"
    )
    args = ["build", str(tmp_path / "c.yaml"), "--catalog", str(tmp_path / "c.duckdb"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    s = json.loads(result.stdout)
    # llama.cpp's server ignores n: the engine asked again with another seed, so both samples exist.
    assert sum(s["stats"]["samples"].values()) == 2 and s["stats"]["engine_errors"] == 0
    assert s["stats"]["completion_tokens"] > 0
    assert sum(s["stats"]["judgments"].values()) == 2 * s["stats"]["pairs"]
    assert "sk-test" not in (tmp_path / "c.duckdb").read_bytes().decode("latin-1")
