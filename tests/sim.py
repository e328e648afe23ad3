"""Simulated stand-ins shared by tests of several packages.

- `SimEngine`: the simulated chain policy of benchmarks/sim_policy.py behind the engine interface, so a process
  label build knows every problem's true first error.
- `sim_setup` (a fixture, registered for every test through `pytest_plugins` in tests/conftest.py): twelve
  simulated problems written to `chains.jsonl` in `tmp_path`, their `SimEngine` served (the `engines` fixture)
  as the dry-run model "sim"; yields `(tmp_path, engine, problems)`.
- `write_process_config(folder, method, extra)`: a process-label config for those problems, returns its path.
- `JURY`: the simulated jury of benchmarks/sim_jury.py (a strong juror, three reward models reading on [-3, 3],
  a shy juror), as a `Jury`.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.sim_policy import SimPolicy, make_problems
from prefsynth.schemas.engine import DryRunEngineConfig, GenRequest, GenResult
from prefsynth.tasks.judge.jury import Jury, JurorSpec

JURY = Jury.of([JurorSpec("strong"), *(JurorSpec(f"rm{i}", (-3.0, 3.0)) for i in (1, 2, 3)), JurorSpec("shy")])


class SimEngine:
    """The simulated policy behind the engine interface: it reads the question and prefix out of the raw prompt."""

    name = "sim:chain"
    concurrency = 1000

    def __init__(self, problems):
        self.sim = SimPolicy(problems, seed=1)
        self.by_question = {cp.problem.question: cp.problem.id for cp in problems}
        self.requests: list[GenRequest] = []

    def generate(self, requests):
        self.requests += requests
        return [self._one(r) for r in requests]

    def _one(self, req: GenRequest) -> GenResult:
        head, prefix = req.prompt.split("\n\nAnswer:\n", 1)
        pid = self.by_question[head.split("Question: ", 1)[1]]
        # the request's seed stands for the draw: a further draw of a prefix gets new continuations
        return GenResult(completions=self.sim.complete(pid, prefix, req.n, draw=req.seed))


@pytest.fixture
def sim_setup(tmp_path, engines):
    problems = make_problems(12, seed=3, min_steps=3, max_steps=5, p_min=0.05, p_max=0.12)
    with (tmp_path / "chains.jsonl").open("w") as fh:
        for cp in problems:
            fh.write(json.dumps({"question": cp.problem.question, "answer": cp.problem.gold_answer}) + "\n")
    engine = SimEngine(problems)
    engines.serve(DryRunEngineConfig(model="sim"), engine)
    return tmp_path, engine, problems


def write_process_config(folder, method, extra=""):
    path = folder / f"{method}.yaml"
    path.write_text(
        f"name: chains-{method}\nproblems: {{path: chains.jsonl}}\n"
        "engines: {sim: {kind: dry_run, model: sim}}\n"
        f"policy: {{engine: sim}}\nmethod: {method}\n{extra}"
    )
    return path
