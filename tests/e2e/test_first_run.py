"""A first run prints no alarming output (issue 14 item 1), and prefsynth's Prefect defaults never override a
setting the user made (prefsynth/prefect_env.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prefsynth.prefect_env import DEFAULTS, apply_defaults
from tests.first_run import first_run_env

PREFSYNTH = str(Path(sys.executable).parent / "prefsynth")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_a_build_on_a_brand_new_prefect_home_prints_no_error_and_no_traceback(tmp_path):
    """On a fresh home the temporary server's telemetry heartbeat used to log `ERROR … database is locked` with
    two chained tracebacks (and, without network, `Failed to send telemetry`)."""
    shutil.copy(EXAMPLES / "dry_run.yaml", tmp_path)
    shutil.copy(EXAMPLES / "prompts.jsonl", tmp_path)
    home = tmp_path / "prefect-home"
    proc = subprocess.run([PREFSYNTH, "build", "dry_run.yaml", "--catalog", "c.duckdb", "--json"], cwd=tmp_path,
                          env=first_run_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == 1
    assert "ERROR" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_defaults_apply_only_where_the_user_set_nothing(tmp_path):
    env = {"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_LOGGING_LEVEL": "DEBUG"}
    applied = apply_defaults(env, cwd=tmp_path)
    assert env["PREFECT_LOGGING_LEVEL"] == "DEBUG" and "PREFECT_LOGGING_LEVEL" not in applied
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    assert env["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "false"
    assert env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "90"


def test_a_setting_in_the_active_profile_or_a_settings_file_wins(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "mine"\n[profiles.mine]\nPREFECT_SERVER_ANALYTICS_ENABLED = "true"\n'
        '[profiles.other]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n')
    (tmp_path / "prefect.toml").write_text("[server.services.triggers]\nenabled = true\n")
    (tmp_path / "pyproject.toml").write_text("[tool.prefect.logging]\nlevel = 'INFO'\n")
    (tmp_path / ".env").write_text("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=30\n")
    env = {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "0"}
    applied = apply_defaults(env, cwd=tmp_path)
    assert applied == {}
    assert env["DO_NOT_TRACK"] == "0"
    # another profile's settings do not count
    env = {"PREFECT_HOME": str(home), "PREFECT_PROFILE": "other"}
    applied = apply_defaults(env, cwd=tmp_path / "elsewhere")
    assert "PREFECT_SERVER_ANALYTICS_ENABLED" in applied and "PREFECT_LOGGING_LEVEL" not in applied
    assert "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED" in applied  # elsewhere: no prefect.toml there


def test_every_default_is_a_real_prefect_setting(tmp_path):
    """A misspelt setting is silently ignored by Prefect: each default must come back from Prefect's settings."""
    script = (
        "from prefsynth.prefect_env import DEFAULTS, apply_defaults\n"
        "apply_defaults()\n"
        "from prefect.settings import get_current_settings\n"
        "for name, path, value in DEFAULTS:\n"
        "    obj = get_current_settings()\n"
        "    for key in path: obj = getattr(obj, key)\n"
        "    print(name, str(obj).lower() == value.lower())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env=first_run_env(tmp_path / "home"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [w for name, _, _ in DEFAULTS for w in (name, "True")]
