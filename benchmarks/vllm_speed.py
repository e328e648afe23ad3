"""vLLM speed on the embedded model (CPU build): offline `vllm.LLM` and vLLM's OpenAI server, through prefsynth's
own engines (`vllm`, and `openai` with `structured_outputs: vllm`).

Why: the vLLM engine earns its place by batching (the whole batch in one call), and `choices` (structured
output) must not make judging much slower than free text. Each workload runs as one batch, and once request by
request, so the batching gain shows; figures are completion tokens per second of wall time.

    .venv-vllm/bin/python benchmarks/vllm_speed.py [--items 16] [--out benchmarks/results/vllm_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.vllm_server` from a repo checkout

from prefsynth.engines.openai import OpenAIEngine  # noqa: E402
from prefsynth.engines.vllm import VllmEngine  # noqa: E402
from prefsynth.schemas.engine import GenRequest, Message, OpenAIEngineConfig, VllmEngineConfig  # noqa: E402
from prefsynth.tasks.judge.prompts import VERDICT_CHOICES, pairwise_messages  # noqa: E402
from tests.vllm_server import KV_CACHE_GB, MAX_MODEL_LEN, SERVED_NAME, hf_model_dir, run_vllm_server  # noqa: E402
from workload import PROMPTS as ALL_PROMPTS  # noqa: E402 — benchmarks/workload.py

PROMPTS = ALL_PROMPTS[:8]


def workloads(items: int) -> dict[str, list[GenRequest]]:
    """Free sampling, free-text judging, and choice-constrained judging over the same judging prompts."""
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(items)]
    free = [GenRequest(messages=(Message(role="user", content=p),), max_tokens=96, temperature=0.8, seed=i)
            for i, p in enumerate(prompts)]
    judge_msgs = [pairwise_messages(p, f"Answer one to: {p}", f"A different answer to: {p}") for p in prompts]
    return {
        "free_generation": free,
        "judge_free_text": [GenRequest(messages=m, max_tokens=160) for m in judge_msgs],
        "judge_choices": [GenRequest(messages=m, max_tokens=12, choices=VERDICT_CHOICES) for m in judge_msgs],
    }


def measure(engine, requests: list[GenRequest], one_by_one: bool) -> dict:
    start = time.perf_counter()
    results = [r for q in requests for r in engine.generate([q])] if one_by_one else engine.generate(requests)
    seconds = time.perf_counter() - start
    errors = [r.error for r in results if not r.ok]
    tokens = sum(r.completion_tokens for r in results)
    return {
        "requests": len(requests), "errors": len(errors), "prompt_tokens": sum(r.prompt_tokens for r in results),
        "completion_tokens": tokens, "seconds": round(seconds, 2),
        "completion_tokens_per_s": round(tokens / seconds, 1) if seconds else None,
        "seconds_per_request": round(seconds / len(requests), 3),
        **({"first_error": errors[0]} if errors else {}),
    }


def run_all(engine, items: int) -> dict:
    out = {}
    for name, reqs in workloads(items).items():
        out[name + " (batch)"] = measure(engine, reqs, one_by_one=False)
        out[name + " (one by one)"] = measure(engine, reqs[: max(2, items // 4)], one_by_one=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=16, help="requests per workload")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "vllm_speed.json")
    args = ap.parse_args()
    model = hf_model_dir()
    results: dict = {}

    engine = VllmEngine(VllmEngineConfig(model=str(model), dtype="bfloat16", max_model_len=MAX_MODEL_LEN,
                                         kv_cache_gb=KV_CACHE_GB, enforce_eager=True))
    start = time.perf_counter()
    engine.generate([GenRequest(prompt="Hello", max_tokens=1)])  # load the model outside the timings
    results["offline_load_s"] = round(time.perf_counter() - start, 1)
    results["offline"] = run_all(engine, args.items)
    engine.close()

    start = time.perf_counter()
    with run_vllm_server(model) as base_url:
        results["server_start_s"] = round(time.perf_counter() - start, 1)
        served = OpenAIEngine(OpenAIEngineConfig(base_url=base_url, model=SERVED_NAME, api_key_env=None,
                                                 structured_outputs="vllm", max_concurrency=args.items))
        results["served"] = run_all(served, args.items)

    import vllm

    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "vllm": vllm.__version__,
                          "model": f"{model.name} (bf16, from the embedded Q4_1 GGUF)"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for mode in ("offline", "served"):
        for name, r in results[mode].items():
            print(f"{mode:8s} {name:32s} {r['completion_tokens_per_s']!s:>7} tok/s  {r['seconds_per_request']:>6} s/request  "
                  f"({r['requests']} requests, {r['errors']} errors)")
    print(f"wrote {args.out}")


if __name__ == "__main__":  # vLLM spawns its engine process, which re-imports this module
    main()
