"""Issue 17 item 3: `aggregation: dawid_skene` — crowd-kit's EM over the jury's own votes, each juror's order its
own rater; cross-checked on a hand-computed table, and better than the plain majority on the simulated jury."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prefsynth.schemas.aggregation import DawidSkeneAggregation
from prefsynth.schemas.imported import GoldRow, ImportedJudgmentRow, imported_sample
from prefsynth.tasks.judge.calibrated import aggregate_pairs
from prefsynth.tasks.judge.dawid_skene import dawid_skene, rater_labels
from prefsynth.tasks.judge.jury import Vote
from tests.sim import JURY

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sim_jury import simulate  # noqa: E402


def table(rows: list[str]) -> list[list[Vote]]:
    """One string per pair, one letter per rater A, B, C: x or y (their vote), '-' abstained."""
    return [[Vote(r, "xy", {"x": 1.0, "y": -1.0, "-": None}[c], ()) for r, c in zip("ABC", row, strict=True)]
            for row in rows]


def test_one_em_step_matches_the_hand_computed_table():
    """Majority-vote start: P(x) = 1, 2/3, 0, 2/3; priors 7/12, 5/12. M-step (P(said | truth) per rater):
    A: x|x 5/7, x|y 1/5; B: x|x 1, x|y 2/5; C: like A. E-step, pair 2 (A x, B x, C y):
    L(x) = 7/12·5/7·1·2/7 = 5/42, L(y) = 5/12·1/5·2/5·4/5 = 2/75 → P(x) = 125/153; pair 1 (all x):
    25/84 against 1/150 → 3750/3834; pair 3 (all y): B never said y on an x pair → P(x) ≈ 0."""
    p = dawid_skene(table(["xxx", "xxy", "yyy", "yxx"]), n_iter=1)
    assert p == pytest.approx([3750 / 3834, 125 / 153, 0.0, 125 / 153], abs=1e-6)


def test_abstentions_are_no_label_and_a_pair_nobody_voted_on_has_no_probability():
    readings = table(["x-x", "---", "yy-"])
    assert rater_labels(readings) == [(0, "A#xy", "x"), (0, "C#xy", "x"), (2, "A#xy", "y"), (2, "B#xy", "y")]
    p = dawid_skene(readings)
    assert p[1] is None and p[0] > 0.5 > p[2]
    assert dawid_skene([[], []]) == [None, None]


def test_an_order_that_always_names_the_first_response_is_learnt_as_such():
    """Rater P#xy says x on every pair (x is shown first), P#yx says y on every pair: DS learns they carry
    nothing; the two honest raters (right on 5 of 6) decide — a majority would be a 2–2 split on half of them."""
    honest = ["x", "x", "x", "y", "y", "y"]
    readings = [[Vote("P", "xy", 1.0, ()), Vote("P", "yx", -1.0, ()), Vote("H", "xy", 1.0 if h == "x" else -1.0, ()),
                 Vote("K", "scores", 1.0 if h == "x" else -1.0, ())] for h in honest]
    p = dawid_skene(readings)
    assert [q > 0.5 for q in p] == [h == "x" for h in honest]


def test_without_gold_dawid_skene_beats_the_plain_majority_on_the_simulated_jury():
    rows, gold, truth = simulate(600, seed=11)
    by_prompt: dict[str, list] = {}
    for r in rows:
        by_prompt.setdefault(r["prompt"], []).append(ImportedJudgmentRow.model_validate(r).records("sim")[3])
    candidates, by_pair = [], []
    for g in gold:
        row = GoldRow.model_validate(g)
        prompt = row.prompt_record("sim")
        candidates.append((imported_sample(prompt.id, row.response_a), imported_sample(prompt.id, row.response_b)))
        by_pair.append(by_prompt[g["prompt"]])

    def accuracy(pairs):
        return sum(not p.tie and (p.chosen_id == x.id) == t.a_better
                   for p, (x, _), t in zip(pairs, candidates, truth, strict=True)) / len(pairs)

    majority = aggregate_pairs(candidates, by_pair, JURY)
    ds = aggregate_pairs(candidates, by_pair, JURY, DawidSkeneAggregation(kind="dawid_skene"))
    assert {p.aggregation for p in ds} == {"dawid_skene"} and all(0.5 <= p.confidence <= 1 for p in ds)
    assert accuracy(ds) >= accuracy(majority) + 0.10, (accuracy(ds), accuracy(majority))
    confident = [p for p in ds if p.confidence >= 0.9]
    assert len(confident) >= 0.5 * len(ds)  # its confidence means something: the sure pairs are many and right
    right = sum((p.chosen_id == x.id) == t.a_better for p, (x, _), t in zip(ds, candidates, truth, strict=True)
                if p.confidence >= 0.9)
    assert right / len(confident) >= 0.85
