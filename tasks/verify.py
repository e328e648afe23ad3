"""Answer checking with math-verify in a worker process under a hard timeout.

Numbers are compared exactly by `answers.answers_match` (GSM8K never needs more). Anything else goes to
math-verify (Hugging Face, gold parsed first), in a separate process: math-verify's own timeout is signal based
and does not work off the main thread (Prefect runs tasks in threads), and a pathological expression can hang
sympy. A check that exceeds the timeout kills its worker and is recorded as `timeout`, never as correct.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..schemas.process import CheckStatus
from .answers import AnswerCheck, extract_answer, normalize_number, answers_match


def _math_verify(gold: str, predicted: str) -> bool:
    """Runs in the worker process."""
    from math_verify import parse, verify

    return bool(verify(parse(f"${gold}$"), parse(f"${predicted}$")))


class AnswerChecker:
    """`check(solution_text, gold)` → AnswerCheck(final_answer, status). One worker, rebuilt after a timeout."""

    def __init__(self, timeout_s: float = 5.0, use_math_verify: bool = True):
        self.timeout_s = timeout_s
        self.use_math_verify = use_math_verify
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> AnswerChecker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._kill_pool()

    def check(self, solution_text: str, gold: str) -> AnswerCheck:
        final = extract_answer(solution_text)
        if final is None:
            return AnswerCheck(None, "unparseable")
        if normalize_number(final) is not None or normalize_number(gold) is not None or not self.use_math_verify:
            return AnswerCheck(final, "correct" if answers_match(final, gold) else "incorrect")
        return AnswerCheck(final, self._symbolic(final, gold))

    def _symbolic(self, final: str, gold: str) -> CheckStatus:
        if answers_match(final, gold):
            return "correct"
        if self._pool is None:
            # spawn: forking a process that runs Prefect's threads and an event loop is not safe
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
        future = self._pool.submit(_math_verify, gold, final)
        try:
            return "correct" if future.result(timeout=self.timeout_s) else "incorrect"
        except FutureTimeout:
            self._kill_pool()
            return "timeout"
        except Exception:  # math-verify raised, or the worker died: not a verdict on the answer
            self._kill_pool()
            return "error"

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.kill()  # a hung sympy call ignores polite shutdown
        pool.shutdown(wait=False, cancel_futures=True)
