"""Ctrl-C during a flow command: stop within seconds, exit 130, say in one line what that means.

On SIGINT, Python raises KeyboardInterrupt in the main thread, but Prefect's flow engine then waits for every task
already running in its thread pool (a batch of engine calls can take minutes) before it lets the exception out.
So the first Ctrl-C raises KeyboardInterrupt (Prefect marks the flow run Crashed if it gets there in time) and
starts a short grace period; when it ends, or at a second Ctrl-C, the process reports and exits at once. Engine
calls in flight are abandoned: a rerun asks again whatever is not in the cache yet. The catalog is left as after
a kill, which the reliability tests pin (no partial version, no duplicate rows); a version is one transaction.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

GRACE_S = 3.0
MESSAGE = "interrupted: no dataset version was written; run the same command again to resume from the cache"
_once = threading.Lock()


def exit_interrupted() -> None:
    """Print the one line, ask the temporary Prefect server to stop, exit 130 now (once, from any thread)."""
    from ..prefect_env import stop_temporary_servers
    from .app import err

    if not _once.acquire(blocking=False):
        return  # another thread is already exiting
    if err.is_terminal:  # the progress bars may still be live: leave their line, give the cursor back
        err.show_cursor(True)
        err.print()
    err.print(MESSAGE, highlight=False, soft_wrap=True)
    try:
        stop_temporary_servers()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


def _on_sigint(signum, frame) -> None:
    if getattr(_on_sigint, "seen", False):
        exit_interrupted()  # second Ctrl-C: no more waiting
    _on_sigint.seen = True  # type: ignore[attr-defined]
    timer = threading.Timer(GRACE_S, exit_interrupted)
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


@contextmanager
def exit_on_interrupt() -> Iterator[None]:
    """Within: Ctrl-C ends the process within GRACE_S seconds with exit 130 and MESSAGE (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    _on_sigint.seen = False  # type: ignore[attr-defined]  # each flow command gets its own grace period
    try:
        yield
    except KeyboardInterrupt:
        exit_interrupted()
    finally:
        signal.signal(signal.SIGINT, previous)
