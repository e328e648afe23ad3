"""Progress per stage: calls, tokens, cache hits, errors, and the cost when the build prices its engines."""

import shutil
import threading
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsynth import progress
from prefsynth.cli.main import app
from prefsynth.config.load import load_config
from prefsynth.config.preference import PreferenceBuildConfig
from prefsynth.flows.preference import preference_build
from prefsynth.runtime.build import summary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.usefixtures("prefect_harness")
PRICED = """name: priced
prompts: {path: prompts.jsonl}
engines: {fake: {kind: dry_run}}
policies: [{engine: fake, n: 2, max_tokens: 16}]
judge: {engine: fake}
budget:
  prices: {fake: {input_per_mtok: 1.0, output_per_mtok: 1000.0}}
"""


class Recorder:
    def __init__(self):
        self.totals: dict[str, int] = {}
        self.counters: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.done: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def start(self, stage, total):
        self.totals[stage] = self.totals.get(stage, 0) + total  # a stage may run in chunks

    def advance(self, stage, n=1, **counters):
        with self.lock:
            self.done[stage] += n
            for k, v in counters.items():
                self.counters[stage][k] += v

    def finish(self, stage):
        pass


@pytest.fixture
def priced(tmp_path):
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path / "prompts.jsonl")
    (tmp_path / "priced.yaml").write_text(PRICED)
    return tmp_path


def recorded_build(cfg, catalog: Path) -> tuple[dict, Recorder]:
    """A build with a progress listener that records every stage's totals and counters."""
    rec = Recorder()
    progress.install(rec)
    try:
        return summary(preference_build(cfg, str(catalog))), rec
    finally:
        progress.install(None)


def test_stages_report_calls_tokens_cache_hits_and_cost(priced):
    cfg = load_config(priced / "priced.yaml", PreferenceBuildConfig)
    first, rec = recorded_build(cfg, priced / "c.duckdb")
    st = first["stats"]
    assert rec.done == rec.totals  # every stage reached its total
    assert sum(c.get("calls", 0) for c in rec.counters.values()) == st["engine_calls"]
    assert sum(c.get("tokens", 0) for c in rec.counters.values()) == st["completion_tokens"] > 0
    assert st["cost"] > 0
    assert sum(c.get("cost", 0) for c in rec.counters.values()) == pytest.approx(st["cost"])

    second, rec = recorded_build(cfg, priced / "c.duckdb")
    assert second["stats"]["engine_calls"] == 0
    assert sum(c.get("cached", 0) for c in rec.counters.values()) == second["stats"]["cache_hits"] > 0
    assert not any(c.get("cost") for c in rec.counters.values())  # cache hits are free


def test_cli_progress_shows_cost_and_quiet_shows_none(priced):
    result = CliRunner().invoke(app, ["build", str(priced / "priced.yaml"), "--catalog", str(priced / "c.duckdb")])
    assert result.exit_code == 0, result.stderr
    assert "judge (pairwise)" in result.stderr and "cost" in result.stderr and "calls" in result.stderr
    result = CliRunner().invoke(app, ["build", str(priced / "priced.yaml"), "--catalog", str(priced / "c.duckdb"), "-q"])
    assert result.exit_code == 0 and "judge (pairwise)" not in result.stderr


def test_judging_in_chunks_gives_the_same_version_and_one_growing_bar(priced, monkeypatch):
    from prefsynth.tasks.judge import single

    cfg = load_config(priced / "priced.yaml", PreferenceBuildConfig)
    whole = summary(preference_build(cfg, str(priced / "whole.duckdb")))
    monkeypatch.setattr(single, "CHUNK_REQUESTS", 4)  # with batch_size 32: one batch (16 pairs) per chunk
    cfg = cfg.model_copy(update={"batch_size": 2})  # 2 requests per batch → chunks of 2 pairs
    chunked, rec = recorded_build(cfg, priced / "chunked.duckdb")
    assert chunked["content_hash"] == whole["content_hash"]
    assert chunked["stats"]["engine_calls"] == whole["stats"]["engine_calls"]
    assert rec.totals["judge (pairwise)"] == rec.done["judge (pairwise)"] == 2 * whole["stats"]["pairs"]
