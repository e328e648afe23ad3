"""A real local Ray cluster on 127.0.0.1 for scale-out tests: `ray start --head --block`, stopped at the end.

Ray replaces a loopback `--node-ip-address` by the machine's reachable address unless it runs in single-machine
mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which also applies on Linux); in that mode every Ray server listens on
127.0.0.1. Token authentication is on (Ray's default) with a token made for this cluster and handed to the
cluster and this process through RAY_AUTH_TOKEN, so nothing is written to ~/.ray. `--block` keeps `ray start` in
the foreground: terminating it stops every process of the cluster (no `ray stop`, which would stop any Ray on
the machine).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port

READY_LINE = "Ray runtime started."


def ray_env() -> dict[str, str]:
    """What the cluster and every driver that joins it need in their environment."""
    return {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}


@contextmanager
def run_ray_cluster(env: dict[str, str], num_cpus: int = 2, startup_timeout_s: float = 120.0) -> Iterator[str]:
    """Yields the cluster address (127.0.0.1:PORT) to pass as `--ray-address`."""
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths must fit in 107 bytes
    ray = str(Path(sys.executable).with_name("ray"))
    cmd = [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
           f"--num-cpus={num_cpus}", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats",
           f"--temp-dir={temp_dir}", f"--ray-client-server-port={free_port()}",
           f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}"]
    log_path = Path(temp_dir) / "ray-start.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                                start_new_session=True)
    try:
        _wait_ready(proc, log_path, startup_timeout_s)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if READY_LINE in text:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.5)
    raise TimeoutError(f"Ray cluster not ready after {timeout_s:g}s")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to `ray start --block` stops its cluster; its process group is killed if that hangs."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
