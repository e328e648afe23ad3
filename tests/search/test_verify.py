"""math-verify in a worker process with a hard timeout; numbers never leave the main process."""

import time

from prefsynth.tasks import verify
from prefsynth.tasks.verify import AnswerChecker


def test_numbers_are_exact_and_not_substrings():
    with AnswerChecker() as checker:
        assert checker.check("so 6 * 7 = 42.\n#### 42", "42").status == "correct"
        assert checker.check("The answer is 42.", "4").status == "incorrect"
        assert checker.check("I don't know", "4") == (None, "unparseable")
        assert checker._pool is None  # no worker needed for plain numbers


def test_symbolic_answers_use_math_verify():
    with AnswerChecker(timeout_s=60) as checker:
        assert checker.check(r"The answer is \boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}").status == "correct"
        assert checker.check(r"\boxed{x^2}", "x^3").status == "incorrect"


def _hang(gold, predicted):
    time.sleep(60)
    return True


def test_a_hung_check_is_a_timeout_and_the_worker_is_replaced(monkeypatch):
    monkeypatch.setattr(verify, "_math_verify", _hang)
    with AnswerChecker(timeout_s=1.0) as checker:
        start = time.perf_counter()
        assert checker.check(r"\boxed{x+1}", "y").status == "timeout"
        assert time.perf_counter() - start < 20
        assert checker._pool is None
