"""Process labels against a server: problems through their rounds on their own vs lockstep rounds (issue 13 item 3).

The server is an OpenAI-compatible one on 127.0.0.1 (tests/servers.py `FaultServer`, in a thread) that continues
each prefix with the simulated policy of sim_policy.py (chain problems with exact ground truth) after the latency
of tests/latency_server.py (a pure function of the request body: 0.05–0.455 s uniform, one in twenty 1 s). The
`label-steps` flow (OmegaPRM, `k` rollouts per request, `openai` engine with `max_concurrency` C) runs twice on
fresh catalogs: streamed (the default for a server engine: each problem goes through its rounds on its own) and
lockstep (every round of every problem is one batch, what in-process engines get; forced by patching
`CallRunner.all_stream`). Both must write the same version (content hash).

Reported per arm: the flow's wall time (the summary's `wall_time_s`), the lower bound max(Σ latencies / C,
the longest chain of one problem's sequential request latencies), wall / bound, and the peak requests in flight.

    .venv/bin/python benchmarks/process_overlap.py                     # 40 problems, C = 16

Results: benchmarks/results/process_overlap.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from sim_policy import SimPolicy, make_problems  # noqa: E402
from workload import machine, write_result  # noqa: E402

from tests.latency_server import latency_of  # noqa: E402
from tests.servers import FaultServer  # noqa: E402

SEPARATOR = "\n\nAnswer:\n"


class SimServerPolicy:
    """Server side: reads the question and prefix out of a text-completion body; records each request's latency
    under its problem (a problem's requests are sequential: its rounds)."""

    def __init__(self, chains):
        self.sim = SimPolicy(chains, seed=1)
        self.by_question = {cp.problem.question: cp.problem.id for cp in chains}
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def _split(self, body: dict) -> tuple[str, str]:
        head, prefix = body["prompt"].split(SEPARATOR, 1)
        return self.by_question[head.split("Question: ", 1)[1]], prefix

    def delay(self, body: dict) -> float:
        latency = latency_of(body)
        with self.lock:
            self.latencies[self._split(body)[0]].append(latency)
        return latency

    def reply(self, body: dict, i: int) -> str:
        pid, prefix = self._split(body)
        return self.sim.complete(pid, prefix, int(body["n"]), draw=int(body["seed"]))[i].text


def run_arm(folder: Path, chains, concurrency: int, args, lockstep: bool) -> dict:
    from prefsynth.config.process import load_process_config
    from prefsynth.flows.process_labels import process_labels
    from prefsynth.runtime.calls import CallRunner

    policy = SimServerPolicy(chains)
    with FaultServer(default=("reply",), honour_n=True, delay_s=policy.delay, responder=policy.reply) as server:
        config = folder / f"{'lockstep' if lockstep else 'streamed'}.yaml"
        config.write_text(json.dumps({
            "name": "chains", "problems": {"path": str(folder / "chains.jsonl")},
            "engines": {"srv": {"kind": "openai", "base_url": server.base_url, "model": "sim", "api_key_env": None,
                                "max_concurrency": concurrency}},
            "policy": {"engine": "srv", "max_tokens": 256}, "method": "omegaprm",
            "omegaprm": {"k": args.k, "max_estimates": args.max_estimates},
        }))
        original = CallRunner.all_stream
        if lockstep:
            CallRunner.all_stream = lambda self: False
        try:
            version = process_labels(load_process_config(config), str(config.with_suffix(".duckdb")))
        finally:
            CallRunner.all_stream = original
        peak = server.max_in_flight
    total = sum(sum(v) for v in policy.latencies.values())
    chain = max(sum(v) for v in policy.latencies.values())
    bound = max(total / concurrency, chain)
    wall = version.stats["wall_time_s"]
    return {"wall_time_s": wall, "bound_s": round(bound, 3), "sum_latency_over_c_s": round(total / concurrency, 3),
            "longest_chain_s": round(chain, 3), "wall_over_bound": round(wall / bound, 2),
            "requests": sum(len(v) for v in policy.latencies.values()), "peak_in_flight": peak,
            "rounds": version.stats["rounds"], "rows": version.row_count, "content_hash": version.content_hash}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-estimates", type=int, default=12)
    args = parser.parse_args()
    # the benchmark's own Prefect home (set before Prefect is imported): never the user's ~/.prefect
    os.environ.update({"PREFECT_HOME": tempfile.mkdtemp(prefix="prefsynth-bench-prefect-"),
                       "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.testing.utilities import prefect_test_harness

    load_before = os.getloadavg()
    chains = make_problems(args.problems, seed=3, min_steps=3, max_steps=6, p_min=0.1, p_max=0.25)
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        folder = Path(tmp)
        (folder / "chains.jsonl").write_text("".join(
            json.dumps({"question": cp.problem.question, "answer": cp.problem.gold_answer}) + "\n" for cp in chains))
        streamed = run_arm(folder, chains, args.concurrency, args, lockstep=False)
        lockstep = run_arm(folder, chains, args.concurrency, args, lockstep=True)
    assert streamed["content_hash"] == lockstep["content_hash"], "the two arms wrote different versions"
    write_result(ROOT / "benchmarks" / "results" / "process_overlap.json", {
        "workload": vars(args), "streamed": streamed, "lockstep": lockstep,
        "speedup": round(lockstep["wall_time_s"] / streamed["wall_time_s"], 2), "machine": machine(load_before),
    })


if __name__ == "__main__":
    main()
