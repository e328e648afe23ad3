"""What the first-run and lifecycle tests share: a `prefsynth` environment as on a new machine (a brand-new
Prefect home, no Prefect setting of ours or of the test session), and the temporary Prefect servers a CLI process
started.
"""

from __future__ import annotations

import os
from pathlib import Path

SERVER_APP = b"prefect.server.api.server:create_app"


def first_run_env(home: Path) -> dict[str, str]:
    """The environment of a user who never ran Prefect: no PREFECT_* (the test session sets some), no DO_NOT_TRACK,
    a new PREFECT_HOME, no PREFECT_API_URL (so the CLI starts Prefect's temporary server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
    return {**env, "PREFECT_HOME": str(home), "COLUMNS": "250"}


def child_servers(parent: int) -> list[int]:
    """PIDs of the Prefect server processes that `parent` started (its children running the server app)."""
    children = []
    for task in Path(f"/proc/{parent}/task").glob("*/children"):
        try:
            children += [int(pid) for pid in task.read_text().split()]
        except OSError:
            continue
    return [pid for pid in children if is_server(pid)]


def is_server(pid: int) -> bool:
    """True while `pid` is a live (not zombie) Prefect server process."""
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z" and SERVER_APP in (proc / "cmdline").read_bytes()
    except OSError:
        return False  # gone
