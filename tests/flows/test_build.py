"""End-to-end preference builds through the CLI, on the dry-run and scripted engines."""

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.engine import DryRunEngineConfig
from tests.fakes import ScriptedEngine, longer_wins, numbered_policy, policy_then_judge

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.usefixtures("prefect_harness")

SCRIPTED = """name: scripted
prompts:
  path: prompts.jsonl
engines:
  fake:
    kind: dry_run
    model: scripted
policies:
  - engine: fake
    n: 3
    max_tokens: 32
judge:
  engine: fake
"""


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def build_json(config: Path, catalog: Path) -> dict:
    code, out, err = cli("build", str(config), "--catalog", str(catalog), "--json")
    assert code == 0, err + out
    return json.loads(out)


@pytest.fixture
def workdir(tmp_path):
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path / "prompts.jsonl")
    shutil.copy(EXAMPLES / "dry_run.yaml", tmp_path / "dry_run.yaml")
    (tmp_path / "scripted.yaml").write_text(SCRIPTED)
    return tmp_path


def test_rebuild_makes_no_engine_call_and_reproduces_the_content_hash(workdir):
    catalog = workdir / "cat.duckdb"
    first = build_json(workdir / "dry_run.yaml", catalog)
    second = build_json(workdir / "dry_run.yaml", catalog)
    assert first["stats"]["engine_calls"] > 0 and first["stats"]["cache_hits"] == 0
    assert second["stats"]["engine_calls"] == 0
    assert second["stats"]["cache_hits"] == first["stats"]["engine_calls"]
    assert second["content_hash"] == first["content_hash"]
    assert (second["version"], second["parent_version"]) == (2, 1)

    code, out, _ = cli("show", "dry-run@2", "--catalog", str(catalog), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["content_hash"] == first["content_hash"] and shown["parent_version"] == 1
    assert shown["stats"]["engine_calls"] == 0 and shown["stats"]["cache_hits"] > 0
    code, out, _ = cli("datasets", "--catalog", str(catalog), "--json")
    listed = json.loads(out)
    assert [(d["name"], d["version"], d["kind"]) for d in listed] == [("dry-run", 1, "preference"), ("dry-run", 2, "preference")]
    assert listed[0]["rows"] == first["rows"] and "created_at" in listed[0]


def test_unreadable_judge_replies_are_parse_errors_never_verdicts(workdir, engines):
    garbage = lambda req: "I think both are nice." if len(req.messages) == 2 else "still no verdict"  # noqa: E731
    engine = ScriptedEngine(policy_then_judge(numbered_policy, garbage))
    engines.serve(DryRunEngineConfig(model="scripted"), engine)
    summary = build_json(workdir / "scripted.yaml", workdir / "cat.duckdb")
    st = summary["stats"]
    n_judgments = st["pairs"] * 2
    assert st["judgments"] == {"parse_error": n_judgments} and st["reasked"] == n_judgments
    assert summary["rows"] == 0
    assert st["funnel"]["steps"][0]["reasons"] == {"no verdict in one order (parse_error)": st["pairs"]}
    con = duckdb.connect(str(workdir / "cat.duckdb"), read_only=True)
    raws = con.execute("SELECT DISTINCT status, verdict, raw FROM judgments").fetchall()
    assert raws == [("parse_error", None, "I think both are nice.\n\n[re-ask]\nstill no verdict")]
    reasks = [r for r in engine.requests if r.choices]
    assert len(reasks) == n_judgments and all(len(r.messages) == 4 for r in reasks)


def test_consistent_judge_keeps_pairs_and_exports_trl_preference(workdir, engines):
    engine = ScriptedEngine(policy_then_judge(numbered_policy, longer_wins))
    engines.serve(DryRunEngineConfig(model="scripted"), engine)
    summary = build_json(workdir / "scripted.yaml", workdir / "cat.duckdb")
    assert summary["stats"]["judgments"] == {"ok": 8 * 3 * 2}
    assert summary["rows"] == 8 * 3  # 3 pairs per prompt, all consistent, no ties
    code, out, err = cli("export", "scripted", "--format", "trl-preference", "--out", str(workdir / "out"),
                         "--catalog", str(workdir / "cat.duckdb"))
    assert code == 0, err
    table = pq.read_table(workdir / "out" / "scripted" / "v1" / "trl-preference" / "train.parquet")
    assert table.column_names[:3] == ["prompt", "chosen", "rejected"]
    rows = table.to_pylist()
    assert len(rows) == 24
    # The prompts include a chat, so the export is conversational: message lists throughout.
    assert all(isinstance(r["prompt"], list) and r["chosen"][0]["role"] == "assistant" for r in rows)
    assert all(len(r["chosen"][0]["content"]) > len(r["rejected"][0]["content"]) for r in rows)
    assert {r["margin"] for r in rows} == {1.0} and {r["agreement"] for r in rows} == {1.0}
    assert rows[0]["judges"] == ["scripted:test|pairwise-v1|t=0.0|seed=0"]


def test_engine_failures_are_recorded_and_counted(workdir, engines):
    def flaky(req, i):
        return RuntimeError("server exploded") if "haiku" in req.messages[-1].content else numbered_policy(req, i)

    engines.serve(DryRunEngineConfig(model="scripted"), ScriptedEngine(policy_then_judge(flaky, longer_wins)))
    summary = build_json(workdir / "scripted.yaml", workdir / "cat.duckdb")
    assert summary["stats"]["samples"] == {"ok": 21, "error": 3}
    assert summary["stats"]["engine_errors"] == 1
    con = duckdb.connect(str(workdir / "cat.duckdb"), read_only=True)
    assert con.execute("SELECT DISTINCT error FROM samples WHERE status = 'error'").fetchall() == [
        ("RuntimeError: server exploded",)
    ]


@pytest.mark.parametrize(
    "prompts, message",
    [
        ('{"prompt": "fine"}\n{"prompt": "oops"\n', "prompts.jsonl:2: malformed JSON"),
        ('{"prompt": "fine"}\n{"question": "x"}\n', "prompts.jsonl:2: field 'prompt': missing"),
        ('{"prompt": "  "}\n', "prompts.jsonl:1: field 'prompt': empty prompt"),
    ],
)
def test_bad_input_exits_non_zero_and_writes_no_version(workdir, prompts, message):
    (workdir / "prompts.jsonl").write_text(prompts)
    catalog = workdir / "cat.duckdb"
    code, out, err = cli("build", str(workdir / "dry_run.yaml"), "--catalog", str(catalog))
    assert code == 2
    assert message in " ".join(err.split())
    assert not catalog.exists()


def test_bad_config_exits_non_zero(workdir):
    (workdir / "dry_run.yaml").write_text((workdir / "dry_run.yaml").read_text() + "colour: blue\n")
    code, _, err = cli("build", str(workdir / "dry_run.yaml"), "--catalog", str(workdir / "cat.duckdb"))
    assert code == 2 and "field 'colour': unknown key" in err
    assert not (workdir / "cat.duckdb").exists()


def test_show_unknown_version_and_export_format(workdir):
    catalog = workdir / "cat.duckdb"
    build_json(workdir / "dry_run.yaml", catalog)
    code, _, err = cli("show", "dry-run@9", "--catalog", str(catalog))
    assert code == 2 and "no dataset version 'dry-run@9'" in err
    code, _, err = cli("export", "dry-run", "--format", "alpaca", "--out", str(workdir), "--catalog", str(catalog))
    assert code == 2 and "'alpaca' is not one of" in err and "trl-preference" in err  # the registry's names
    code, _, err = cli("datasets", "--catalog", str(workdir / "missing.duckdb"))
    assert code == 2 and "no catalog at" in err
