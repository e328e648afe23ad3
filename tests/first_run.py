"""What the first-run and lifecycle tests share: a `prefsynth` environment as on a new machine (a brand-new
Prefect home, no Prefect setting of ours or of the test session), and the temporary Prefect servers of one home.
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


def server_processes(home: Path) -> list[int]:
    """PIDs of live (not zombie) Prefect server processes whose PREFECT_HOME is `home`."""
    wanted = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if SERVER_APP not in (entry / "cmdline").read_bytes():
                continue
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if state != "Z":
            found.append(int(entry.name))
    return found
