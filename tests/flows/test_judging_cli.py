"""Judging protocols end to end through the CLI: juries on the dry-run and scripted engines, pointwise pairing,
imported judgments (as jurors and as responses), cross-version consistency, and `eval-judge`.
"""

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.engine import DryRunEngineConfig, GenRequest
from tests.fakes import ScriptedEngine, response_texts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.usefixtures("prefect_harness")


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def run_json(*args) -> dict:
    code, out, err = cli(*args, "--json")
    assert code == 0, err + out
    return json.loads(out)


def query(catalog: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def workdir(tmp_path):
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path / "prompts.jsonl")
    return tmp_path


EVERY_PROTOCOL = """name: jury
prompts: {path: prompts.jsonl}
engines:
  fake: {kind: dry_run}
policies: [{engine: fake, n: 3, max_tokens: 16}]
pairing: {strategy: best_vs_each}
jury:
  - {engine: fake}
  - {kind: pointwise, engine: fake}
  - {kind: pointwise, engine: fake, temperature: 0.7, seed: 1}
  - {kind: debate, engine: fake, rounds: 1}
  - {kind: debate, engine: fake, rounds: 2, verdict: final_judge, both_orders: false, seed: 4}
filters:
  - drop_ties
  - {kind: agreement, min_agreement: 0.5}
  - {kind: strength, min_strength: 0.2, flip: true}
  - length_bias
  - near_duplicate_pair
  - near_duplicate_prompt
  - cross_version
"""


def test_every_protocol_runs_on_the_dry_run_engine_and_reproduces(workdir):
    (workdir / "jury.yaml").write_text(EVERY_PROTOCOL)
    catalog = workdir / "c.duckdb"
    first = run_json("build", workdir / "jury.yaml", "--catalog", catalog)
    st = first["stats"]
    assert len(st["judges"]) == 5 and st["pairing"] == "best_vs_each"
    assert {"fleiss_kappa", "alpha_nominal", "alpha_interval"} <= set(st["agreement"])
    assert [s["filter"] for s in st["funnel"]["steps"]][-1] == "rank_consistency"  # `cross_version`: its old name
    protocols = dict(query(catalog, "SELECT protocol, count(*) FROM judgments GROUP BY protocol"))
    assert set(protocols) == {"pairwise", "pointwise", "debate"}
    assert protocols["pointwise"] == 2 * 8 * 3  # two pointwise jurors rate every sample
    transcripts = query(catalog, "SELECT transcript FROM judgments WHERE protocol = 'debate' AND status = 'ok'")
    turns = json.loads(transcripts[0][0])
    assert {t["kind"] for t in turns} >= {"argument", "scores"}
    assert all(pid_pairs <= 2 for (pid_pairs,) in query(catalog, "SELECT count(*) FROM pairs WHERE derived_from IS NULL GROUP BY prompt_id"))
    again = run_json("build", workdir / "jury.yaml", "--catalog", catalog)
    # With a parent version, every kept pair also carries its consistency C: new rows, so a new content hash;
    # from then on a rebuild reproduces it.
    assert again["stats"]["engine_calls"] == 0 and again["rows"] == first["rows"]
    third = run_json("build", workdir / "jury.yaml", "--catalog", catalog)
    assert third["stats"]["engine_calls"] == 0 and third["content_hash"] == again["content_hash"]
    steps = {s["filter"]: s for s in again["stats"]["funnel"]["steps"]}
    assert steps["rank_consistency"]["dropped"] == 0  # the same judgments rank the same way as the parent's
    consistency = query(catalog, "SELECT DISTINCT p.consistency FROM dataset_rows d JOIN pairs p ON p.id = d.row_id "
                                 "WHERE d.version = 2")
    assert consistency == [(1.0,)]  # τ = 1: C = (τ + 1)/2 = 1 on every kept pair


def _sized_policy(req: GenRequest, i: int) -> str:
    return "x" * 10 * (i + 1)


def _pointwise_by_length(req: GenRequest) -> str:
    body = req.messages[-1].content
    text = body.split("[Response to evaluate]\n", 1)[1].split("\n[End of response to evaluate]", 1)[0]
    return f"Longer is better here.\nScore: {len(text) // 10}"


def test_pointwise_best_vs_worst_pairs_and_exports_ratings(workdir, engines):
    engine = ScriptedEngine(lambda req, i: _pointwise_by_length(req) if "[Response to evaluate]" in req.messages[-1].content
                            else _sized_policy(req, i))
    engines.serve(DryRunEngineConfig(model="scripted"), engine)
    (workdir / "pw.yaml").write_text(
        "name: pw\nprompts: {path: prompts.jsonl}\nengines: {fake: {kind: dry_run, model: scripted}}\n"
        "policies: [{engine: fake, n: 3}]\npairing: {strategy: best_vs_worst}\n"
        "judge: {kind: pointwise, engine: fake}\nfilters: [position_swap, drop_ties]\n"
    )
    summary = run_json("build", workdir / "pw.yaml", "--catalog", workdir / "c.duckdb")
    assert summary["rows"] == 8 and summary["stats"]["judgments"] == {"ok": 24}
    assert summary["stats"]["funnel"]["steps"][0]["reasons"] == {}  # pointwise: no order to swap
    code, _, err = cli("export", "pw", "-f", "trl-preference", "-o", workdir / "out", "--catalog", workdir / "c.duckdb")
    assert code == 0, err
    rows = pq.read_table(workdir / "out" / "pw" / "v1" / "trl-preference" / "train.parquet").to_pylist()
    # ratings 3 and 1 on the 1–5 rubric: a vote of 2/4 × 2 = 1.0 on the −2..2 scale
    assert {(r["chosen_rating"], r["rejected_rating"], r["margin"], r["weight"]) for r in rows} == {(3.0, 1.0, 1.0, 1.0)}
    assert all(len(r["chosen"][0]["content"]) == 30 and len(r["rejected"][0]["content"]) == 10 for r in rows)


IMPORTS = [
    {"prompt": "What is 2+2?", "response_a": "4", "response_b": "5", "judge": "human", "verdict": "A>>B"},
    {"prompt": "What is 2+2?", "response_a": "4", "response_b": "5", "judge": "rm", "score_a": 0.5, "score_b": 4.5},
    {"prompt": "What is 2+2?", "response_a": "4", "response_b": "5", "judge": "rm", "score_a": 1.0, "score_b": 3.0,
     "order": "BA"},
    {"prompt": "What is 2+2?", "response_a": "4", "response_b": "5", "judge": "rm2", "verdict": "B>A"},
    {"prompt": "Name a colour.", "response_a": "Blue.", "response_b": "Seven.", "judge": "human", "verdict": "A>B",
     "pair_id": "c-1"},
    {"prompt": "Name a colour.", "response_a": "Blue.", "response_b": "Seven.", "judge": "rm", "score_a": 2.0,
     "score_b": 1.0},
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bad_import_lines_name_file_line_field_and_write_nothing(workdir):
    bad = IMPORTS[:1] + [
        {"prompt": "p", "response_a": "a", "response_b": "b", "judge": "h", "verdict": "A>>>B"},
        {"prompt": "p", "response_a": "a", "response_b": "b", "judge": "h", "score_a": 1},
        {"prompt": "p", "response_a": "a", "response_b": "a", "judge": "h", "verdict": "A>B"},
        {"prompt": "p", "response_a": "a", "response_b": "b", "verdict": "A>B", "order": "CD"},
    ]
    path = _jsonl(workdir / "j.jsonl", bad)
    with path.open("a") as fh:
        fh.write("{not json\n")
    catalog = workdir / "c.duckdb"
    code, _, err = cli("import-judgments", path, "--catalog", catalog)
    text = " ".join(err.split())
    assert code == 2 and "5 bad line(s)" in text and "(6 problems)" in text
    for expected in ["j.jsonl:2: field 'verdict'", "j.jsonl:3: field 'score_b': missing", "j.jsonl:4: field 'response_b'",
                     "j.jsonl:5: field 'judge': missing", "j.jsonl:5: field 'order'", "j.jsonl:6: malformed JSON"]:
        assert expected in text, text
    assert not catalog.exists()


def test_imported_judgments_as_jurors_over_imported_responses_with_a_label_flip(workdir):
    catalog = workdir / "c.duckdb"
    path = _jsonl(workdir / "j.jsonl", IMPORTS)
    counts = run_json("import-judgments", path, "--catalog", catalog)
    assert counts == {"file": str(path), "lines": 6, "judgments": 6, "new_judgments": 6,
                      "judges": {"human": 2, "rm": 3, "rm2": 1}}
    assert run_json("import-judgments", path, "--catalog", catalog)["new_judgments"] == 0
    stored = query(catalog, "SELECT verdict, score_a, score_b, pair_ref FROM judgments ORDER BY pair_ref, verdict")
    assert ("A>B", None, None, "c-1") in stored and (None, 3.0, 1.0, None) in stored  # BA line: "5" shown first
    (workdir / "b.yaml").write_text(
        "name: ext\nprompts: {path: j.jsonl}\npolicies: [{kind: imported}]\n"
        "jury: [{kind: imported, judge: human}, {kind: imported, judge: rm, score_min: -100, score_max: 100},\n"
        "       {kind: imported, judge: rm2}]\n"
        "filters: [drop_ties, {kind: strength, min_strength: 0.3, flip: true}]\n"
    )
    summary = run_json("build", workdir / "b.yaml", "--catalog", catalog)
    assert summary["stats"]["samples"] == {"ok": 4} and summary["stats"]["pairs"] == 2 and summary["rows"] == 2
    # 2+2: human "4" by 2 (vote 2); rm "5" by 4 and by 2 points of its 200-point range (orders −0.04, −0.02: one
    # vote −0.03); rm2 "5" slightly (−1) → majority "5" (2 jurors to 1), μ for "5" = (−2 + 0.03 + 1) / 3 < −0.3 →
    # flipped to "4", backed by 1 juror of 3. colour: human "Blue." by 1, rm by 1 point (0.01) → μ = 0.505
    rows = query(catalog, """SELECT c.text, r.text, p.margin, p.agreement FROM dataset_rows d JOIN pairs p ON p.id = d.row_id
                             JOIN samples c ON c.id = p.chosen_id JOIN samples r ON r.id = p.rejected_id ORDER BY c.text""")
    assert rows == [("4", "5", pytest.approx(0.97 / 3), pytest.approx(1 / 3)),
                    ("Blue.", "Seven.", pytest.approx(0.505), 1.0)]
    code, _, err = cli("build", workdir / "b.yaml", "--catalog", workdir / "empty.duckdb")
    assert code == 1 and "no imported judgments by judge 'human'" in " ".join(err.split())


def _judge_by_seed(req: GenRequest) -> str:
    """Judge seed 0 prefers the longer response, seed 1 the shorter one (a judge that changed its mind)."""
    a, b = response_texts(req)
    longer = "A>B" if len(a) > len(b) else "B>A"
    label = longer if req.seed == 0 else {"A>B": "B>A", "B>A": "A>B"}[longer]
    return f"Reasons.\nVerdict: [[{label}]]"


def test_cross_version_consistency_drops_or_downweights_against_the_parent(workdir, engines):
    def reply(req, i):
        return _judge_by_seed(req) if "[Response A]" in req.messages[-1].content else "y" * 7 * (i + 1)

    engines.serve(DryRunEngineConfig(model="scripted"), ScriptedEngine(reply))
    base = ("name: cv\nprompts: {path: prompts.jsonl}\nengines: {fake: {kind: dry_run, model: scripted}}\n"
            "policies: [{engine: fake, n: 3}]\n")
    catalog = workdir / "c.duckdb"
    (workdir / "v1.yaml").write_text(base + "judge: {engine: fake, seed: 0}\nfilters: [cross_version]\n")
    assert run_json("build", workdir / "v1.yaml", "--catalog", catalog)["rows"] == 24  # no parent: all kept
    (workdir / "v2.yaml").write_text(base + "judge: {engine: fake, seed: 1}\nfilters: [cross_version]\n")
    v2 = run_json("build", workdir / "v2.yaml", "--catalog", catalog)
    assert v2["rows"] == 0  # every prompt's ranking reversed: τ = −1
    step = v2["stats"]["funnel"]["steps"][0]
    assert step["reasons"] == {"ranking disagrees with the parent version (τ below 0)": 24}
    (workdir / "v3.yaml").write_text(base + "judge: {engine: fake, seed: 0}\n"
                                     "filters: [{kind: cross_version, action: downweight, min_tau: 0.5}]\n")
    v3 = run_json("build", workdir / "v3.yaml", "--catalog", catalog)  # parent v2 ranked the other way round
    assert v3["rows"] == 24 and v3["stats"]["funnel"]["steps"][0]["changed"]
    weights = query(catalog, "SELECT DISTINCT p.weight, p.consistency FROM dataset_rows d JOIN pairs p ON p.id = d.row_id "
                             "WHERE d.version = 3")
    assert weights == [(0.0, 0.0)]  # τ = −1: C = 0, and the weight is multiplied by it


GOLD = [
    {"prompt": "q1", "response_a": "a long answer", "response_b": "short", "label": "A>B", "source": "s1"},
    {"prompt": "q2", "response_a": "short", "response_b": "a long answer", "label": "A>B", "source": "s1"},
    {"prompt": "q3", "response_a": "a long answer", "response_b": "short", "label": "B>A", "source": "s2"},
    {"prompt": "q4", "response_a": "short", "response_b": "a long answer", "label": "B>A", "source": "s2"},
]


def _eval_judge(req: GenRequest) -> str:
    """seed 0: the longer response wins in either order; seed 1: whatever is shown first wins; seed 2: no verdict."""
    if req.seed == 2:
        return "I will not say."
    a, b = response_texts(req)
    label = "A>B" if req.seed == 1 or len(a) > len(b) else "B>A"
    return f"Reasons.\nVerdict: [[{label}]]"


def test_eval_judge_metrics_match_hand_computed_values(workdir, engines):
    engines.serve(DryRunEngineConfig(model="scripted"), ScriptedEngine(lambda req, i: _eval_judge(req)))
    gold = _jsonl(workdir / "gold.jsonl", GOLD)
    (workdir / "e.yaml").write_text(
        "engines: {fake: {kind: dry_run, model: scripted}}\n"
        "jury: [{engine: fake, seed: 0}, {engine: fake, seed: 1}, {engine: fake, seed: 2}]\n"
        "filters: [position_swap, drop_ties]\n"
    )
    report = run_json("eval-judge", workdir / "e.yaml", "--gold", gold, "--catalog", workdir / "c.duckdb")
    assert report["items"] == 4 and report["gold_longer_wins"] == 0.5
    longer, first, mute, jury = report["groups"]
    # Longer-wins judge: right on q1 and q4 (both orders agree with gold), wrong on q2 and q3 (both contradict).
    assert (longer["accuracy"], longer["swap_inconsistency"], longer["longer_wins"], longer["cohen_kappa"]) == (0.5, 0.0, 1.0, 0.0)
    assert longer["by_source"] == {"s1": {"items": 2, "accuracy": 0.5}, "s2": {"items": 2, "accuracy": 0.5}}
    assert [(f["filter"], f["coverage"], f["accuracy"]) for f in longer["filters"]] == [
        ("(none)", 1.0, 0.5), ("position_swap", 1.0, 0.5), ("drop_ties", 1.0, 0.5)]
    # First-position judge: +1 and −1 on every item → never correct, always swap-inconsistent; its pairs are ties.
    assert (first["accuracy"], first["swap_inconsistency"], first["longer_wins"]) == (0.0, 1.0, 0.5)
    assert [(f["coverage"], f["accuracy"]) for f in first["filters"]] == [(1.0, 0.0), (0.0, None), (0.0, None)]
    # No verdict ever (re-asked, still nothing): parse errors, no accuracy, no κ signal.
    assert (mute["parse_error_rate"], mute["accuracy"], mute["swap_inconsistency"]) == (1.0, 0.0, None)
    assert jury["group"] == "jury" and jury["jurors"] == 3 and jury["accuracy"] == 0.5
    again = run_json("eval-judge", workdir / "e.yaml", "--gold", gold, "--catalog", workdir / "c.duckdb")
    assert again["engine_calls"] == 0 and again["groups"] == report["groups"]
    code, out, err = cli("eval-judge", workdir / "e.yaml", "--gold", gold, "--catalog", workdir / "c.duckdb", "-q")
    assert code == 0 and "accuracy by source" in out and "juror 3" in out and "(none)" in out


def test_eval_judge_bad_gold_file(workdir):
    (workdir / "e.yaml").write_text("engines: {fake: {kind: dry_run}}\njudge: {engine: fake}\n")
    gold = _jsonl(workdir / "gold.jsonl", [GOLD[0], {**GOLD[1], "label": "A=B"}])
    code, _, err = cli("eval-judge", workdir / "e.yaml", "--gold", gold, "--catalog", workdir / "c.duckdb")
    assert code == 2 and "gold.jsonl:2: field 'label'" in " ".join(err.split())


def test_the_judging_examples_run(workdir):
    """The example configs and files of docs/judging.md: dry-run jury, import + imported jury, eval config."""
    from prefsynth.config.preference import load_eval_config

    for name in ("jury_dry_run.yaml", "imported_jury.yaml", "judgments.jsonl", "gold.jsonl", "eval_judge.yaml"):
        shutil.copy(EXAMPLES / name, workdir / name)
    catalog = workdir / "c.duckdb"
    assert run_json("build", workdir / "jury_dry_run.yaml", "--catalog", catalog)["stats"]["pairs"] > 0
    assert run_json("import-judgments", workdir / "judgments.jsonl", "--catalog", catalog)["judgments"] == 5
    built = run_json("build", workdir / "imported_jury.yaml", "--catalog", catalog)
    assert built["stats"]["engine_calls"] == 0 and built["stats"]["pairs"] == 2
    assert len(load_eval_config(workdir / "eval_judge.yaml").jurors) == 2
