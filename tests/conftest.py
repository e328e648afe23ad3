"""Test session setup: an isolated Prefect home and one Prefect test harness for the whole session."""

from __future__ import annotations

import os
import tempfile

_PREFECT_HOME = tempfile.mkdtemp(prefix="prefsynth-prefect-")
os.environ.update(
    {
        "PREFECT_HOME": _PREFECT_HOME,
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # datasets caches loaded folders by name ("v1"): keep its cache out of $HOME and per session
        "HF_DATASETS_CACHE": tempfile.mkdtemp(prefix="prefsynth-hf-"),
        "HF_HUB_OFFLINE": "1",
    }
)
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402

pytest_plugins = ["tests.servers", "tests.sim"]  # fixtures: llama_server, fault_server; sim_setup


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server shared by every test that runs a flow (starting one costs ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def engines():
    """Engine objects this test serves to the builds it starts, through the CLI or a flow:
    `engines.serve(config, engine)` (tasks/generate.py `serving`). Scoped to the test: every other build makes
    its own engines from their configs, and closes them when it ends."""
    from prefsynth.tasks.generate import EngineSet, serving

    with serving(EngineSet()) as served:
        yield served
