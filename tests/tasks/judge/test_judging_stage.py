"""The judging stage (tasks/judge/): one `Judge` registry keyed by the juror's kind; the jury set up — and a
fitted aggregation's juror names checked — before any engine call; each pair aggregated once."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.engine import DryRunEngineConfig
from prefsynth.schemas.judges import JUROR_KINDS
from prefsynth.tasks.judge import calibrated
from tests.builds import write_streamed_config
from tests.fakes import ScriptedEngine, longer_wins, numbered_policy, policy_then_judge
from tests.latency_server import LatencyServer


def test_every_juror_kind_has_one_judge_in_the_registry():
    from prefsynth.tasks.judge.registry import JUDGES, Judge, judge_for

    assert set(JUDGES) == set(JUROR_KINDS)
    assert all(isinstance(judge, Judge) for judge in JUDGES.values())
    from prefsynth.schemas.verifier import VerifierJudgeConfig

    assert judge_for(VerifierJudgeConfig(kind="verifier")) is JUDGES["verifier"]


GONE = {"aggregation": {"kind": "fitted", "coefficients": {"gone": {"xy": 1.0}}}}


def build(config: str, catalog) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["build", config, "--catalog", str(catalog), "--json"])
    return result.exit_code, " ".join(result.stderr.split())


@pytest.mark.usefixtures("prefect_harness")
def test_a_fitted_jury_naming_no_juror_fails_before_any_engine_call(tmp_path, engines):
    """Stage by stage (an in-process engine): the config names a juror the jury does not have."""
    engine = ScriptedEngine(policy_then_judge(numbered_policy, longer_wins))
    engines.serve(DryRunEngineConfig(model="fitted-names"), engine)
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"prompt": f"Q{i}?"}) + "\n" for i in range(3)))
    config = {"name": "d", "prompts": {"path": "p.jsonl"}, "engines": {"e": {"kind": "dry_run", "model": "fitted-names"}},
              "policies": [{"engine": "e", "n": 2}], "judge": {"engine": "e"}, **GONE}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    code, err = build(str(tmp_path / "c.yaml"), tmp_path / "c.duckdb")
    assert code == 1 and "no juror named 'gone'" in err, err
    assert engine.requests == []


@pytest.mark.usefixtures("prefect_harness")
def test_overlapped_groups_check_fitted_names_before_any_request(tmp_path):
    with LatencyServer() as server:
        code, err = build(write_streamed_config(tmp_path, server.base_url, prompts=4, top=GONE), tmp_path / "c.duckdb")
        assert code == 1 and "no juror named 'gone'" in err, err
        assert server.served == 0


@pytest.mark.usefixtures("prefect_harness")
def test_overlapped_groups_aggregate_each_pair_once(tmp_path, monkeypatch):
    counted = []
    real = calibrated.aggregate

    def counting(*args, **kwargs):
        counted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(calibrated, "aggregate", counting)
    top = {"aggregation": {"kind": "dawid_skene"}}
    with LatencyServer() as server:
        result = CliRunner().invoke(app, ["build", write_streamed_config(tmp_path, server.base_url, prompts=6, top=top),
                                          "--catalog", str(tmp_path / "c.duckdb"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert len(counted) == json.loads(result.stdout)["stats"]["pairs"] > 0


@pytest.mark.usefixtures("prefect_harness")
def test_eval_judge_on_a_server_judges_gold_in_overlapping_groups_with_the_same_report(tmp_path, monkeypatch):
    from prefsynth.runtime.calls import CallRunner
    from prefsynth.tasks.judge import panel

    groups = []
    real = panel.judge_given_pairs
    monkeypatch.setattr(panel, "judge_given_pairs", lambda p, prompts, pairs, calls, ratings=None: groups.append(
        len(pairs)) or real(p, prompts, pairs, calls, ratings))
    gold = [{"prompt": f"Q{i}?", "response_a": f"answer {i}", "response_b": f"reply {i} longer", "label": "A>B",
             "source": "s"} for i in range(5)]
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gold))

    def report(catalog: str) -> dict:
        result = CliRunner().invoke(app, ["eval-judge", str(tmp_path / "j.yaml"), "--gold", str(tmp_path / "gold.jsonl"),
                                          "--catalog", str(tmp_path / catalog), "--json"])
        assert result.exit_code == 0, result.stderr + result.stdout
        out = json.loads(result.stdout)
        return {k: v for k, v in out.items() if k not in ("wall_time_s", "cache_hits", "engine_calls")}

    with LatencyServer() as server:
        engine = {"kind": "openai", "base_url": server.base_url, "model": "sim", "api_key_env": None,
                  "max_concurrency": 4, "backoff_s": 0.05}
        (tmp_path / "j.yaml").write_text(json.dumps({"engines": {"srv": engine}, "jury": [
            {"engine": "srv", "max_tokens": 64}, {"kind": "pointwise", "engine": "srv", "max_tokens": 64}]}))
        streamed = report("a.duckdb")
        assert groups == [1] * 5
        monkeypatch.setattr(CallRunner, "all_stream", lambda self: False)
        staged = report("b.duckdb")
    assert groups[5:] == [5] and streamed == staged
