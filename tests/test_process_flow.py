"""The process-label flow end to end on a simulated policy whose true first errors are known exactly."""

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from benchmarks.sim_policy import SimPolicy, make_problems
from prefsynth.flows.cli import app
from prefsynth.schemas.engine import Completion, DryRunEngineConfig, GenRequest, GenResult
from prefsynth.tasks.generate import register_engine

pytestmark = pytest.mark.usefixtures("prefect_harness")


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
        rollouts = self.sim.continue_prefix(pid, prefix, req.n)
        return GenResult(completions=[Completion(text=r.text, completion_tokens=r.n_tokens) for r in rollouts])


@pytest.fixture
def sim_setup(tmp_path):
    problems = make_problems(12, seed=3, min_steps=3, max_steps=5, p_min=0.05, p_max=0.12)
    with (tmp_path / "chains.jsonl").open("w") as fh:
        for cp in problems:
            fh.write(json.dumps({"question": cp.problem.question, "answer": cp.problem.gold_answer}) + "\n")
    engine = SimEngine(problems)
    register_engine(DryRunEngineConfig(model="sim"), engine)
    return tmp_path, engine, problems


def write_config(folder, method, extra=""):
    path = folder / f"{method}.yaml"
    path.write_text(
        f"name: chains-{method}\nproblems: {{path: chains.jsonl}}\n"
        "engines: {sim: {kind: dry_run, model: sim}}\n"
        f"policy: {{engine: sim}}\nmethod: {method}\n{extra}"
    )
    return path


def invoke(*args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def test_omegaprm_locates_the_true_first_errors_and_reruns_for_free(sim_setup):
    folder, engine, problems = sim_setup
    cfg = write_config(folder, "omegaprm", "omegaprm: {k: 8, max_estimates: 30}\n")
    catalog = str(folder / "c.duckdb")
    first = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    st = first["stats"]
    assert st["problems"] == 12 and first["rows"] == st["labelled_solutions"] > 0
    assert st["engine_calls"] == len(engine.requests) and st["rounds"] > 1
    # Each round is one batch holding every active problem's request: far fewer rounds than requests.
    assert st["rounds"] < st["engine_calls"]

    invoke("export", f"chains-omegaprm@1", "--format", "trl-stepwise", "--out", str(folder / "out"), "--catalog", catalog)
    rows = pq.read_table(folder / "out" / "chains-omegaprm" / "v1" / "train.parquet").to_pylist()
    assert len(rows) == first["rows"]
    matches = 0
    for row in rows:
        solution = "".join(step + "\n\n" for step in row["completions"])
        pid = engine.by_question[row["prompt"]]
        true_first = engine.sim.true_first_error(pid, solution)
        fe = row["first_error"]
        matches += fe == true_first
        assert row["labels"] == [fe is None or i < fe for i in range(len(row["completions"]))]
    assert matches / len(rows) >= 0.9, (matches, len(rows))

    invoke("export", "chains-omegaprm@1", "--format", "hf", "--out", str(folder / "hf"), "--catalog", catalog)
    import datasets

    ds = datasets.load_dataset(str(folder / "hf" / "chains-omegaprm" / "v1"), split="train", cache_dir=str(folder / "hf-cache"))
    assert ds.num_rows == len(rows) and ds[0]["labels"] == rows[0]["labels"]  # stepwise labels stay lists of bool
    assert ds.features["labels"].feature.dtype == "bool"

    again = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    assert again["stats"]["engine_calls"] == 0 and again["content_hash"] == first["content_hash"]


def test_math_shepherd_soft_labels_track_the_true_values(sim_setup):
    folder, engine, problems = sim_setup
    cfg = write_config(folder, "math_shepherd", "solutions_per_problem: 2\nmath_shepherd: {n: 8}\n")
    catalog = str(folder / "c.duckdb")
    s = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    assert s["stats"]["rounds"] == 2  # the solutions, then every prefix of every solution in one batch
    assert s["rows"] > 12
    invoke("export", "chains-math_shepherd", "--format", "trl-stepwise", "--out", str(folder / "o"), "--catalog", catalog)
    rows = pq.read_table(folder / "o" / "chains-math_shepherd" / "v1" / "train.parquet").to_pylist()
    errors = []
    for row in rows:
        pid = engine.by_question[row["prompt"]]
        for i, mc in enumerate(row["mc_values"][:-1]):
            prefix = "".join(step + "\n\n" for step in row["completions"][: i + 1])
            errors.append(abs(mc - engine.sim.true_value(pid, prefix)))
    assert sum(errors) / len(errors) < 0.15
    invoke("export", "chains-math_shepherd", "--format", "math-shepherd", "--out", str(folder / "m"), "--catalog", catalog)
    shepherd = pq.read_table(folder / "m" / "chains-math_shepherd" / "v1" / "train.parquet").to_pylist()
    first = shepherd[0]
    assert first["input"].count(" ки\n") == first["label"].count(" +\n") + first["label"].count(" -\n") > 0
    assert "ки" not in first["label"]


def test_problem_without_gold_answer_is_a_clear_error(tmp_path):
    (tmp_path / "chains.jsonl").write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?"}\n')
    cfg = write_config(tmp_path, "omegaprm")
    result = CliRunner().invoke(app, ["label-steps", str(cfg), "--catalog", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 2
    assert "chains.jsonl:2: field 'answer': missing gold answer" in " ".join(result.stderr.split())
    assert not (tmp_path / "c.duckdb").exists()
