"""Engine-bound overhead: `prefsynth build` on the embedded engine vs the same requests sent to llama.cpp directly.

(a) `prefsynth build CONFIG --json --quiet` in a fresh process with a fresh catalog and Prefect home: sampling
    (one request per prompt with n completions), pairwise judging of every pair in both orders, constrained
    re-asks, filters, the version commit — Python start-up, imports, Prefect's temporary server and the model
    load included.
(b) a minimal script (this file with --direct, importing only llama_cpp) that loads the same GGUF with the same
    threads and replays exactly the requests (a) made, read back from (a)'s call cache, in the order (a) sent
    them (each re-ask right after its first call), with the same sampling settings and seeds.
Target: (a)/(b) wall time ≤ 1.10. Prefect's start-up is reported separately: a trivial flow run in a fresh
process (import + temporary server + one flow run), and a dry-run build of the same config (every fixed cost of
a build, no model).

    .venv/bin/python benchmarks/engine_overhead.py                      # 8 prompts × 3 samples (see --help)
    .venv/bin/python benchmarks/engine_overhead.py --prompts 16 --samples 4

Results: benchmarks/results/engine_overhead.json. The workload's requests are also written there
(engine_overhead_requests.jsonl) for the peer comparison (benchmarks/peer_distilabel.py).
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

from workload import PROMPTS, machine, write_result  # benchmarks/workload.py (this folder is on sys.path)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent

CONFIG = """name: overhead
prompts: {{path: prompts.jsonl}}
engines:
  smol: {engine}
policies:
  - {{engine: smol, n: {samples}, temperature: 0.9, max_tokens: {policy_tokens}, seed: 1}}
judge: {{engine: smol, temperature: 0.0, max_tokens: {judge_tokens}}}
filters: [position_swap, drop_ties]
"""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=8, help="prompts (default 8, at most 16)")
    ap.add_argument("--samples", type=int, default=3, help="samples per prompt (default 3 → 3 pairs, 6 judgments)")
    ap.add_argument("--policy-max-tokens", type=int, default=48)
    ap.add_argument("--judge-max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=2, help="rounds: a b, then b a, … (default 2)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "engine_overhead.json")
    ap.add_argument("--direct", type=Path, default=None, help=argparse.SUPPRESS)  # internal: (b) replays this file
    return ap.parse_args(argv)


# -- (b): the minimal direct script (no prefsynth import) ----------------------------------------------------
def direct(requests_file: Path, model_path: str, threads: int) -> dict:
    t0 = time.perf_counter()
    from llama_cpp import Llama, LlamaGrammar

    llm = Llama(model_path=model_path, n_ctx=2048, n_threads=threads, verbose=False)
    loaded = time.perf_counter()
    tokens = calls = 0
    for line in requests_file.read_text().splitlines():
        req = json.loads(line)
        kwargs = dict(temperature=req["temperature"], top_p=req["top_p"], max_tokens=req["max_tokens"],
                      stop=list(req["stop"]) or None)
        if req.get("choices"):
            alts = " | ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in req["choices"])
            kwargs["grammar"] = LlamaGrammar.from_string(f"root ::= {alts}\n", verbose=False)
        for i in range(req["n"]):
            out = llm.create_chat_completion(messages=req["messages"], seed=req["seed"] + i, **kwargs)
            tokens += out["usage"]["completion_tokens"]
            calls += 1
    return {"model_load_s": round(loaded - t0, 2), "generations": calls, "completion_tokens": tokens,
            "in_script_s": round(time.perf_counter() - t0, 2)}


# -- helpers ---------------------------------------------------------------------------------------------------
def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def fresh_env(workdir: Path, tag: str) -> dict:
    """The benchmark's own Prefect home, shared by its runs (created and migrated by the first one)."""
    home = workdir / "prefect-home"
    return {**os.environ, "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}  # a new home's database takes > 20 s under load


def replay_order(catalog: Path) -> list[dict]:
    """(a)'s requests in the order its engine ran them: samples, then each judging call and right after it its
    re-ask (a re-ask's messages are its first call's messages + the reply + the re-ask question)."""
    import duckdb

    con = duckdb.connect(str(catalog), read_only=True)
    rows = [json.loads(r[0]) for r in con.execute("SELECT request FROM llm_calls ORDER BY rowid").fetchall()]
    con.close()
    reasks = {json.dumps(r["messages"][:-2]): r for r in rows if r.get("choices")}
    ordered = []
    for r in rows:
        if r.get("choices"):
            continue
        ordered.append(r)
        follow = reasks.pop(json.dumps(r["messages"]), None)
        if follow is not None:
            ordered.append(follow)
    assert not reasks, f"{len(reasks)} re-asks without their first call"
    return ordered


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.direct:
        print(json.dumps(direct(args.direct, os.environ["OVERHEAD_MODEL"], args.threads)))
        return {}
    from prefsynth.engines.llama_cpp import embedded_model_path

    model = str(embedded_model_path())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="prefsynth-overhead-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "prompts.jsonl", "w") as f:
        for p in PROMPTS[: args.prompts]:
            f.write(json.dumps({"prompt": p}) + "\n")
    fmt = dict(samples=args.samples, policy_tokens=args.policy_max_tokens, judge_tokens=args.judge_max_tokens)
    (workdir / "llama.yaml").write_text(CONFIG.format(engine=f"{{kind: llama_cpp, n_ctx: 2048, n_threads: {args.threads}}}", **fmt))
    (workdir / "dry.yaml").write_text(CONFIG.format(engine="{kind: dry_run}", **fmt))
    prefsynth = str(VENV_BIN / "prefsynth")
    load = os.getloadavg()

    # Prefect alone: import + temporary server + one trivial flow run, in a fresh process. The first run in a new
    # Prefect home also creates its database; the timed one is the second (what a user sees every day).
    noop = [sys.executable, "-c", "from prefect import flow\nflow(lambda: 1, name='noop')()"]
    prefect_cold_s, _ = timed(noop, fresh_env(workdir, "noop"))
    prefect_s, _ = timed(noop, fresh_env(workdir, "noop"))
    dry_s, _ = timed([prefsynth, "build", str(workdir / "dry.yaml"), "--catalog", str(workdir / "dry.duckdb"),
                      "--json", "--quiet"], fresh_env(workdir, "dry"))
    # (a) then (b), then (b) then (a) again: both arms see the same drift in machine load
    req_file = args.out.parent / "engine_overhead_requests.jsonl"
    req_file.parent.mkdir(parents=True, exist_ok=True)
    runs = {"a": [], "b": []}

    def run_a(k: int) -> None:
        catalog = workdir / f"a{k}.duckdb"
        a_s, out = timed([prefsynth, "build", str(workdir / "llama.yaml"), "--catalog", str(catalog), "--json",
                          "--quiet"], fresh_env(workdir, "a"))
        st = json.loads(out)["stats"]
        runs["a"].append({"wall_s": round(a_s, 2), "flow_body_s": st["wall_time_s"], "engine_calls": st["engine_calls"],
                          "completion_tokens": st["completion_tokens"], "load_avg_1m": round(os.getloadavg()[0], 2)})
        if k == 0:
            req_file.write_text("".join(json.dumps(r) + "\n" for r in replay_order(catalog)))
            runs["stats"] = st

    def run_b() -> None:
        b_s, out = timed([sys.executable, __file__, "--direct", str(req_file), "--threads", str(args.threads)],
                         {**os.environ, "OVERHEAD_MODEL": model})
        runs["b"].append({"wall_s": round(b_s, 2), **json.loads(out), "load_avg_1m": round(os.getloadavg()[0], 2)})

    run_a(0)
    run_b()
    for _ in range(args.rounds - 1):
        run_b()
        run_a(len(runs["a"]))
    st = runs.pop("stats")
    a_total = sum(r["wall_s"] for r in runs["a"])
    b_total = sum(r["wall_s"] for r in runs["b"])
    result = {
        "benchmark": "engine_overhead",
        "workload": {"prompts": args.prompts, "samples_per_prompt": args.samples, "pairs": st["pairs"],
                     "judgments": sum(st["judgments"].values()), "reasked": st["reasked"],
                     "engine_calls": st["engine_calls"], "policy_max_tokens": args.policy_max_tokens,
                     "judge_max_tokens": args.judge_max_tokens, "threads": args.threads, "model": Path(model).name},
        "a_prefsynth_build": runs["a"],
        "b_direct": runs["b"],
        "ratio_a_over_b": round(a_total / b_total, 3),
        "ratio_a_over_b_best_runs": round(min(r["wall_s"] for r in runs["a"]) / min(r["wall_s"] for r in runs["b"]), 3),
        "prefect_noop_flow_process_s": round(prefect_s, 2),
        "prefect_noop_flow_process_first_use_s": round(prefect_cold_s, 2),
        "prefsynth_dry_run_build_s": round(dry_s, 2),
        "machine": machine(load),
    }
    return write_result(args.out, result)


if __name__ == "__main__":
    main()
