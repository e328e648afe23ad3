"""A `prefsynth build` that is stopped — SIGKILL or Ctrl-C — leaves nothing running and says what happened
(issue 14 items 3 and 4).

Each build runs as a subprocess of the real CLI on a brand-new Prefect home and no PREFECT_API_URL, so it starts
Prefect's own temporary server (`uvicorn … prefect.server.api.server:create_app`), as on a user's machine. The
model is the fault server of tests/servers.py holding every request after the sampling calls, so the build is
stopped while it waits on the network, with the sampling replies already in the cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from prefsynth.cli.interrupt import MESSAGE
from tests.first_run import child_servers, first_run_env, is_server
from tests.reliability.support import PREFSYNTH, build_config, finish, policy_server, run, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

SAMPLING = 6  # build_config: one request per prompt


def start_in_own_session(env: dict, args: list[str], out_dir: Path) -> subprocess.Popen:
    """Like support.start, in a new session: its process group is the build and what it starts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([PREFSYNTH, *args], env=env, stdout=(out_dir / "stdout").open("wb"),
                            stderr=(out_dir / "stderr").open("wb"), start_new_session=True)
    proc.out_dir = out_dir  # type: ignore[attr-defined]
    return proc


@pytest.fixture
def cleanup():
    """Whatever a failing test leaves behind: its build's process group and the servers that build started."""
    left: list[tuple[subprocess.Popen, list[int]]] = []
    yield left
    for proc, servers in left:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in servers:
            if is_server(pid):
                os.kill(pid, signal.SIGKILL)


def started_build(tmp: Path, server, cleanup: list):
    """A build on a fresh Prefect home, in its own session (like a shell job), waiting on a held request; returns
    it with its temporary Prefect server's PID(s), its environment and arguments."""
    config = build_config(tmp, server.base_url)
    env = first_run_env(tmp / "prefect-home")
    args = ["build", str(config), "--catalog", str(tmp / "c.duckdb"), "--json", "--quiet"]
    proc = start_in_own_session(env, args, tmp / "stopped")
    servers: list[int] = []
    cleanup.append((proc, servers))
    wait_until(lambda: server.held > 0, 180, "a held request", proc)
    servers += child_servers(proc.pid)
    assert servers, "the build runs Prefect's temporary server"
    return proc, servers, env, args


def test_a_killed_build_leaves_no_prefect_server_running(tmp_path, cleanup):
    with policy_server(hold_after=SAMPLING) as server:
        proc, servers, _, _ = started_build(tmp_path, server, cleanup)
        proc.kill()
        assert finish(proc)[0] == -signal.SIGKILL
        wait_until(lambda: not any(map(is_server, servers)), 15, "the server to exit after its parent's SIGKILL")


def test_ctrl_c_stops_a_build_within_seconds_with_one_line_and_the_rerun_resumes(tmp_path, cleanup):
    with policy_server(hold_after=SAMPLING) as server:
        proc, servers, env, args = started_build(tmp_path, server, cleanup)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole foreground group
        sent = time.monotonic()
        code, out, err = finish(proc, timeout=60)
        stopped_after = time.monotonic() - sent
        assert code == 130, err
        assert stopped_after < 15, f"took {stopped_after:.1f} s"
        assert [line for line in err.splitlines() if line.strip()] == [MESSAGE]
        assert out == ""
        wait_until(lambda: not any(map(is_server, servers)), 15, "the temporary server to stop")

        server.hold_after = None
        code, out, err = run(env, *args, out_dir=tmp_path / "rerun")
        assert code == 0, err
        stats = json.loads(out)["stats"]
        assert stats["cache_hits"] >= SAMPLING  # the sampling replies were not asked again
        assert json.loads(out)["version"] == 1
