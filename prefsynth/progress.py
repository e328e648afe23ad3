"""A process-local progress hub: stages report work done; the CLI (or nothing) listens.

Lives outside the layers so any of them may report without importing the CLI. Reporting is a no-op until a
listener is installed, and listeners must be thread-safe (tasks run in a thread pool).
"""

from __future__ import annotations

from typing import Protocol


class Listener(Protocol):
    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, n: int = 1, **counters: float) -> None: ...

    def finish(self, stage: str) -> None: ...


_listener: Listener | None = None


def install(listener: Listener | None) -> None:
    global _listener
    _listener = listener


def start(stage: str, total: int) -> None:
    if _listener is not None:
        _listener.start(stage, total)


def advance(stage: str, n: int = 1, **counters: float) -> None:
    if _listener is not None:
        _listener.advance(stage, n, **counters)


def finish(stage: str) -> None:
    if _listener is not None:
        _listener.finish(stage)
