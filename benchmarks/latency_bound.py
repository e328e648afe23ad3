"""Latency-bound builds: how close `prefsynth build` keeps a remote server to full, and whether it respects its limits.

The server is tests/latency_server.py in its own process: OpenAI-compatible, each request answered after a latency
that is a pure function of its body (0.05–0.455 s uniform, one in twenty 1 s; mean ≈ 0.29 s), at most `capacity`
served at once (the rest queue). The workload is issue 13's: N prompts × 4 samples (one request with n=4 each),
every pair judged in both orders (no re-asks: the server's verdicts parse), the `openai` engine with
`max_concurrency` = capacity and every other setting at its default.

- bound arm: flow wall time (the summary's `wall_time_s`: the flow run, Prefect start-up excluded) divided by the
  lower bound Σ latencies / capacity, and the peak requests in flight the server saw. Targets: ≤ 1.15× the bound,
  peak = max_concurrency exactly.
- rate arm (`--rate R`): the same server answers 429 + Retry-After: 1 above R requests/s (a token bucket with one
  second of burst). Targets: 0 failed calls, served requests / server busy time ≥ 90 % of R.

    .venv/bin/python benchmarks/latency_bound.py                       # 200 prompts, capacity 64
    .venv/bin/python benchmarks/latency_bound.py --rate 100            # the rate-limited arm

Results: benchmarks/results/latency_bound.json (latency_bound_rate.json with --rate).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from engine_overhead import fresh_env, timed  # noqa: E402  (this folder is on sys.path)
from workload import machine, write_result

ROOT = Path(__file__).resolve().parents[1]
PREFSYNTH = str(Path(sys.executable).with_name("prefsynth"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(capacity: int, rate: float | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "tests" / "latency_server.py"), "--port", str(port), "--capacity", str(capacity)]
    if rate:
        cmd += ["--rate", str(rate)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}"


def write_config(folder: Path, base_url: str, prompts: int, samples: int, concurrency: int) -> Path:
    (folder / "prompts.jsonl").write_text("".join(
        json.dumps({"prompt": f"Question {i}: explain one idea from chapter {i % 17} in two sentences."}) + "\n"
        for i in range(prompts)))
    config = {"name": "latency", "prompts": {"path": "prompts.jsonl"},
              "engines": {"srv": {"kind": "openai", "base_url": base_url + "/v1", "model": "sim", "api_key_env": None,
                                  "max_concurrency": concurrency}},
              "policies": [{"engine": "srv", "n": samples, "max_tokens": 64, "temperature": 0.8, "seed": 1}],
              "judge": {"engine": "srv", "max_tokens": 128}}
    path = folder / "config.yaml"
    path.write_text(json.dumps(config))
    return path


def occupancy(intervals: list[list[float]]) -> list[float]:
    """Mean requests being served in each second since the first request came (capacity = full): where the
    server idled — the ramp-up, the middle, the tail."""
    seconds = int(max((end for _, end in intervals), default=0)) + 1
    busy = [0.0] * seconds
    for start, end in intervals:
        for s in range(int(start), int(end) + 1):
            busy[s] += max(0.0, min(end, s + 1) - max(start, s))
    return [round(b, 1) for b in busy]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--capacity", type=int, default=64, help="the server's capacity = max_concurrency")
    parser.add_argument("--rate", type=float, default=None, help="requests/s above which the server says 429")
    args = parser.parse_args()
    load = os.getloadavg()
    server, base_url = start_server(args.capacity, args.rate)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            config = write_config(work, base_url, args.prompts, args.samples, args.capacity)
            cmd = [PREFSYNTH, "build", str(config), "--catalog", str(work / "c.duckdb"), "--json", "--quiet"]
            process_wall, out = timed(cmd, fresh_env(work, "latency"))
            summary = json.loads(out)
        served = json.loads(urllib.request.urlopen(base_url + "/stats").read())
        intervals = json.loads(urllib.request.urlopen(base_url + "/intervals").read())["intervals"]
    finally:
        server.terminate()
        server.wait()
    st = summary["stats"]
    bound = served["sum_latency_s"] / args.capacity
    result = {
        "command": " ".join(["benchmarks/latency_bound.py", *sys.argv[1:]]),
        "workload": {"prompts": args.prompts, "samples_per_prompt": args.samples, "capacity": args.capacity,
                     "max_concurrency": args.capacity, "rate_per_s": args.rate, "requests": served["served"],
                     "engine_calls": st["engine_calls"], "judgments": st["judgments"], "reasked": st["reasked"]},
        "flow_wall_s": st["wall_time_s"],
        "process_wall_s": round(process_wall, 2),
        "bound_s": round(bound, 3),
        "flow_wall_over_bound": round(st["wall_time_s"] / bound, 3),
        "peak_in_flight": served["peak_in_flight"],
        "failed_calls": st["engine_errors"],
        "retries": st["engine_retries"],
        "server": served,
        "occupancy_per_s": occupancy(intervals),
        "machine": machine(load),
        "content_hash": summary["content_hash"],
    }
    if args.rate:
        result["served_per_s"] = round(served["served"] / served["busy_s"], 2)
        result["share_of_allowed_rate"] = round(result["served_per_s"] / args.rate, 3)
    name = "latency_bound_rate.json" if args.rate else "latency_bound.json"
    write_result(ROOT / "benchmarks" / "results" / name, result)


if __name__ == "__main__":
    main()
