"""The vLLM engine's contract, for real: offline `vllm.LLM`, and `vllm`'s OpenAI server through the `openai` engine.

Both run on the embedded SmolLM2-135M-Instruct converted to a Hugging Face directory (tools/convert_gguf.py).
The contract tests need vLLM (`make test-vllm` builds `.venv-vllm/` with the CPU build) and are skipped where it
is not installed; the tests at the top need no vLLM and run in `make test`.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefsynth.engines.base import Engine, EngineError, build_engine
from prefsynth.engines.vllm import VllmEngine, model_label
from prefsynth.schemas.engine import GenRequest, Message, OpenAIEngineConfig, VllmEngineConfig
from prefsynth.tasks.judge.prompts import VERDICT_CHOICES
from tests import vllm_server
from tests.vllm_server import KV_CACHE_GB, MAX_MODEL_LEN, SERVED_NAME, run_vllm_server

HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM: run `make test-vllm`")


def chat(text: str, **kw) -> GenRequest:
    return GenRequest(messages=(Message(role="user", content=text),), **kw)


# ------------------------------------------------------------------------------------------ without vLLM


def test_engine_is_built_without_importing_vllm(tmp_path):
    """The flow process builds the engine only for its name (the call-cache key); the model loads in workers."""
    (tmp_path / "smol-hf").mkdir()
    engine = build_engine(VllmEngineConfig(model=str(tmp_path / "smol-hf"), batch_requests=64))
    assert isinstance(engine, VllmEngine) and isinstance(engine, Engine)
    assert engine.name == "vllm:smol-hf" and engine.concurrency == 64
    assert model_label("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.skipif(HAS_VLLM, reason="checks the message shown where vLLM is missing")
def test_missing_vllm_is_a_clear_engine_error():
    with pytest.raises(EngineError, match="prefsynth\\[vllm\\]"):
        VllmEngine(VllmEngineConfig(model="x")).generate([chat("hi")])


def test_config_is_part_of_the_engine_union():
    from pydantic import TypeAdapter

    from prefsynth.schemas.engine import EngineConfig

    cfg = TypeAdapter(EngineConfig).validate_python({"kind": "vllm", "model": "m", "engine_args": {"seed": 1}})
    assert isinstance(cfg, VllmEngineConfig) and cfg.engine_args == {"seed": 1}
    with pytest.raises(ValueError):
        TypeAdapter(EngineConfig).validate_python({"kind": "vllm", "model": "m", "guided_choice": ["a"]})


# --------------------------------------------------------------------------------------- the model folder


@pytest.fixture(scope="session")
def hf_model_dir() -> Path:
    return vllm_server.hf_model_dir()


# ------------------------------------------------------------------------------------ the shared contract


@pytest.fixture(scope="module", params=["offline", "server"])
def engine(request, hf_model_dir) -> Iterator[Engine]:
    """The same contract, two ways: `vllm.LLM` in this process, and the `openai` engine against vLLM's server.

    Module-scoped and parametrized: pytest runs every test on one before starting the other, so the two vLLM
    instances never compete for the two cores.
    """
    if not HAS_VLLM:
        pytest.skip("needs vLLM: run `make test-vllm`")
    if request.param == "offline":
        offline = VllmEngine(VllmEngineConfig(model=str(hf_model_dir), dtype="bfloat16", max_model_len=MAX_MODEL_LEN,
                                              kv_cache_gb=KV_CACHE_GB, enforce_eager=True))
        yield offline
        offline.close()
        return
    with run_vllm_server(hf_model_dir) as base_url:
        yield build_engine(OpenAIEngineConfig(base_url=base_url, model=SERVED_NAME, api_key_env=None,
                                              structured_outputs="vllm", max_retries=0))


@needs_vllm
def test_chat_n2_one_request_two_distinct_completions(engine):
    (res,) = engine.generate([chat("Name a fruit.", n=2, temperature=1.0, max_tokens=12, seed=7)])
    assert res.ok, res.error
    assert len(res.completions) == 2 and res.completions[0].text != res.completions[1].text
    assert all(c.completion_tokens > 0 for c in res.completions) and res.prompt_tokens > 0


@needs_vllm
def test_same_seed_same_text_across_calls(engine):
    req = chat("Say something about cats.", temperature=0.9, max_tokens=10, seed=3)
    (a,) = engine.generate([req])
    (b,) = engine.generate([req])
    assert a.completions[0].text == b.completions[0].text


@needs_vllm
def test_max_tokens_is_sent_and_truncation_reported(engine):
    """40 tokens, not vLLM's default 16; a reply cut by max_tokens says finish_reason == "length"."""
    long, short = engine.generate([chat("Write a long story about a dragon.", max_tokens=40),
                                   chat("Write a long story about a dragon.", max_tokens=4)])
    assert long.completions[0].completion_tokens == 40 and long.completions[0].finish_reason == "length"
    assert short.completions[0].completion_tokens == 4 and short.completions[0].finish_reason == "length"


@needs_vllm
def test_raw_prompt_is_continued_exactly(engine):
    (res,) = engine.generate([GenRequest(prompt="1, 2, 3, 4,", max_tokens=8, stop=("\n",))])
    assert res.ok and res.completions[0].text.startswith(" 5")


@needs_vllm
def test_choices_constrain_the_whole_reply(engine):
    reqs = [chat(f"Which answer is better, A or B? ({i}) Give a verdict.", choices=VERDICT_CHOICES, max_tokens=12,
                 temperature=1.0, seed=i) for i in range(6)]
    results = engine.generate(reqs)
    assert all(r.ok and r.completions[0].text in VERDICT_CHOICES for r in results), [r.completions for r in results]
    assert all(r.completions[0].finish_reason == "stop" for r in results)


@needs_vllm
def test_mixed_batch_keeps_order_and_one_bad_request_is_an_error(engine):
    too_long = GenRequest(prompt="word " * (MAX_MODEL_LEN + 50), max_tokens=4)
    reqs = [chat("Say hi.", max_tokens=6), too_long, GenRequest(prompt="A, B, C,", max_tokens=4),
            chat("Say bye.", max_tokens=6)]
    results = engine.generate(reqs)
    assert [r.ok for r in results] == [True, False, True, True]
    assert "context length" in results[1].error or "maximum" in results[1].error, results[1].error
    assert all(r.completions for r in results if r.ok)


# ---------------------------------------------------------------------------------------- offline only


@needs_vllm
def test_offline_llm_is_built_with_prefix_caching(engine):
    if not isinstance(engine, VllmEngine):
        pytest.skip("offline engine only")
    assert engine._model().llm_engine.vllm_config.cache_config.enable_prefix_caching


@needs_vllm
@pytest.mark.usefixtures("prefect_harness")
def test_tiny_real_build_on_vllm(engine, engines, tmp_path, hf_model_dir):
    """A preference build with vLLM sampling and judging, through the CLI: the plumbing is real."""
    if not isinstance(engine, VllmEngine):
        pytest.skip("offline engine only")
    from typer.testing import CliRunner

    from prefsynth.cli.main import app

    cfg = engine.config
    engines.serve(cfg, engine)  # reuse the loaded model instead of starting a second one
    (tmp_path / "p.jsonl").write_text('{"prompt": "Name a colour."}\n{"prompt": "Say hello in Spanish."}\n')
    engine_yaml = json.dumps(cfg.model_dump(mode="json"))
    (tmp_path / "c.yaml").write_text(
        f"name: tiny-vllm\nprompts: {{path: p.jsonl}}\nengines: {{smol: {engine_yaml}}}\n"
        "policies: [{engine: smol, n: 2, max_tokens: 16, temperature: 1.0, seed: 5}]\n"
        "judge: {engine: smol, max_tokens: 48}\n"
    )
    args = ["build", str(tmp_path / "c.yaml"), "--catalog", str(tmp_path / "c.duckdb"), "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.stderr
    s = json.loads(first.stdout)
    assert s["stats"]["prompts"] == 2 and sum(s["stats"]["samples"].values()) == 4
    assert sum(s["stats"]["judgments"].values()) == 2 * s["stats"]["pairs"] > 0
    assert s["stats"]["engine_errors"] == 0 and s["stats"]["completion_tokens"] > 0
    again = json.loads(CliRunner().invoke(app, args).stdout)
    assert again["stats"]["engine_calls"] == 0 and again["content_hash"] == s["content_hash"]
