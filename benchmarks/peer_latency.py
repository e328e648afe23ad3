"""Peers on the latency server: distilabel 1.5.3 (`OpenAILLM`) and curator vs `prefsynth build`, issue 13's workload.

The server is tests/latency_server.py in its own process (capacity 64, latency 0.05–1.0 s, mean ≈ 0.29 s); the
workload is benchmarks/latency_bound.py's: 200 prompts × 4 samples (one request with n=4 each), every pair judged
in both orders with prefsynth's own pairwise prompt: 2,600 requests. Each tool runs with its defaults; prefsynth
with `max_concurrency: 64` (the server's capacity). A fresh server per arm, so each arm's figures are its own:
`busy_s` is the server's time from the first request to the last reply, `occupancy` the mean requests being
served (64 = full), `bound_s` = Σ latencies / 64.

distilabel and curator run in virtual environments of their own (`--distilabel-venv`, `--curator-venv`; create
them with `python -m venv V && V/bin/pip install "distilabel[openai]==1.5.3" requests` (distilabel needs
`requests` and does not declare it) / `bespokelabs-curator`). An arm
whose tool fails records its exit status and the last lines of its error output instead of figures.

    .venv/bin/python benchmarks/peer_latency.py --distilabel-venv /tmp/venv-distilabel --curator-venv /tmp/venv-curator

Results: benchmarks/results/peer_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_overhead import fresh_env, timed  # noqa: E402
from latency_bound import PREFSYNTH, ROOT, occupancy, start_server, write_config  # noqa: E402
from workload import machine, write_result  # noqa: E402

DISTILABEL = r'''
import json, re, sys, time
from itertools import combinations
from distilabel.models import OpenAILLM
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts, StepInput, step
from distilabel.steps.tasks import Task, TextGeneration

spec = json.load(open(sys.argv[1]))
SYSTEM, USER = spec["system"], spec["user"]


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
        m = re.search(r"\[\[(A>>B|A>B|A=B|B>A|B>>A)\]\]", output or "")
        return {"verdict": m.group(1) if m else None}


def llm(**kw):
    return OpenAILLM(model="sim", base_url=spec["base_url"], api_key="none", generation_kwargs=kw)


with Pipeline(name="prefsynth-peer-latency") as pipeline:
    load = LoadDataFromDicts(data=[{"instruction": p} for p in spec["prompts"]])
    gen = TextGeneration(llm=llm(temperature=0.8, max_new_tokens=64), num_generations=spec["samples"],
                         group_generations=True)
    expand = ExpandPairs(input_mappings={"generations": "generation"})
    judge = PairwiseJudge(llm=llm(temperature=0.0, max_new_tokens=128))
    load >> gen >> expand >> judge

t0 = time.perf_counter()
rows = pipeline.run(use_cache=False)["default"]["train"]
print(json.dumps({"judgments": len(rows), "parsed": sum(r["verdict"] is not None for r in rows),
                  "pipeline_run_s": round(time.perf_counter() - t0, 2)}))
'''

CURATOR = r'''
import json, sys, time
from bespokelabs import curator

spec = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
llm = curator.LLM(model_name="sim", backend="openai",
                  backend_params={"base_url": spec["base_url"], "api_key": "none"})
out = llm([p for p in spec["prompts"]])
print(json.dumps({"responses": len(out), "run_s": round(time.perf_counter() - t0, 2)}))
'''


def server_figures(base_url: str) -> dict:
    stats = json.loads(urllib.request.urlopen(base_url + "/stats").read())
    intervals = json.loads(urllib.request.urlopen(base_url + "/intervals").read())["intervals"]
    busy = stats["busy_s"] or float("nan")
    return {"served": stats["served"], "peak_in_flight": stats["peak_in_flight"], "busy_s": stats["busy_s"],
            "bound_s": round(stats["sum_latency_s"] / stats["capacity"], 3) if stats["served"] else None,
            "mean_occupancy": round(stats["sum_latency_s"] / busy, 1) if stats["served"] else None,
            "occupancy_per_s": occupancy(intervals)}


def run_tool(python: Path | None, script: str, spec: dict, work: Path, name: str) -> dict:
    """One peer arm against a fresh server: its figures, or why it could not run."""
    if python is None or not python.exists():
        return {"skipped": f"no virtual environment given for {name}"}
    server, base_url = start_server(64, None)
    try:
        script_path = work / f"peer_{name}.py"  # not `distilabel.py`: it would shadow the package
        script_path.write_text(script)
        (work / f"{name}.json").write_text(json.dumps({**spec, "base_url": base_url + "/v1"}))
        env = {**os.environ, "DISTILABEL_LOG_LEVEL": "WARNING", "DISTILABEL_CACHE_DIR": str(work / "dl-cache"),
               "CURATOR_CACHE_DIR": str(work / "curator-cache"), "OPENAI_API_KEY": "none", "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        proc = subprocess.run([str(python), str(script_path), str(work / f"{name}.json")], env=env,
                              capture_output=True, text=True, cwd=work, timeout=1800)
        wall = round(time.perf_counter() - t0, 2)
        if proc.returncode != 0:
            return {"failed": proc.returncode, "process_wall_s": wall, "stderr_tail": proc.stderr[-1500:],
                    "server": server_figures(base_url)}
        return {"process_wall_s": wall, **json.loads(proc.stdout.strip().splitlines()[-1]),
                "server": server_figures(base_url)}
    finally:
        server.terminate()
        server.wait()


def run_prefsynth(work: Path, prompts: int, samples: int) -> dict:
    server, base_url = start_server(64, None)
    try:
        config = write_config(work, base_url, prompts, samples, 64)
        wall, out = timed([PREFSYNTH, "build", str(config), "--catalog", str(work / "p.duckdb"), "--json", "--quiet"],
                          fresh_env(work, "peer"))
        st = json.loads(out)["stats"]
        return {"process_wall_s": round(wall, 2), "flow_wall_s": st["wall_time_s"], "engine_calls": st["engine_calls"],
                "server": server_figures(base_url)}
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--distilabel-venv", type=Path, default=None)
    parser.add_argument("--curator-venv", type=Path, default=None)
    args = parser.parse_args()
    from prefsynth.tasks.judge.prompts import pairwise_messages

    load = os.getloadavg()
    msgs = pairwise_messages("@@PROMPT@@", "@@A@@", "@@B@@")
    prompts = [f"Question {i}: explain one idea from chapter {i % 17} in two sentences." for i in range(args.prompts)]
    spec = {"prompts": prompts, "samples": args.samples,
            "system": next((m.content for m in msgs if m.role == "system"), ""),
            "user": next(m.content for m in msgs if m.role == "user")}
    venv_python = lambda v: None if v is None else v / "bin" / "python"  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {
            "command": " ".join(["benchmarks/peer_latency.py", *sys.argv[1:]]),
            "workload": {"prompts": args.prompts, "samples_per_prompt": args.samples, "capacity": 64},
            "prefsynth": run_prefsynth(work, args.prompts, args.samples),
            "distilabel_1_5_3": run_tool(venv_python(args.distilabel_venv), DISTILABEL, spec, work, "distilabel"),
            "curator": run_tool(venv_python(args.curator_venv), CURATOR, spec, work, "curator"),
            "machine": machine(load),
        }
    write_result(ROOT / "benchmarks" / "results" / "peer_latency.json", result)


if __name__ == "__main__":
    main()
