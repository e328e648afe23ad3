"""Deciding whether a solution prefix is still correct from a few Monte Carlo rollouts.

The paper's rule (Luo et al. 2024, arXiv:2406.06592) is MC > 0: one correct continuation out of k says the
prefix is correct. Real policies make errors that cancel: a prefix that already holds an error still has a
few lucky correct completions, and a correct prefix with many steps left has few correct ones. Both make MC > 0
a noisy test, and the binary search then lands late or early.

`sequential` mode replaces it with Wald's sequential probability ratio test (SPRT) between two simple
hypotheses about the prefix's value v (the probability that a continuation reaches the gold answer):
- H_ok: the prefix is correct, v = p_ok, predicted from the last prefix known to be correct on the same path:
  a correct prefix with r steps left is worth about q^r, and q is read off that prefix (v_lo = q^r_lo), so
  p_ok = v_lo^(r / r_lo) — fewer steps left, higher value.
- H_err: the prefix holds an error, v = p_err (`error_value`: the rate of lucky completions).
After c correct of n known rollouts, LLR = c ln(p_ok/p_err) + (n-c) ln((1-p_ok)/(1-p_err)). The prefix is
correct once LLR >= ln((1-b)/a), wrong once LLR <= ln(b/(1-a)) (a = b = `test_error_rate`); otherwise more
rollouts are drawn, up to `max_k`, and at that cap the likelier hypothesis (LLR >= 0) decides. So a prefix whose
rollouts are all wrong while many steps remain (p_ok small: weak evidence) draws more before it is called
wrong, and sampling stops as soon as the evidence is decisive (often at the first correct rollouts).

Wilson score intervals (Wilson 1927) of each MC value are exported so a trainer can weigh a label by how many
rollouts stand behind it.
"""

from __future__ import annotations

import math
from typing import Literal

Verdict = Literal["correct", "error"]
_Z95 = 1.959964


def wilson(n_correct: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion n_correct / n (n >= 1)."""
    p = n_correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def predicted_value(lo_value: float, lo_steps_left: int, steps_left: int, p_err: float) -> float:
    """p_ok: the value a correct prefix with `steps_left` steps left should have, given that the last known
    correct prefix on the path had value `lo_value` with `lo_steps_left` left. Kept in [2 p_err, 0.99] so the
    two hypotheses stay apart."""
    if lo_value <= 0 or lo_steps_left <= 0:
        value = lo_value
    else:
        value = lo_value ** (steps_left / lo_steps_left)
    return min(0.99, max(2 * p_err, value))


def log_likelihood_ratio(n_correct: int, n: int, p_ok: float, p_err: float) -> float:
    """ln P(c of n | v = p_ok) / P(c of n | v = p_err)."""
    return n_correct * math.log(p_ok / p_err) + (n - n_correct) * math.log((1 - p_ok) / (1 - p_err))


def sprt_verdict(n_correct: int, n: int, p_ok: float, p_err: float, error_rate: float,
                 final: bool) -> Verdict | None:
    """Correct / error once the SPRT bound is crossed; None to draw more. `final` (no more rollouts may be
    drawn): the likelier hypothesis decides."""
    llr = log_likelihood_ratio(n_correct, n, p_ok, p_err)
    upper = math.log((1 - error_rate) / error_rate)
    if llr >= upper:
        return "correct"
    if llr <= -upper:
        return "error"
    if final:
        return "correct" if llr >= 0 else "error"
    return None


def mc_verdict(n_correct: int) -> Verdict:
    """The paper's rule: one correct continuation makes the prefix correct."""
    return "correct" if n_correct > 0 else "error"
