"""prefect.yaml for real: a `prefect server`, `prefect deploy`, a deployment run executed by a process worker."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.servers import run_prefect_server

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    extra = {"PREFSYNTH_PROJECT_DIR": str(ROOT), "COLUMNS": "250"}  # rich tables are cut to the terminal width
    with run_prefect_server(home, extra_env=extra) as env:
        yield env


def prefect(env, *args, timeout=180):
    result = subprocess.run([PREFECT, "--no-prompt", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_deploy_and_run_the_nightly_build_with_a_process_worker(prefect_env, tmp_path):
    prefect(prefect_env, "work-pool", "create", "local", "--type", "process")
    prefect(prefect_env, "deploy", "--all")
    listed = prefect(prefect_env, "deployment", "ls")
    assert "nightly-quickstart" in listed and "weekly-gsm8k-omegaprm" in listed

    (tmp_path / "p.jsonl").write_text('{"prompt": "First question?"}\n{"prompt": "Second question?"}\n')
    catalog = tmp_path / "scheduled.duckdb"
    params = {  # no catalog_path, as in prefect.yaml: the run writes to the config's catalog, as the CLI would
        "config": {
            "name": "scheduled", "prompts": {"path": str(tmp_path / "p.jsonl")}, "catalog": str(catalog),
            "engines": {"fake": {"kind": "dry_run"}},
            # the server validates parameters against the flow's JSON schema: union members name their kind
            "policies": [{"kind": "sample", "engine": "fake", "n": 3, "max_tokens": 16}],
            "judge": {"kind": "pairwise", "engine": "fake"}, "incremental": "append",
        },
    }
    prefect(prefect_env, "deployment", "run", "preference-build/nightly-quickstart", "--params", json.dumps(params))
    prefect(prefect_env, "worker", "start", "--pool", "local", "--run-once", timeout=300)

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        name, version, rows, flow_run_id = con.execute(
            "SELECT name, version, row_count, flow_run_id FROM dataset_versions").fetchone()
    finally:
        con.close()
    assert (name, version) == ("scheduled", 1) and rows > 0 and flow_run_id
