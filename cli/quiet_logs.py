"""Quiet Prefect's own report of a flow failure that the CLI explains in one line.

When a flow raises, Prefect logs "Encountered exception during execution" with a traceback and then "Finished in
state Failed(...)". For failures that are the user's to fix (a busy catalog, a bad input, a budget reached) the
CLI prints one clear line instead; the flow run's state in Prefect keeps the message. Likewise for Ctrl-C:
Prefect logs "Crash detected! Execution was aborted by an interrupt signal." (ERROR) for the flow run and its
running task runs, where the CLI says in one line that nothing was written (cli/interrupt.py).
Unexpected exceptions are not filtered.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

_FLOW_LOGGER = "prefect.flow_runs"
_TASK_LOGGER = "prefect.task_runs"
_INTERRUPTED = "Crash detected! Execution was aborted by an interrupt signal"


class ExpectedFailures(logging.Filter):
    def __init__(self, expected: tuple[type[BaseException], ...]):
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            return not isinstance(exc, self.expected)
        message = record.getMessage()  # "Finished in state Failed('... TooManyErrors: ...')" has no exc_info
        return not any(f"{t.__name__}:" in message or f"{t.__name__}(" in message for t in self.expected)


class Interrupted(logging.Filter):
    """Drops Prefect's crash report of a run stopped by Ctrl-C (the CLI reports it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_INTERRUPTED)


@contextmanager
def quiet_expected_failures(expected: tuple[type[BaseException], ...]) -> Iterator[None]:
    filters = [(logging.getLogger(_FLOW_LOGGER), ExpectedFailures(expected))]
    filters += [(logging.getLogger(name), Interrupted()) for name in (_FLOW_LOGGER, _TASK_LOGGER)]
    for logger, flt in filters:
        logger.addFilter(flt)
    try:
        yield
    finally:
        for logger, flt in filters:
            logger.removeFilter(flt)
