"""Rich progress bars for the CLI: one bar per stage with counts, ETA, calls, tokens, cache hits, errors and cost."""

from __future__ import annotations

import threading
from collections import defaultdict

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RichProgress:
    """A `prefsynth.progress.Listener` drawing on stderr (stdout stays clean for --json)."""

    def __init__(self, console: Console | None = None):
        self.progress = Progress(
            TextColumn("[bold]{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._counters: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(int))
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def start(self, stage: str, total: int) -> None:
        """A stage started again (a judging stage runs in chunks) adds its work to the same bar."""
        with self._lock:
            if stage in self._tasks:
                task = self._tasks[stage]
                done = next(t for t in self.progress.tasks if t.id == task)
                self.progress.update(task, total=(done.total or 0) + total)
            else:
                self._tasks[stage] = self.progress.add_task(stage, total=total, info="")

    def advance(self, stage: str, n: int = 1, **counters: float) -> None:
        with self._lock:
            if stage not in self._tasks:
                return
            c = self._counters[stage]
            for key, value in counters.items():
                c[key] += value
            info = "  ".join(f"{k} {_fmt(v)}" for k, v in c.items() if v)
            self.progress.update(self._tasks[stage], advance=n, info=info)

    def finish(self, stage: str) -> None:
        with self._lock:
            self.progress.refresh()


def _fmt(v: float) -> str:
    """Counts as integers; a cost (a float, in the unit of `budget.prices`) with 4 significant digits."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)
