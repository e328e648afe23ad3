"""Fixtures of the reliability tests: one real Prefect server shared by every `prefsynth` subprocess."""

from __future__ import annotations

import pytest

from tests.servers import run_prefect_server


@pytest.fixture(scope="session")
def prefect_env(tmp_path_factory):
    """Environment for CLI subprocesses: a shared `prefect server` on 127.0.0.1 (each CLI run saves the ~10 s
    start of a temporary server), a wide terminal for rich tables."""
    with run_prefect_server(tmp_path_factory.mktemp("prefect-home")) as env:
        yield {**env, "COLUMNS": "250"}
