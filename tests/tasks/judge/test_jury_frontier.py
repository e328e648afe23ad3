"""Issue 17 item 5: precision / coverage of a jury's confidence on gold, by threshold (hand-computed)."""

import pytest

from prefsynth.tasks.judge.frontier import best_operating_point, frontier, summarise


def test_frontier_counts_kept_items_and_their_precision_by_threshold():
    p_x = [0.9, 0.2, 0.6, 0.5, None, 0.7]  # a tie (0.5) and an unknown (None) are never kept
    gold = [True, True, False, True, True, True]
    rows = {r["threshold"]: r for r in frontier(p_x, gold, thresholds=(0.5, 0.7, 0.8, 0.85, 0.95))}
    # ≥ 0.5: 0.9 right, 0.2 (conf 0.8) wrong, 0.6 wrong, 0.7 right
    assert rows[0.5] == {"threshold": 0.5, "kept": 4, "coverage": pytest.approx(4 / 6, abs=1e-4), "precision": 0.5}
    assert (rows[0.7]["kept"], rows[0.7]["precision"]) == (3, pytest.approx(2 / 3, abs=1e-4))
    assert (rows[0.8]["kept"], rows[0.8]["precision"]) == (2, 0.5)
    assert (rows[0.85]["kept"], rows[0.85]["precision"]) == (1, 1.0)
    assert rows[0.95] == {"threshold": 0.95, "kept": 0, "coverage": 0.0, "precision": None}
    s = summarise("x", "test", p_x, gold)
    assert s["accuracy"] == pytest.approx(2 / 6, abs=1e-4)  # ties and unknowns are not correct
    assert best_operating_point(s["frontier"], 0.6)["threshold"] == 0.65  # the first to keep 0.2 out
