"""A pause point for crash tests: hold a build at a named moment so a test can SIGKILL it exactly there.

Off unless the environment asks for it, so it is harmless in normal runs (one dict lookup per call):

    PREFSYNTH_TEST_PAUSE_AT=commit       the point to pause at (today: `commit` — in `BuildContext.commit`
                                          (runtime/build.py), inside the version's transaction, after every
                                          row is written and before COMMIT)
    PREFSYNTH_TEST_PAUSE_MARKER=FILE      written (with this process's PID) when the pause begins
    PREFSYNTH_TEST_PAUSE_S=30             how long to pause; the build then goes on as usual

Used by tests/reliability/ to kill a build in the middle of its final commit.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def pause_point(name: str) -> None:
    if os.environ.get("PREFSYNTH_TEST_PAUSE_AT") != name:
        return
    marker = os.environ.get("PREFSYNTH_TEST_PAUSE_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("PREFSYNTH_TEST_PAUSE_S", "30")))
