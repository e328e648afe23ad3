"""The process-label flow end to end on a simulated policy whose true first errors are known exactly."""

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.engine import Completion, DryRunEngineConfig, GenRequest, GenResult
from tests.sim import write_process_config

pytestmark = pytest.mark.usefixtures("prefect_harness")


def invoke(*args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def test_omegaprm_locates_the_true_first_errors_and_reruns_for_free(sim_setup):
    folder, engine, problems = sim_setup
    cfg = write_process_config(folder, "omegaprm", "omegaprm: {k: 8, max_estimates: 30}\n")
    catalog = str(folder / "c.duckdb")
    first = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    st = first["stats"]
    assert st["problems"] == 12 and first["rows"] == st["labelled_solutions"] > 0
    assert st["engine_calls"] == len(engine.requests) and st["rounds"] > 1
    # Each round is one batch holding every active problem's request: far fewer rounds than requests.
    assert st["rounds"] < st["engine_calls"]

    invoke("export", f"chains-omegaprm@1", "--format", "trl-stepwise", "--out", str(folder / "out"), "--catalog", catalog)
    rows = pq.read_table(folder / "out" / "chains-omegaprm" / "v1" / "trl-stepwise" / "train.parquet").to_pylist()
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

    ds = datasets.load_dataset(str(folder / "hf" / "chains-omegaprm" / "v1" / "hf"), split="train", cache_dir=str(folder / "hf-cache"))
    assert ds.num_rows == len(rows) and ds[0]["labels"] == rows[0]["labels"]  # stepwise labels stay lists of bool
    assert ds.features["labels"].feature.dtype == "bool"

    again = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    assert again["stats"]["engine_calls"] == 0 and again["content_hash"] == first["content_hash"]


def test_math_shepherd_soft_labels_track_the_true_values(sim_setup):
    folder, engine, problems = sim_setup
    cfg = write_process_config(folder, "math_shepherd", "solutions_per_problem: 2\nmath_shepherd: {n: 8}\n")
    catalog = str(folder / "c.duckdb")
    s = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    assert s["stats"]["rounds"] == 2  # the solutions, then every prefix of every solution in one batch
    assert s["rows"] > 12
    invoke("export", "chains-math_shepherd", "--format", "trl-stepwise", "--out", str(folder / "o"), "--catalog", catalog)
    rows = pq.read_table(folder / "o" / "chains-math_shepherd" / "v1" / "trl-stepwise" / "train.parquet").to_pylist()
    errors = []
    for row in rows:
        pid = engine.by_question[row["prompt"]]
        for i, mc in enumerate(row["mc_values"][:-1]):
            prefix = "".join(step + "\n\n" for step in row["completions"][: i + 1])
            errors.append(abs(mc - engine.sim.true_value(pid, prefix)))
    assert sum(errors) / len(errors) < 0.15
    invoke("export", "chains-math_shepherd", "--format", "math-shepherd", "--out", str(folder / "m"), "--catalog", catalog)
    shepherd = pq.read_table(folder / "m" / "chains-math_shepherd" / "v1" / "math-shepherd" / "train.parquet").to_pylist()
    first = shepherd[0]
    assert first["input"].count(" ки\n") == first["label"].count(" +\n") + first["label"].count(" -\n") > 0
    assert "ки" not in first["label"]


def test_problem_without_gold_answer_is_a_clear_error(tmp_path):
    (tmp_path / "chains.jsonl").write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?"}\n')
    cfg = write_process_config(tmp_path, "omegaprm")
    result = CliRunner().invoke(app, ["label-steps", str(cfg), "--catalog", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 2
    assert "chains.jsonl:2: field 'answer': missing gold answer" in " ".join(result.stderr.split())
    assert not (tmp_path / "c.duckdb").exists()


W_TEXT = "s0\n\ns1\n\nBAD\n\ns3\n\ns4\n\nThe answer is 0."
GOOD_TEXT = "fine\n\nThe answer is 1."


class ScriptedChains:
    """Engine for one toy question (gold 1): a prefix holding BAD only has wrong continuations; any other
    prefix continues half to the gold answer and half into the rest of the same wrong solution W_TEXT."""

    name = "scripted:chains"
    concurrency = 1000

    def generate(self, requests):
        return [self._one(r) for r in requests]

    def _one(self, req: GenRequest) -> GenResult:
        prefix = req.prompt.split("\n\nAnswer:\n", 1)[1]
        if "BAD" in prefix:
            texts = ["t\n\nThe answer is 0."] * req.n
        else:
            texts = [GOOD_TEXT] * (req.n // 2) + [W_TEXT[len(prefix):]] * (req.n - req.n // 2)
        return GenResult(completions=[Completion(text=t, completion_tokens=5) for t in texts])


@pytest.fixture
def scripted_setup(tmp_path, engines):
    (tmp_path / "chains.jsonl").write_text(json.dumps({"question": "toy question", "answer": "1"}) + "\n")
    engines.serve(DryRunEngineConfig(model="sim"), ScriptedChains())
    return tmp_path


def test_row_count_equals_distinct_exported_rows(scripted_setup):
    """issue 12 item 8: the same solution reached from two states is labelled once; a version's row_count
    equals its distinct exported rows."""
    folder = scripted_setup
    cfg = write_process_config(folder, "omegaprm", "omegaprm: {k: 8, max_estimates: 60}\n")
    catalog = str(folder / "c.duckdb")
    built = json.loads(invoke("label-steps", str(cfg), "--catalog", catalog, "--json"))
    invoke("export", "chains-omegaprm", "--format", "trl-stepwise", "--out", str(folder / "o"), "--catalog", catalog)
    rows = pq.read_table(folder / "o" / "chains-omegaprm" / "v1" / "trl-stepwise" / "train.parquet").to_pylist()
    distinct = {(r["solution_id"], tuple(r["labels"])) for r in rows}
    assert built["rows"] == len(rows) == len(distinct) == len({r["solution_id"] for r in rows})


def test_export_truncates_after_first_error_and_flags_estimates(scripted_setup):
    """issue 12 item 6 (export): --truncate-after-first-error keeps steps up to the first error; every row has
    a per-step `estimated` flag and null (not 0.0) values where nothing was estimated."""
    folder = scripted_setup
    cfg = write_process_config(folder, "omegaprm", "omegaprm: {k: 8, max_estimates: 60}\n")
    catalog = str(folder / "c.duckdb")
    invoke("label-steps", str(cfg), "--catalog", catalog, "--json")
    invoke("export", "chains-omegaprm", "--format", "trl-stepwise", "--out", str(folder / "full"), "--catalog", catalog)
    invoke("export", "chains-omegaprm", "--format", "trl-stepwise", "--out", str(folder / "cut"), "--catalog", catalog,
           "--truncate-after-first-error")
    full = pq.read_table(folder / "full" / "chains-omegaprm" / "v1" / "trl-stepwise" / "train.parquet").to_pylist()
    cut = pq.read_table(folder / "cut" / "chains-omegaprm" / "v1" / "trl-stepwise" / "train.parquet").to_pylist()
    assert full and len(full) == len(cut)
    manifest = json.loads((folder / "full" / "chains-omegaprm" / "v1" / "trl-stepwise" / "manifest.json").read_text())
    assert manifest["format_version"] == "trl-stepwise/2"  # the meaning changed with issue 12: a new version
    for whole, short in zip(full, cut, strict=True):
        assert whole["first_error"] == 2 == short["first_error"]  # BAD is step 2 of W_TEXT
        assert len(short["completions"]) == 3 and short["labels"] == [True, True, False]
        assert all((v is None) == (not e) for v, e in zip(whole["mc_values"], whole["estimated"], strict=True))
        assert not all(whole["estimated"])
        # issue 16 item 3: the rollouts behind each value and their interval; how sure the first error is
        assert [n is not None for n in whole["n_rollouts"]] == whole["estimated"]
        assert all(lo <= mc <= hi for lo, mc, hi in zip(whole["mc_lower"], whole["mc_values"], whole["mc_upper"],
                                                       strict=True) if mc is not None)
        assert whole["first_error_at_upper"] is not None and whole["first_error_separated"] is not None


@pytest.mark.parametrize("method", ["omegaprm", "math_shepherd"])
def test_flow_runs_the_search_driver_the_tests_cover(scripted_setup, monkeypatch, method):
    """issue 12 item 9: production runs tasks/search/*.run_* (one driver per method), not a copy of its own."""
    from prefsynth.tasks.search import math_shepherd, omegaprm

    module, name = (omegaprm, "run_omegaprm") if method == "omegaprm" else (math_shepherd, "run_math_shepherd")
    real, calls = getattr(module, name), []

    def spy(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    cfg = write_process_config(scripted_setup, method, "omegaprm: {k: 8, max_estimates: 60}\n")
    invoke("label-steps", str(cfg), "--catalog", str(scripted_setup / "c.duckdb"), "--json")
    assert calls == [name]
