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


# Issue 12 item 1: a numeric gold used to stop at the exact compare, so these were "incorrect".
ISSUE_CASES = [
    ("So \\boxed{\\frac12}", "\\frac{1}{2}"),
    ("So \\boxed{5\\text{ cm}}", "5"),
    ("So \\boxed{50\\%}", "50"),
    ("So \\boxed{x=5}", "5"),
    ("The answer is \u22123.", "-3"),
]


def test_issue_cases_are_correct():
    with AnswerChecker(timeout_s=60) as checker:
        for solution, gold in ISSUE_CASES:
            assert checker.check(solution, gold).status == "correct", solution


def test_a_numeric_gold_falls_back_to_math_verify_when_exact_compare_fails():
    with AnswerChecker(timeout_s=60) as checker:
        assert checker.check(r"\boxed{2^{3}}", "8").status == "correct"
        assert checker.check(r"\boxed{\sqrt{16}}", "4").status == "correct"
        assert checker.check(r"\boxed{2^{3}}", "9").status == "incorrect"
        assert checker.check("The answer is 7.", "8").status == "incorrect"
        assert checker._pool is not None  # only the non-numeric predictions went to the worker


def test_a_plain_number_against_a_plain_number_never_needs_the_worker():
    with AnswerChecker() as checker:
        assert checker.check("The answer is 7.", "8").status == "incorrect"
        assert checker.check("\\boxed{7}.\n\nThe answer is 8.", "8").status == "correct"
        assert checker._pool is None


def _raise(gold, predicted):
    raise RuntimeError("sympy blew up")


def test_a_checker_error_is_error_not_incorrect(monkeypatch):
    monkeypatch.setattr(verify, "_math_verify", _raise)
    with AnswerChecker(timeout_s=30) as checker:
        assert checker.check(r"\boxed{2^{3}}", "8").status == "error"


def test_a_numeric_gold_timeout_is_a_timeout(monkeypatch):
    monkeypatch.setattr(verify, "_math_verify", _hang)
    with AnswerChecker(timeout_s=1.0) as checker:
        assert checker.check(r"\boxed{2^{3}}", "8").status == "timeout"
