"""Answer checking with math-verify in a worker process under a hard timeout.

First the exact compare of `answers.answers_match` (numbers as exact fractions after normalisation: units, `%`,
`x =`, `**18**`, U+2212 ...). When it fails, a plain number against a numeric gold is a verdict (GSM8K never needs
more); anything else — `\\boxed{2^{3}}` against `8` as much as `\\frac{\\sqrt2}{2}` against `\\frac{1}{\\sqrt2}` —
goes to math-verify (Hugging Face, gold parsed first), in a separate process: math-verify's own timeout is signal
based and does not work off the main thread (Prefect runs tasks in threads), and a pathological expression can
hang sympy. A check that exceeds the timeout kills its worker and is recorded as `timeout`; one where math-verify
raises or the worker dies is `error`. Neither is ever `correct` or `incorrect`: unknown is not wrong.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..schemas.process import CheckStatus
from .answers import AnswerCheck, answers_match, extract_answer, is_plain_number, normalize_number


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
        """The solution's final answer (the last answer marker, `answers.extract_answer`) and its status:
        `correct`/`incorrect`, `unparseable` (no answer), or `timeout`/`error` (math-verify gave no verdict)."""
        final = extract_answer(solution_text)
        if final is None:
            return AnswerCheck(None, "unparseable")
        if answers_match(final, gold):
            return AnswerCheck(final, "correct")
        exact_decides = is_plain_number(final) and normalize_number(gold) is not None
        if exact_decides or not self.use_math_verify:
            return AnswerCheck(final, "incorrect")
        return AnswerCheck(final, self._symbolic(final, gold))

    def _symbolic(self, final: str, gold: str) -> CheckStatus:
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
