"""`prefsynth report` on dry-run and scripted builds, and the Prefect artifacts each flow run gets."""

import asyncio
import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.reports.summary import juror_winners
from prefsynth.schemas.engine import DryRunEngineConfig
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.report_data import preference_data
from prefsynth.storage.versions import get_version
from tests.fakes import ScriptedEngine, longer_wins, numbered_policy, policy_then_judge
from tests.builds import EXAMPLES, build_example, cli
from tests.sim import write_process_config

pytestmark = pytest.mark.usefixtures("prefect_harness")
PNG = b"\x89PNG\r\n\x1a\n"


def report(tmp_path: Path, ref: str, *extra: str) -> tuple[dict, str]:
    out = tmp_path / "report"
    summary = json.loads(cli("report", ref, "--catalog", str(tmp_path / "c.duckdb"), "--out", str(out), "--json", *extra))
    page = (out / "index.html").read_text()
    assert summary["plots"], "a report without plots"
    for name in summary["plots"]:
        assert (out / name).read_bytes()[:8] == PNG and f"src='{name}'" in page
    assert json.loads((out / "summary.json").read_text())["content_hash"] == summary["content_hash"]
    return summary, page


def test_preference_report_matches_the_build(tmp_path):
    built = build_example(tmp_path, "dry_run.yaml")
    s, page = report(tmp_path, "dry-run@1")
    st = built["stats"]
    assert s["funnel"] == st["funnel"] and s["funnel"]["pairs_out"] == built["rows"]
    assert set(s["plots"]) == {"funnel.png", "verdicts.png", "margins.png", "longer_won.png"}
    # one judge, both orders: every judgment is counted once, by verdict (or failure)
    (judge, verdicts), = s["verdicts"].items()
    assert sum(verdicts.values()) == sum(st["judgments"].values()) == 2 * st["pairs"]
    assert sum(s["margins"]["kept"].values()) == built["rows"]
    assert sum(s["margins"]["kept"].values()) + sum(s["margins"]["dropped"].values()) == st["pairs"]
    assert s["juror_kappa"] is None and "no juror agreement heatmap" in page
    assert built["content_hash"] in page and judge in page


def test_longer_response_rate_with_a_judge_that_prefers_length(tmp_path, engines):
    (tmp_path / "s.yaml").write_text(
        "name: longer\nprompts: {path: prompts.jsonl}\nengines: {fake: {kind: dry_run, model: scripted}}\n"
        "policies: [{engine: fake, n: 3, max_tokens: 32}]\njudge: {engine: fake}\n")
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path / "prompts.jsonl")
    engines.serve(DryRunEngineConfig(model="scripted"), ScriptedEngine(policy_then_judge(numbered_policy, longer_wins)))
    cli("build", str(tmp_path / "s.yaml"), "--catalog", str(tmp_path / "c.duckdb"), "--quiet")
    s, _ = report(tmp_path, "longer")
    lw = s["longer_won"]
    assert lw["pairs"] == lw["kept_pairs"] == {"decided": 24, "longer_won": 24, "rate": 1.0}
    (judge, by_judge), = lw["by_judge"].items()
    assert by_judge == {"decided": 48, "longer_won": 48, "rate": 1.0}
    # A>B and B>A in equal numbers: the scripted judge has no position bias
    assert s["verdicts"][judge] == {"A>B": 24, "B>A": 24}


def test_jury_report_has_the_kappa_heatmap(tmp_path):
    from sklearn.metrics import cohen_kappa_score

    build_example(tmp_path, "jury_dry_run.yaml")
    s, page = report(tmp_path, "jury-dry-run")
    k = s["juror_kappa"]
    assert len(k["judges"]) == 3 == len(s["judges"]) and "juror_agreement.png" in s["plots"]
    assert "scores.png" in s["plots"]  # pointwise and debate jurors give ratings
    with Catalog(tmp_path / "c.duckdb", read_only=True) as cat:
        winners = juror_winners(preference_data(cat, get_version(cat, "jury-dry-run")))
    for a, ja in enumerate(k["judges"]):
        assert k["kappa"][a][a] == 1.0 and ja in page
        for b, jb in enumerate(k["judges"]):
            common = sorted(set(winners[ja]) & set(winners[jb]))
            assert k["pairs"][a][b] == len(common) > 0
            if a != b:
                expected = cohen_kappa_score([winners[ja][i] for i in common], [winners[jb][i] for i in common])
                assert k["kappa"][a][b] == pytest.approx(expected, abs=1e-4)


def test_stepwise_report_label_balance_matches_the_export(sim_setup):
    folder, _engine, _problems = sim_setup
    cfg = write_process_config(folder, "omegaprm", "omegaprm: {k: 8, max_estimates: 30}\n")
    catalog = str(folder / "c.duckdb")
    cli("label-steps", str(cfg), "--catalog", catalog, "--quiet")
    cli("export", "chains-omegaprm", "--format", "trl-stepwise", "--out", str(folder / "out"), "--catalog", catalog)
    rows = pq.read_table(folder / "out" / "chains-omegaprm" / "v1" / "trl-stepwise" / "train.parquet").to_pylist()
    s, _ = report(folder, "chains-omegaprm")
    assert set(s["plots"]) == {"label_balance.png", "mc_values.png"}
    exported = Counter((i, ok) for r in rows for i, ok in enumerate(r["labels"]))
    assert {(b["step"], True): b["positive"] for b in s["by_step"] if b["positive"]} == \
        {k: v for k, v in exported.items() if k[1]}
    assert {(b["step"], False): b["negative"] for b in s["by_step"] if b["negative"]} == \
        {k: v for k, v in exported.items() if not k[1]}
    mc = [v for r in rows for v in r["mc_values"] if v is not None]
    assert s["mc"]["count"] >= 1 and sum(s["mc"]["bins"]) == s["mc"]["count"]
    assert s["mc"]["zero"] >= sum(1 for r in rows if r["first_error"] is not None)  # a located error has MC 0
    assert 0.0 <= s["mc"]["mean"] <= 1.0 and mc


def test_rationale_report_agreement_with_gold(tmp_path):
    items = [{"prompt": f"Q{i}?", "response_a": f"answer {i}", "response_b": f"other {i} " * (i + 1),
              "label": "A>B" if i % 2 else "B>A"} for i in range(6)]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    (tmp_path / "r.yaml").write_text("name: rat\nitems: {path: items.jsonl}\nengines: {j: {kind: dry_run}}\n"
                                     "judge: {engine: j, temperature: 0.9}\nk: 4\n")
    built = json.loads(cli("rationalize", str(tmp_path / "r.yaml"), "--catalog", str(tmp_path / "c.duckdb"), "--json"))
    s, _ = report(tmp_path, "rat")
    assert s["plots"] == ["rationale_agreement.png"]
    gold = s["agreement"]["gold"]
    assert gold["items"] == sum(gold["bins"]) == built["stats"]["references"]["gold"] == 6
    assert gold["mean"] == pytest.approx(built["stats"]["agreement_with_reference"], abs=1e-3)


def test_report_errors(tmp_path):
    build_example(tmp_path, "dry_run.yaml")
    result = CliRunner().invoke(app, ["report", "nope", "--catalog", str(tmp_path / "c.duckdb"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no dataset version 'nope'" in result.stderr


def test_each_build_attaches_summary_artifacts_to_its_flow_run(tmp_path):
    built = build_example(tmp_path, "dry_run.yaml")
    with Catalog(tmp_path / "c.duckdb", read_only=True) as cat:
        run_id = get_version(cat, "dry-run").flow_run_id
    artifacts = asyncio.run(_artifacts_of(run_id))
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {"dry-run-summary", "dry-run-stats"}
    assert by_key["dry-run-summary"].type == "markdown" and built["content_hash"][:16] in by_key["dry-run-summary"].data
    table = by_key["dry-run-stats"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert {"metric": "rows (kept pairs)", "value": str(built["rows"])} in table


async def _artifacts_of(flow_run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


def test_juror_kappa_is_on_absolute_winners_against_a_hand_computed_table():
    """issue 12 item 22: κ between jurors is computed on which response won (a fixed order of the pair's two
    responses), not on "did the juror pick the jury's chosen one" — the jury's own pick skews that to all +1.

    Seven pairs (x_i, y_i), x_i < y_i by id; J1 and J2 vote once each, sometimes shown (y, x):
        pair:   1  2  3  4  5  6  7
        J1:     x  y  x  y  x  x  =
        J2:     x  y  x  y  y  x  x
        chosen: x  y  x  y  x  x  x
    Absolute table: agree on 5 of 7; J1 marginals x 4, y 2, = 1; J2 x 4, y 3 → p_e = (4·4 + 2·3)/49 = 22/49,
    κ = (35/49 − 22/49)/(27/49) = 13/27. (Relative to chosen: J1 +6 0·1, J2 +6 −1 → κ = −1/13.)
    """
    from prefsynth.reports.summary import juror_kappa
    from prefsynth.schemas.preference import PreferencePair
    from prefsynth.storage.report_data import JudgmentRow, PreferenceData

    j1 = ["x", "y", "x", "y", "x", "x", "="]
    j2 = ["x", "y", "x", "y", "y", "x", "x"]
    chosen = ["x", "y", "x", "y", "x", "x", "x"]
    pairs, judgments = [], []
    for i in range(7):
        x, y = f"s{i}-x", f"s{i}-y"
        ids = []
        for judge, vote, shown_swapped in (("J1", j1[i], i % 2 == 0), ("J2", j2[i], i % 3 == 0)):
            first, second = (y, x) if shown_swapped else (x, y)
            winner = {"x": x, "y": y}.get(vote)
            verdict = "A=B" if winner is None else "A>B" if winner == first else "B>A"
            jid = f"{judge}-{i}"
            ids.append(jid)
            judgments.append(JudgmentRow(jid, judge, "pairwise", "ok", verdict, first, second, None, None, 5, 5))
        c, r = (x, y) if chosen[i] == "x" else (y, x)
        pairs.append(PreferencePair(id=f"p{i}", prompt_id="q", chosen_id=c, rejected_id=r, margin=1.0, tie=False,
                                    judgment_ids=tuple(ids), n_judgments=2, n_parsed=2, agreement=1.0))
    k = juror_kappa(PreferenceData(pairs, frozenset(p.id for p in pairs), {}, judgments))
    assert k["judges"] == ["J1", "J2"] and k["pairs"] == [[7, 7], [7, 7]]
    assert k["kappa"][0][1] == k["kappa"][1][0] == pytest.approx(13 / 27, abs=1e-4)
