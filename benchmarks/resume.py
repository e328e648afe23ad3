"""Resume cost: a rerun of a finished build, and a rerun after the build was killed midway.

The workload is a preference build on the dry-run engine with a simulated latency per request (default 4 ms,
so engine time dominates as it does with a real model): 300 prompts × 4 samples, all pairs judged in both
orders, every judgment re-asked once (the dry-run judge writes no verdict on its first try).

1. first build (fresh catalog, fresh Prefect home) — its time and engine calls;
2. the same build again — expected: 0 engine calls, ≤ 10 % of the first run's time;
3. a fresh catalog, the build killed (SIGKILL) halfway through its flow time, then run again — expected: the
   calls of the batches saved before the kill come from the cache, and the rerun's engine calls are the
   unfinished part (plus at most the batches that were in flight at the kill).

    .venv/bin/python benchmarks/resume.py
    .venv/bin/python benchmarks/resume.py --prompts 100 --latency-ms 10

With `--server`, the same three runs against the latency server of benchmarks/latency_bound.py (its workload:
200 prompts × 4 samples, both orders, `openai` engine, `max_concurrency` 64), which counts the calls it serves:
the killed run and its rerun together may pay at most the requests that were in flight at the kill twice (a
streamed build saves each reply as it arrives).

    .venv/bin/python benchmarks/resume.py --server

Results: benchmarks/results/resume.json (resume_server.json with --server).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workload import machine, write_result  # benchmarks/workload.py (this folder is on sys.path)

HERE = Path(__file__).resolve().parent
CONFIG = """name: resume
prompts: {{path: prompts.jsonl}}
engines:
  slow: {{kind: dry_run, latency_s: {latency}}}
policies:
  - {{engine: slow, n: {samples}, max_tokens: 32}}
judge: {{engine: slow}}
filters: [position_swap, drop_ties]
batch_size: {batch_size}
"""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--latency-ms", type=float, default=4.0, help="simulated engine latency per request (default 4)")
    ap.add_argument("--batch-size", type=int, default=32, help="requests per engine task (the default build setting)")
    ap.add_argument("--kill-at", type=float, default=0.5,
                    help="kill after this share of the first run's flow time (with --server: of its calls served)")
    ap.add_argument("--server", action="store_true", help="against the latency server (benchmarks/latency_bound.py)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None, help="default results/resume.json (resume_server.json)")
    return ap.parse_args(argv)


def build_cmd(workdir: Path, catalog: str) -> list[str]:
    return [str(Path(sys.executable).parent / "prefsynth"), "build", str(workdir / "resume.yaml"), "--catalog",
            str(workdir / catalog), "--json", "--quiet"]


def env_for(workdir: Path, tag: str) -> dict:
    """One Prefect home for every run, as a user has (warmed up before the first timed run)."""
    return {**os.environ, "PREFECT_HOME": str(workdir / "prefect-home"), "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}  # a new home's database takes > 20 s under load


def run(workdir: Path, catalog: str, tag: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run(build_cmd(workdir, catalog), env=env_for(workdir, tag), capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stderr[-3000:]}")
    return elapsed, json.loads(proc.stdout)["stats"]


def served(base_url: str) -> dict:
    import urllib.request

    return json.loads(urllib.request.urlopen(base_url + "/stats").read())


def kill_midway(workdir: Path, catalog: str, after_s: float | None, served_enough=None) -> bool:
    """Start a build and SIGKILL it after `after_s`, or once `served_enough()` says so; whether it was running."""
    proc = subprocess.Popen(build_cmd(workdir, catalog), env=env_for(workdir, "k"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if served_enough is None:
        time.sleep(after_s)
    else:
        while proc.poll() is None and not served_enough():
            time.sleep(0.05)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return killed


def server_arm(args, workdir: Path) -> dict:
    """The three runs against the latency server, which counts what each run paid."""
    from latency_bound import start_server, write_config

    server, base_url = start_server(64, None)
    try:
        write_config(workdir, base_url, 200, 4, 64).rename(workdir / "resume.yaml")
        load = os.getloadavg()
        run(workdir, "warm.duckdb", "w")  # Prefect's home and the OS caches, as a user has them
        s0 = served(base_url)["served"]
        first_s, first = run(workdir, "a.duckdb", "a1")
        s1 = served(base_url)["served"]
        rerun_s, rerun = run(workdir, "a.duckdb", "a2")
        s2 = served(base_url)["served"]
        half = lambda: served(base_url)["served"] - s2 >= args.kill_at * (s1 - s0)  # noqa: E731
        killed = kill_midway(workdir, "b.duckdb", None, half)  # at the server's count: start-up times vary
        at_kill = served(base_url)
        time.sleep(1.5)  # the requests in flight at the kill finish at the server: they are paid
        s3 = served(base_url)["served"]
        after_s, after = run(workdir, "b.duckdb", "b2")
        s4 = served(base_url)["served"]
    finally:
        server.terminate()
        server.wait()
    total = s1 - s0
    return {"benchmark": "resume", "workload": {"prompts": 200, "samples_per_prompt": 4, "engine": "openai",
                                                "max_concurrency": 64, "server": "tests/latency_server.py"},
            "first": {"wall_s": round(first_s, 2), "flow_s": first["wall_time_s"], "served": total},
            "rerun_finished": {"wall_s": round(rerun_s, 2), "flow_s": rerun["wall_time_s"], "served": s2 - s1,
                               "engine_calls": rerun["engine_calls"]},
            "killed_run": {"was_running_when_killed": killed, "served": s3 - s2,
                           "in_flight_at_kill": at_kill["in_flight"]},
            "rerun_after_kill": {"wall_s": round(after_s, 2), "served": s4 - s3, "cache_hits": after["cache_hits"],
                                 "paid_twice": (s4 - s2) - total},
            "machine": machine(load)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="prefsynth-resume-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.server:
        return write_result(args.out or HERE / "results" / "resume_server.json", server_arm(args, workdir))
    with open(workdir / "prompts.jsonl", "w") as f:
        for i in range(args.prompts):
            f.write(json.dumps({"prompt": f"Question {i}: explain topic number {i} in a few sentences."}) + "\n")
    (workdir / "resume.yaml").write_text(CONFIG.format(latency=args.latency_ms / 1000, samples=args.samples,
                                                       batch_size=args.batch_size))
    load = os.getloadavg()
    # warm up the Prefect home (its database is created on first use), then time a trivial flow run
    warm = [sys.executable, "-c", "from prefect import flow\nflow(lambda: 1, name='noop')()"]
    subprocess.run(warm, env=env_for(workdir, ""), check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run(warm, env=env_for(workdir, ""), check=True, capture_output=True)
    prefect_s = time.perf_counter() - t0

    first_s, first = run(workdir, "a.duckdb", "a1")
    rerun_s, rerun = run(workdir, "a.duckdb", "a2")

    # kill midway: start-up (process time outside the flow) + the chosen share of the first run's flow time
    startup = first_s - first["wall_time_s"]
    kill_after = startup + args.kill_at * first["wall_time_s"]
    killed = kill_midway(workdir, "b.duckdb", kill_after)
    after_kill_s, after = run(workdir, "b.duckdb", "b2")

    total_calls = first["engine_calls"]
    result = {
        "benchmark": "resume",
        "workload": {"prompts": args.prompts, "samples_per_prompt": args.samples, "latency_ms": args.latency_ms,
                     "batch_size": args.batch_size, "engine": "dry_run with simulated latency"},
        "prefect_noop_flow_process_s": round(prefect_s, 2),
        "first": {"wall_s": round(first_s, 2), "flow_s": first["wall_time_s"], "engine_calls": total_calls},
        "rerun_finished": {"wall_s": round(rerun_s, 2), "flow_s": rerun["wall_time_s"],
                           "engine_calls": rerun["engine_calls"], "cache_hits": rerun["cache_hits"],
                           "share_of_first_wall": round(rerun_s / first_s, 3),
                           "share_of_first_flow": round(rerun["wall_time_s"] / first["wall_time_s"], 3)},
        "rerun_after_kill": {"killed_after_s": round(kill_after, 2), "was_running_when_killed": killed,
                             "wall_s": round(after_kill_s, 2), "engine_calls": after["engine_calls"],
                             "cache_hits": after["cache_hits"],
                             # every call of the build is either cached from before the kill or made now
                             "calls_balance": after["engine_calls"] + after["cache_hits"] == total_calls,
                             "share_of_first_wall": round(after_kill_s / first_s, 3),
                             "share_done_before_kill": round(after["cache_hits"] / total_calls, 3)},
        "machine": machine(load),
    }
    return write_result(args.out or HERE / "results" / "resume.json", result)


if __name__ == "__main__":
    main()
