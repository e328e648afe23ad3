"""Stages that overlap: a build's items go through all of their stages in small groups, many groups at once.

A group of prompts is sampled, then judged, while other groups are still sampling: nobody waits for the slowest
request of a whole stage, and the engine's scheduler (engines/scheduler.py) keeps its server full with whatever
any group asks. The groups run in threads of the flow process (they only wait on replies); the results come back
in the order of the items, so a build gives the same records whatever order the replies came in.

Used when every engine of a build streams (a server engine): in-process engines keep stage-by-stage batches,
which is what keeps a local model busy (and what Ray workers get).
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from .budget import BuildStopped

T = TypeVar("T")
R = TypeVar("R")

MAX_GROUPS = 1024  # groups of a build (fewer, bigger groups for big builds: each group costs a few cache look-ups)
MAX_WORKERS = 256


def workers_for(concurrency: int) -> int:
    """Groups in progress at once: as many as the engines' slots, so even the first stage fills them."""
    return max(8, min(MAX_WORKERS, concurrency))


def map_groups(fn: Callable[[Sequence[T]], R], items: Sequence[T], workers: int, runner) -> list[R]:
    """`fn` of consecutive groups of `items`, `workers` groups at once; the results in the order of the groups.

    When a group fails, nothing more is sent (`runner.stop`), the groups in flight land, and the first failure
    (the build's stop reason if it has one) is raised.
    """
    size = max(1, -(-len(items) // MAX_GROUPS))
    groups = [items[i : i + size] for i in range(0, len(items), size)]
    if len(groups) <= 1:
        return [fn(g) for g in groups]
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=min(workers, len(groups)), thread_name_prefix="prefsynth-group") as pool:
        # each group runs in a copy of this context: Prefect's flow run (logs) and anything else set here
        futures = [pool.submit(contextvars.copy_context().run, fn, g) for g in groups]
        try:
            return [f.result() for f in futures]
        except BaseException as exc:  # Ctrl-C included: stop sending, let what is in flight land and be saved
            failure = exc
            if runner.stop is None:
                runner.stop = exc if isinstance(exc, BuildStopped) else BuildStopped(f"stopped: {exc!r}")
            for f in futures:
                f.cancel()
    # here every group has ended: the stop reason reports the final spending
    if isinstance(failure, BuildStopped):
        raise runner.final_stop() from None
    raise failure


def group_mapper(runner, items: int) -> Callable | None:
    """`map_groups` bound to the build's runner when its stages should overlap (every engine streams and there
    is more than one item), else None (one pass, stage by stage)."""
    if not runner.all_stream() or items < 2:
        return None
    return lambda fn, group_items: map_groups(fn, group_items, workers_for(runner.concurrency()), runner)
