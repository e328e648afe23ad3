"""Agreement statistics: hand-computed values, then cross-checked against reference implementations."""

import math
import random

import pytest

from prefsynth.tasks.judge.agreement import cohen_kappa, fleiss_kappa, kendall_tau_b, krippendorff_alpha

# Units × raters; None = the juror's reply did not parse. Worked by hand in the comments of each test.
MISSING = [[1, 1, None], [1, 2, 2], [None, 3, 3], [2, None, None]]


def test_fleiss_kappa_by_hand():
    # P_i = 1, 1/3, 1 → P̄ = 7/9; p_a = 5/9, p_b = 4/9 → P_e = 41/81; κ = (63 − 41) / (81 − 41) = 22/40
    assert fleiss_kappa([["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"]]) == pytest.approx(0.55)
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) is None  # everyone always says "a": chance agreement is 1
    with pytest.raises(ValueError):
        fleiss_kappa([["a", "b"], ["a"]])


def test_krippendorff_alpha_nominal_with_missing_by_hand():
    # Coincidences: o11 = 2, o12 = o21 = 1, o22 = 1, o33 = 2 (unit 4 has one value: not pairable); n = 7,
    # n1 = 3, n2 = 2, n3 = 2. D_o = 2/7; D_e = (12 + 12 + 8) / 42 → α = 1 − 12/32 = 0.625
    assert krippendorff_alpha(MISSING, "nominal") == pytest.approx(0.625)


def test_krippendorff_alpha_interval_with_missing_by_hand():
    # δ²(1,2) = δ²(2,3) = 1, δ²(1,3) = 4. D_o = 2/7; D_e = (2·6·1 + 2·6·4 + 2·4·1) / 42 = 68/42 → α = 1 − 12/68
    assert krippendorff_alpha(MISSING, "interval") == pytest.approx(56 / 68)


def test_krippendorff_alpha_degenerate_cases():
    assert krippendorff_alpha([[1, None], [None, 2]]) is None  # nothing pairable
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # no variation at all
    assert krippendorff_alpha([[1, 1], [2, 2], [0, 0]], "interval") == pytest.approx(1.0)


def test_cohen_kappa_by_hand():
    # p_o = 3/5; p_e = (2·2 + 2·3 + 1·0) / 25 = 0.4 → κ = 0.2 / 0.6
    a = ["A>B", "A>B", "B>A", "B>A", "tie"]
    b = ["A>B", "B>A", "B>A", "B>A", "A>B"]
    assert cohen_kappa(a, b) == pytest.approx(1 / 3)
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # one discordant pair of six
    # C = 4, D = 0, one pair tied in x only, one in y only → 4 / √(5 · 5)
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert kendall_tau_b([1, 2], [2, 1]) == -1.0
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None


def _random_units(rng: random.Random, n_units: int, n_raters: int, values, p_missing: float):
    return [[None if rng.random() < p_missing else rng.choice(values) for _ in range(n_raters)] for _ in range(n_units)]


@pytest.mark.parametrize("seed", range(5))
def test_krippendorff_alpha_matches_the_krippendorff_package(seed):
    import krippendorff
    import numpy as np

    rng = random.Random(seed)
    units = _random_units(rng, 40, 4, [-2, -1, 0, 1, 2], 0.25)
    data = np.array([[np.nan if v is None else v for v in u] for u in units], dtype=float).T  # raters × units
    for level in ("nominal", "interval"):
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert krippendorff_alpha(units, level) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_matches_statsmodels(seed):
    import numpy as np
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa as sm_fleiss

    rng = random.Random(seed)
    ratings = [[rng.choice([-1, 0, 1, 1]) for _ in range(5)] for _ in range(30)]
    table, _ = aggregate_raters(np.array(ratings))
    assert fleiss_kappa(ratings) == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_scikit_learn(seed):
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(seed)
    a = [rng.choice(["A>B", "B>A", "tie"]) for _ in range(50)]
    b = [x if rng.random() < 0.6 else rng.choice(["A>B", "B>A"]) for x in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_kendall_tau_b_matches_scipy(seed):
    from scipy.stats import kendalltau

    rng = random.Random(seed)
    x = [rng.randint(0, 4) for _ in range(12)]
    y = [v + rng.randint(-2, 2) for v in x]
    expected = kendalltau(x, y).statistic
    got = kendall_tau_b(x, y)
    assert (got is None and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-9)
