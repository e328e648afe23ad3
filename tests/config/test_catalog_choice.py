"""The catalog a run writes to is decided in one place (config/base.py:resolve_catalog), for the CLI and for a
flow run without a `catalog_path` — a Prefect deployment's — alike (issue 15 item 4)."""

from pathlib import Path

import pytest
import yaml

from prefsynth.config.preference import PreferenceBuildConfig
from prefsynth.flows.preference import preference_build

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_without_a_catalog_path_writes_where_the_cli_would(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the old default ./prefsynth.duckdb would appear
    monkeypatch.delenv("PREFSYNTH_CATALOG", raising=False)
    (tmp_path / "p.jsonl").write_text('{"prompt": "First question?"}\n{"prompt": "Second question?"}\n')
    config = PreferenceBuildConfig.model_validate({
        "name": "where", "prompts": {"path": str(tmp_path / "p.jsonl")}, "engines": {"fake": {"kind": "dry_run"}},
        "policies": [{"engine": "fake", "n": 2, "max_tokens": 16}], "judge": {"engine": "fake"},
        "catalog": str(tmp_path / "configured.duckdb"),
    })
    preference_build(config)  # the config's catalog
    assert (tmp_path / "configured.duckdb").is_file() and not (tmp_path / "prefsynth.duckdb").exists()

    monkeypatch.setenv("PREFSYNTH_CATALOG", str(tmp_path / "env.duckdb"))
    preference_build(config.model_copy(update={"catalog": None}))  # no catalog in the config: the environment's
    assert (tmp_path / "env.duckdb").is_file() and not (tmp_path / "prefsynth.duckdb").exists()


def test_deployments_leave_the_catalog_to_the_config():
    """A `catalog_path` parameter in prefect.yaml would override the config's `catalog` and $PREFSYNTH_CATALOG in
    every run of the deployment."""
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in spec["deployments"]:
        assert "catalog_path" not in deployment["parameters"], deployment["name"]
