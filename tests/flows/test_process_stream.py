"""Process labels against a real OpenAI-compatible server on 127.0.0.1 (issue 13 item 3): each problem goes
through its rollout rounds on its own — a round of one problem never waits for another problem's — and the
version is the one the lockstep (in-process) path writes.

The server (tests/servers.py `FaultServer`) answers text completions with the simulated policy of
benchmarks/sim_policy.py, after a delay that differs per request, and the test records when each request
arrived and when its reply went out.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from typer.testing import CliRunner

from benchmarks.sim_policy import SimPolicy, make_problems
from prefsynth.cli.main import app
from prefsynth.runtime.calls import CallRunner
from prefsynth.schemas.engine import DryRunEngineConfig, GenRequest, GenResult
from tests.servers import FaultServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]  # a real HTTP server
SEPARATOR = "\n\nAnswer:\n"


class Policy:
    """The simulated policy, read out of a raw prompt (question and prefix), for the server and in-process."""

    name = "openai:sim"  # as the server engine is named: the same policy name, so the same solution ids
    concurrency = 1000

    def __init__(self, chains):
        self.sim = SimPolicy(chains, seed=1)
        self.by_question = {cp.problem.question: cp.problem.id for cp in chains}

    def problem_of(self, prompt: str) -> str:
        return self.by_question[prompt.split(SEPARATOR, 1)[0].split("Question: ", 1)[1]]

    def texts(self, prompt: str, n: int, seed: int) -> list[str]:
        prefix = prompt.split(SEPARATOR, 1)[1]
        return [c.text for c in self.sim.complete(self.problem_of(prompt), prefix, n, draw=seed)]

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:  # the in-process engine
        return [GenResult(completions=self.sim.complete(self.problem_of(r.prompt), r.prompt.split(SEPARATOR, 1)[1],
                                                        r.n, draw=r.seed)) for r in requests]


class Timeline:
    """When each request arrived at the server and when its reply went out (one clock, one lock)."""

    def __init__(self, policy: Policy):
        self.policy, self.lock = policy, threading.Lock()
        self.arrived: dict[str, float] = {}
        self.replied: dict[str, float] = {}
        self.problem: dict[str, str] = {}

    def arrive(self, body: dict) -> float:
        key = json.dumps(body, sort_keys=True)
        with self.lock:
            self.arrived[key] = time.monotonic()
            self.problem[key] = self.policy.problem_of(body["prompt"])
        return 0.02 + 0.12 * hashlib.sha256(key.encode()).digest()[0] / 255  # 20-140 ms, per request

    def reply(self, body: dict, i: int) -> str:
        key = json.dumps(body, sort_keys=True)
        with self.lock:
            self.replied.setdefault(key, time.monotonic())
        return self.policy.texts(body["prompt"], int(body["n"]), int(body["seed"]))[i]

    def rounds_in_flight_together(self) -> set[tuple[int, int]]:
        """(round of one problem, round of another) for every two requests of different problems that were at
        the server at the same time; a problem's round r is its r-th request (one pending request per search)."""
        order = sorted(self.arrived, key=self.arrived.get)
        seen: dict[str, int] = {}
        round_of = {}
        for key in order:
            seen[self.problem[key]] = round_of[key] = seen.get(self.problem[key], 0) + 1
        pairs = set()
        for a in order:
            for b in order:
                if self.problem[a] != self.problem[b] and self.arrived[a] <= self.arrived[b] < self.replied[a]:
                    pairs.add((round_of[a], round_of[b]))
        return pairs


def label_steps(folder, engine: dict, catalog: str) -> dict:
    config = folder / f"{catalog}.yaml"
    config.write_text(json.dumps({
        "name": "chains", "problems": {"path": "chains.jsonl"}, "engines": {"p": engine},
        "policy": {"engine": "p", "max_tokens": 256}, "method": "omegaprm",
        "omegaprm": {"k": 4, "max_estimates": 10},
    }))
    result = CliRunner().invoke(app, ["label-steps", str(config), "--catalog", str(folder / catalog), "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_streamed_problems_do_not_wait_for_each_other_and_give_the_in_process_version(tmp_path, monkeypatch, engines):
    chains = make_problems(6, seed=3, min_steps=3, max_steps=5, p_min=0.1, p_max=0.25)
    (tmp_path / "chains.jsonl").write_text("".join(
        json.dumps({"question": cp.problem.question, "answer": cp.problem.gold_answer}) + "\n" for cp in chains))
    policy = Policy(chains)
    engines.serve(DryRunEngineConfig(model="sim"), policy)
    in_process = label_steps(tmp_path, {"kind": "dry_run", "model": "sim"}, "in_process.duckdb")
    assert in_process["rows"] > 0 and in_process["stats"]["rounds"] > 2

    timeline = Timeline(policy)
    with FaultServer(default=("reply",), honour_n=True, delay_s=timeline.arrive, responder=timeline.reply) as srv:
        server = {"kind": "openai", "base_url": srv.base_url, "model": "sim", "api_key_env": None,
                  "max_concurrency": 6}
        streamed = label_steps(tmp_path, server, "streamed.duckdb")
        assert streamed["content_hash"] == in_process["content_hash"] and streamed["rows"] == in_process["rows"]
        assert streamed["stats"]["engine_calls"] == in_process["stats"]["engine_calls"] == len(timeline.arrived)
        assert streamed["stats"]["rounds"] == in_process["stats"]["rounds"]
        # a later round of one problem was at the server together with an earlier round of another
        assert any(a != b for a, b in timeline.rounds_in_flight_together())

        # Lockstep rounds on the same server (what in-process engines get): rounds never mix.
        lockstep = Timeline(policy)
        srv.delay_s, srv.responder = lockstep.arrive, lockstep.reply
        monkeypatch.setattr(CallRunner, "all_stream", lambda self: False)
        again = label_steps(tmp_path, server, "lockstep.duckdb")
        assert again["content_hash"] == in_process["content_hash"]
        assert {a == b for a, b in lockstep.rounds_in_flight_together()} == {True}
