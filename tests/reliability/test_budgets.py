"""Budgets: `budget.max_calls`, `max_tokens`, `max_cost` stop a build cleanly — it says which limit, writes no
version and exits non-zero — and a rerun with a higher limit pays only for the calls the first run did not make.

The model is an OpenAI-compatible HTTP server on 127.0.0.1 that counts requests per request hash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from tests.reliability.support import build_config, policy_server, version_rows

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_harness")]

CALLS = 6 + 6 * 3 * 2  # build_config: 6 sampling requests, 18 pairs judged in both orders
PRICES = {"srv": {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0}}


def build(config: Path, catalog: Path) -> tuple[int, dict | None, str]:
    result = CliRunner().invoke(app, ["build", str(config), "--catalog", str(catalog), "--json"])
    out = json.loads(result.stdout) if result.exit_code == 0 else None
    return result.exit_code, out, " ".join(result.stderr.split())


def spent_in(message: str, limit: str) -> float:
    return float(re.search(rf"{limit}=[\d.e+]+ \(spent ([\d.e+]+)\)", message).group(1))


def call_tokens(catalog: Path) -> list[int]:
    """Prompt + completion tokens of every cached call."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        results = [json.loads(r[0]) for r in con.execute("SELECT result FROM llm_calls").fetchall()]
    return [r["prompt_tokens"] + sum(c["completion_tokens"] for c in r["completions"]) for r in results]


@pytest.fixture
def server():
    with policy_server() as srv:
        yield srv


@pytest.fixture
def unlimited(server, tmp_path) -> dict:
    """The same build without a budget, in its own catalog (its calls are not counted against the others)."""
    folder = tmp_path / "unlimited"
    folder.mkdir()
    code, summary, err = build(build_config(folder, server.base_url), folder / "c.duckdb")
    assert code == 0, err
    server.answered.clear()
    server.received.clear()
    return summary


def test_max_calls_is_never_exceeded_and_a_rerun_resumes_from_the_cache(server, unlimited, tmp_path):
    catalog = tmp_path / "c.duckdb"
    code, _, err = build(build_config(tmp_path, server.base_url, budget={"max_calls": 20}), catalog)
    assert code == 1
    assert "budget reached: max_calls=20 (spent 19); stopped in 'judge (pairwise)'" in err  # a request may need 2
    assert "No version was written" in err and "rerun with a higher limit" in err
    assert version_rows(catalog)["dataset_versions"] == 0 and sum(server.answered.values()) == 19

    code, summary, err = build(build_config(tmp_path, server.base_url, budget={"max_calls": 100}), catalog)
    assert code == 0, err
    st = summary["stats"]
    assert (st["cache_hits"], st["engine_calls"]) == (19, CALLS - 19)
    assert set(server.answered.values()) == {1} and len(server.answered) == CALLS  # nothing paid twice
    assert summary["content_hash"] == unlimited["content_hash"] and summary["version"] == 1


def test_max_tokens_stops_within_a_batch_of_the_limit(server, unlimited, tmp_path):
    catalog = tmp_path / "c.duckdb"
    limit = unlimited["stats"]["prompt_tokens"] + unlimited["stats"]["completion_tokens"] // 2
    code, _, err = build(build_config(tmp_path, server.base_url, budget={"max_tokens": limit}), catalog)
    assert code == 1 and "budget reached: max_tokens=" in err, err
    spent, per_call = spent_in(err, "max_tokens"), call_tokens(catalog)
    assert spent == sum(per_call) >= limit
    # Documented bound: at most one window of batches (here 1 × batch_size 2, each request maybe re-asked).
    assert spent - limit <= 2 * 2 * max(per_call)
    assert version_rows(catalog)["dataset_versions"] == 0

    code, summary, err = build(build_config(tmp_path, server.base_url), catalog)
    assert code == 0, err
    assert summary["stats"]["cache_hits"] == len(per_call) and set(server.answered.values()) == {1}
    assert summary["content_hash"] == unlimited["content_hash"]


def test_max_cost_uses_the_prices_per_engine(server, unlimited, tmp_path):
    catalog = tmp_path / "c.duckdb"
    u = unlimited["stats"]
    full_cost = (u["prompt_tokens"] * 1000 + u["completion_tokens"] * 2000) / 1e6
    budget = {"max_cost": round(full_cost / 3, 4), "prices": PRICES}
    code, _, err = build(build_config(tmp_path, server.base_url, budget=budget), catalog)
    assert code == 1 and "budget reached: max_cost=" in err, err
    assert spent_in(err, "max_cost") >= budget["max_cost"]
    assert version_rows(catalog)["dataset_versions"] == 0

    code, summary, err = build(build_config(tmp_path, server.base_url, budget={**budget, "max_cost": full_cost * 2}),
                               catalog)
    assert code == 0, err
    st = summary["stats"]
    assert st["cost"] == pytest.approx((st["prompt_tokens"] * 1000 + st["completion_tokens"] * 2000) / 1e6, abs=1e-6)
    assert 0 < st["cost"] < full_cost  # the first run's calls came from the cache, free
    assert set(server.answered.values()) == {1}


@pytest.mark.parametrize(
    "budget, message",
    [
        ({"max_cost": 1.0}, "budget.prices: max_cost needs a price for every engine; missing 'srv'"),
        ({"prices": {"other": PRICES["srv"]}}, "budget.prices: no engine named 'other'"),
        ({"max_calls": 0}, "field 'budget.max_calls': Input should be greater than or equal to 1"),
        ({"max_tokens": "lots"}, "field 'budget.max_tokens': Input should be a valid integer"),
    ],
)
def test_bad_budgets_are_config_errors(tmp_path, budget, message):
    code, _, err = build(build_config(tmp_path, "http://127.0.0.1:9/v1", budget=budget), tmp_path / "c.duckdb")
    assert code == 2 and message in err, err
    assert not (tmp_path / "c.duckdb").exists()
