"""Quiet Prefect's own report of a flow failure that the CLI explains in one line.

When a flow raises, Prefect logs "Encountered exception during execution" with a traceback and then "Finished in
state Failed(...)". For failures that are the user's to fix (a busy catalog, a bad input, a budget reached) the
CLI prints one clear line instead; the flow run's state in Prefect keeps the message. Unexpected exceptions are
not filtered.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

_LOGGER = "prefect.flow_runs"


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


@contextmanager
def quiet_expected_failures(expected: tuple[type[BaseException], ...]) -> Iterator[None]:
    flt = ExpectedFailures(expected)
    logger = logging.getLogger(_LOGGER)
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)
