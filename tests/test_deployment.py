"""prefect.yaml for real: a `prefect server`, `prefect deploy`, a deployment run executed by a process worker."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).parent / "prefect")


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFSYNTH_PROJECT_DIR": str(ROOT),
        "COLUMNS": "250",  # rich tables are cut to the terminal width
    }
    log = (home / "server.log").open("w")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(env["PREFECT_API_URL"], server, home / "server.log")
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_healthy(api: str, server: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy after {timeout} s:\n{log.read_text()[-2000:]}")


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
    params = {
        "catalog_path": str(catalog),
        "config": {
            "name": "scheduled", "prompts": {"path": str(tmp_path / "p.jsonl")},
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
