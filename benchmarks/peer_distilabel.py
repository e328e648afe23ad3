"""Peer comparison: the engine-overhead workload in distilabel 1.5.3 vs `prefsynth build`, same GGUF, same machine.

distilabel runs in its own virtual environment, which this script creates on first use (distilabel 1.5.3 +
`requests`, which it needs but does not declare, + the same llama-cpp-python version as prefsynth's, installed
with CMAKE_ARGS="-DGGML_NATIVE=OFF" so pip reuses the wheel in its cache instead of rebuilding natively).

The distilabel pipeline mirrors prefsynth's workload: LoadDataFromDicts → TextGeneration (LlamaCppLLM,
num_generations = samples per prompt, grouped) → a step that expands every pair of generations in both orders →
a pairwise judging Task whose prompt is prefsynth's own pairwise template (system + user message), parsed for
the same `[[A>B]]` verdict. Same sampling settings (policy temperature 0.9, judge 0.0; max tokens as given),
same model file, same threads (`extra_kwargs={"n_threads": N}`). What distilabel does not do: the constrained
re-ask of unreadable verdicts, near-duplicate collapse, filters, a catalog. So prefsynth runs twice: with
`reask: false` and `dedupe: {enabled: false}` (exactly the generations distilabel makes: the like-for-like arm) and with its default protocol (one re-ask per unreadable
verdict: more calls, and verdicts where distilabel gets none).

    .venv/bin/python benchmarks/peer_distilabel.py                   # 8 prompts × 3 samples (as engine_overhead.py)
    .venv/bin/python benchmarks/peer_distilabel.py --prompts 4 --samples 2

Results: benchmarks/results/peer_distilabel.json (wall times of whole processes, start-up included, and the
ratios distilabel / prefsynth).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_overhead import CONFIG, PROMPTS, fresh_env, timed  # noqa: E402
from workload import machine, write_result  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = Path.home() / ".cache" / "prefsynth-bench" / "distilabel-venv"

PIPELINE = r'''
import json, re, sys, time
from itertools import combinations
t0 = time.perf_counter()
from distilabel.models import LlamaCppLLM
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts, StepInput, step
from distilabel.steps.tasks import Task, TextGeneration

spec = json.load(open(sys.argv[1]))
SYSTEM, USER = spec["system"], spec["user"]
VERDICT = re.compile(r"\[\[\s*(A>>B|A>B|A=B|B>A|B>>A)\s*\]\]\W*$")


@step(inputs=["instruction", "generations"], outputs=["instruction", "response_a", "response_b"])
def ExpandPairs(inputs: StepInput):
    out = []
    for row in inputs:
        gens = [g or "" for g in row["generations"]]
        for i, j in combinations(range(len(gens)), 2):
            out.append({"instruction": row["instruction"], "response_a": gens[i], "response_b": gens[j]})
            out.append({"instruction": row["instruction"], "response_a": gens[j], "response_b": gens[i]})
    yield out


class PairwiseJudge(Task):
    @property
    def inputs(self):
        return ["instruction", "response_a", "response_b"]

    @property
    def outputs(self):
        return ["verdict", "model_name"]

    def format_input(self, input):
        user = USER.replace("@@PROMPT@@", input["instruction"]).replace("@@A@@", input["response_a"]).replace("@@B@@", input["response_b"])
        return ([{"role": "system", "content": SYSTEM}] if SYSTEM else []) + [{"role": "user", "content": user}]

    def format_output(self, output, input):
        m = VERDICT.search((output or "").strip())
        return {"verdict": m.group(1) if m else None}


def llm(**generation_kwargs):
    return LlamaCppLLM(model_path=spec["model"], n_ctx=2048, extra_kwargs={"n_threads": spec["threads"]},
                       generation_kwargs=generation_kwargs)


with Pipeline(name="prefsynth-peer") as pipeline:
    load = LoadDataFromDicts(data=[{"instruction": p} for p in spec["prompts"]])
    gen = TextGeneration(llm=llm(temperature=0.9, max_new_tokens=spec["policy_tokens"]),
                         num_generations=spec["samples"], group_generations=True, input_batch_size=len(spec["prompts"]))
    expand = ExpandPairs(input_mappings={"generations": "generation"})  # grouped: a list per prompt
    judge = PairwiseJudge(llm=llm(temperature=0.0, max_new_tokens=spec["judge_tokens"]), input_batch_size=64)
    load >> gen >> expand >> judge

started = time.perf_counter()
distiset = pipeline.run(use_cache=False)
done = time.perf_counter()
rows = distiset["default"]["train"]
print(json.dumps({"judgments": len(rows), "parsed": sum(r["verdict"] is not None for r in rows),
                  "import_s": round(started - t0, 2), "pipeline_run_s": round(done - started, 2)}))
'''


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--policy-max-tokens", type=int, default=48)
    ap.add_argument("--judge-max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=1, help="rounds: distilabel, prefsynth (no re-ask), prefsynth; then the reverse, …")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"distilabel's virtualenv (default {DEFAULT_VENV})")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "peer_distilabel.json")
    return ap.parse_args(argv)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import distilabel, llama_cpp, requests"],
                                          capture_output=True).returncode == 0:
        return python
    from importlib.metadata import version

    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["distilabel==1.5.3", "requests"], check=True)
    env = {**os.environ, "CMAKE_ARGS": "-DGGML_NATIVE=OFF"}  # a native build dies with SIGILL on some CPUs
    subprocess.run(pip + [f"llama-cpp-python=={version('llama-cpp-python')}"], check=True, env=env)
    return python


def main(argv=None) -> dict:
    args = parse_args(argv)
    from prefsynth.engines.llama_cpp import embedded_model_path
    from prefsynth.tasks.judge.prompts import pairwise_messages

    python = ensure_venv(args.venv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="prefsynth-peer-"))
    workdir.mkdir(parents=True, exist_ok=True)
    prompts = PROMPTS[: args.prompts]
    msgs = pairwise_messages("@@PROMPT@@", "@@A@@", "@@B@@")
    system = next((m.content for m in msgs if m.role == "system"), "")
    spec = {"model": str(embedded_model_path()), "threads": args.threads, "prompts": prompts, "samples": args.samples,
            "policy_tokens": args.policy_max_tokens, "judge_tokens": args.judge_max_tokens,
            "system": system, "user": next(m.content for m in msgs if m.role == "user")}
    (workdir / "spec.json").write_text(json.dumps(spec))
    (workdir / "pipeline.py").write_text(PIPELINE)
    with open(workdir / "prompts.jsonl", "w") as f:
        for p in prompts:
            f.write(json.dumps({"prompt": p}) + "\n")
    fmt = dict(samples=args.samples, policy_tokens=args.policy_max_tokens, judge_tokens=args.judge_max_tokens)
    engine = f"{{kind: llama_cpp, n_ctx: 2048, n_threads: {args.threads}}}"
    (workdir / "llama.yaml").write_text(CONFIG.format(engine=engine, **fmt))
    # the same generations as distilabel makes: no re-ask of unreadable verdicts, and every pair judged (distilabel
    # has no near-duplicate collapse, which can leave prefsynth fewer distinct pairs to judge)
    (workdir / "noreask.yaml").write_text(CONFIG.format(engine=engine, **fmt).replace(
        "max_tokens: %d}" % args.judge_max_tokens, "max_tokens: %d, reask: false}" % args.judge_max_tokens)
        + "dedupe: {enabled: false}\n")
    load = os.getloadavg()

    env = {**os.environ, "DISTILABEL_LOG_LEVEL": "WARNING", "HOME": os.environ.get("HOME", "/root")}
    env["DISTILABEL_CACHE_DIR"] = str(workdir / "distilabel-cache")
    noop = [sys.executable, "-c", "from prefect import flow\nflow(lambda: 1, name='noop')()"]
    timed(noop, fresh_env(workdir, "p"))  # create the Prefect home's database before the timed builds
    runs: dict[str, list] = {"distilabel": [], "prefsynth": [], "prefsynth_no_reask": []}

    def run_distilabel() -> None:
        t0 = time.perf_counter()
        proc = subprocess.run([str(python), str(workdir / "pipeline.py"), str(workdir / "spec.json")], env=env,
                              capture_output=True, text=True, cwd=workdir)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"distilabel failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        runs["distilabel"].append({"wall_s": round(wall, 2), **json.loads(proc.stdout.strip().splitlines()[-1]),
                                   "load_avg_1m": round(os.getloadavg()[0], 2)})

    def run_prefsynth(arm: str = "prefsynth") -> None:
        catalog = workdir / f"{arm}{len(runs[arm])}.duckdb"
        config = workdir / ("llama.yaml" if arm == "prefsynth" else "noreask.yaml")
        wall, out = timed([str(Path(sys.executable).parent / "prefsynth"), "build", str(config),
                           "--catalog", str(catalog), "--json", "--quiet"], fresh_env(workdir, "p"))
        st = json.loads(out)["stats"]
        runs[arm].append({"wall_s": round(wall, 2), "flow_body_s": st["wall_time_s"],
                                  "judgments": sum(st["judgments"].values()), "parsed": st["judgments"].get("ok", 0),
                                  "engine_calls": st["engine_calls"],
                                  "reasked": st["reasked"], "load_avg_1m": round(os.getloadavg()[0], 2)})

    # rounds: distilabel, prefsynth without re-ask, prefsynth; then the reverse, … (the same drift for every arm)
    order = [run_distilabel, lambda: run_prefsynth("prefsynth_no_reask"), run_prefsynth]
    for k in range(args.rounds):
        for arm in order if k % 2 == 0 else order[::-1]:
            arm()
    total = {arm: sum(r["wall_s"] for r in rs) for arm, rs in runs.items()}
    result = {
        "benchmark": "peer_distilabel",
        "workload": {"prompts": args.prompts, "samples_per_prompt": args.samples, "policy_max_tokens": args.policy_max_tokens,
                     "judge_max_tokens": args.judge_max_tokens, "threads": args.threads,
                     "model": Path(spec["model"]).name},
        "distilabel_1_5_3": runs["distilabel"],
        "prefsynth_no_reask": runs["prefsynth_no_reask"],
        "prefsynth": runs["prefsynth"],
        "ratio_distilabel_over_prefsynth_no_reask": round(total["distilabel"] / total["prefsynth_no_reask"], 3),
        "ratio_distilabel_over_prefsynth": round(total["distilabel"] / total["prefsynth"], 3),
        "machine": machine(load),
    }
    return write_result(args.out, result)


if __name__ == "__main__":
    main()
