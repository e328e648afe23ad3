"""The report is a web page: render `index.html` of a preference, a stepwise and a rationale version in a real
headless Chromium; every image loads and no console error is logged (issue 14 item 5).

Skips, saying why, where Chromium, chromedriver or selenium is missing (`make test` installs Chromium first through
`make browser`; where apt cannot, this test skips).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.sim_policy import make_problems
from prefsynth.cli.main import app
from prefsynth.schemas.engine import DryRunEngineConfig
from tests.browser import check_page, unavailable
from tests.sim import SimEngine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_UNAVAILABLE = unavailable()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"no browser: {_UNAVAILABLE}"),
              pytest.mark.usefixtures("prefect_harness")]


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


def preference_version(folder: Path, catalog: str, engines) -> str:
    for name in ("dry_run.yaml", "prompts.jsonl"):
        shutil.copy(EXAMPLES / name, folder / name)
    cli("build", str(folder / "dry_run.yaml"), "--catalog", catalog, "--quiet")
    return "dry-run"


def stepwise_version(folder: Path, catalog: str, engines) -> str:
    problems = make_problems(6, seed=3, min_steps=3, max_steps=4, p_min=0.05, p_max=0.12)
    (folder / "chains.jsonl").write_text("".join(
        json.dumps({"question": p.problem.question, "answer": p.problem.gold_answer}) + "\n" for p in problems))
    engines.serve(DryRunEngineConfig(model="sim"), SimEngine(problems))
    (folder / "steps.yaml").write_text(
        "name: chains\nproblems: {path: chains.jsonl}\nengines: {sim: {kind: dry_run, model: sim}}\n"
        "policy: {engine: sim}\nmethod: omegaprm\nomegaprm: {k: 8, max_estimates: 20}\n")
    cli("label-steps", str(folder / "steps.yaml"), "--catalog", catalog, "--quiet")
    return "chains"


def rationale_version(folder: Path, catalog: str, engines) -> str:
    items = [{"prompt": f"Q{i}?", "response_a": f"answer {i}", "response_b": f"other {i} " * (i + 1),
              "label": "A>B" if i % 2 else "B>A"} for i in range(4)]
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    (folder / "r.yaml").write_text("name: rat\nitems: {path: items.jsonl}\nengines: {j: {kind: dry_run}}\n"
                                   "judge: {engine: j, temperature: 0.9}\nk: 4\n")
    cli("rationalize", str(folder / "r.yaml"), "--catalog", catalog, "--quiet")
    return "rat"


@pytest.mark.parametrize("make_version", [preference_version, stepwise_version, rationale_version],
                         ids=["preference", "stepwise", "rationale"])
def test_report_page_loads_every_image_without_console_errors(tmp_path, make_version, engines):
    catalog = str(tmp_path / "c.duckdb")
    ref = make_version(tmp_path, catalog, engines)
    out = tmp_path / "report"
    summary = json.loads(cli("report", ref, "--catalog", catalog, "--out", str(out), "--json"))
    page = check_page(out / "index.html")
    assert sorted(i["src"] for i in page.images) == sorted(summary["plots"])
    assert page.broken_images == []
    assert page.console_errors == []


def test_the_browser_check_sees_a_broken_image_and_a_console_error(tmp_path):
    """The check itself can fail: a missing image and a console.error are both reported."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><body><img src='missing.png'><script>console.error('boom')</script></body></html>")
    page = check_page(tmp_path / "index.html")
    assert page.broken_images == ["missing.png"]
    assert any("boom" in e for e in page.console_errors)
    assert any("missing.png" in e for e in page.console_errors)  # the failed load is logged too
