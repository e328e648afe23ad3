"""Issue 17 item 4: a confidence per aggregated pair (vote share, Dawid–Skene posterior, fitted model), stored
(migration m008_jury_confidence), a `confidence` filter, and the exports' columns."""

import math

import pytest

from prefsynth.config.load import load_config
from prefsynth.config.preference import JudgeEvalConfig
from prefsynth.schemas.aggregation import FittedAggregation
from prefsynth.schemas.preference import FilterDecision, Judgment, Prompt, Sample
from prefsynth.schemas.stages import ConfidenceFilter, StrengthFilter
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.formats.preference import TRL_PREFERENCE
from prefsynth.storage.versions import commit_version
from prefsynth.tasks.filters import FilterContext, filter_pairs
from prefsynth.tasks.judge.calibrated import aggregate_pairs
from prefsynth.tasks.judge.jury import Jury, JurorSpec, aggregate

PROMPT = Prompt.of("Which is better?")


def sample(sid: str) -> Sample:
    return Sample(id=sid, prompt_id=PROMPT.id, policy="pol", model="m", index=0, text=f"response {sid}")


X, Y = sample("x"), sample("y")


def j(jid, judge, first, second, verdict=None, status="ok"):
    return Judgment(id=jid, prompt_id=PROMPT.id, judge=judge, protocol="pairwise", first_id=first, second_id=second,
                    status=status, verdict=verdict)


def ctx(judgments):
    return FilterContext({x.id: x for x in judgments}, {"x": X, "y": Y})


# S is right and consistent; R1, R2 (correlated reward models) say y in one order each.
STRONG_FOR_X = [j("s1", "S", "x", "y", "A>B"), j("s2", "S", "y", "x", "B>A"),
                j("r1", "R1", "x", "y", "B>A"), j("r2", "R2", "x", "y", "B>A")]


def test_majority_confidence_is_the_weighted_vote_share():
    pair = aggregate(X, Y, STRONG_FOR_X)  # y by 2 of 3
    assert (pair.chosen_id, pair.confidence, pair.aggregation) == ("y", pytest.approx(2 / 3), "majority")
    weighted = aggregate(X, Y, STRONG_FOR_X, Jury.of([JurorSpec("S", weight=3.0)]))
    assert (weighted.chosen_id, weighted.confidence) == ("x", pytest.approx(3 / 5))
    split = aggregate(X, Y, STRONG_FOR_X[:3])
    assert split.tie and split.confidence == 0.5
    nothing = aggregate(X, Y, [j("e", "S", "x", "y", status="parse_error")])
    assert nothing.confidence is None  # unknown, not 0.5 and not 0


def test_a_fitted_jury_labels_by_its_model_and_keeps_the_vote_counts():
    model = FittedAggregation(kind="fitted", coefficients={"S": {"agree": 2.0}, "R1": {"xy": 0.25}})
    [pair] = aggregate_pairs([(X, Y)], [STRONG_FOR_X], Jury(), model)
    z = 2.0 * 1 + 0.25 * -1  # S agrees with itself for x (+1), R1 says y when x was first (−1)
    assert pair.chosen_id == "x" and not pair.tie and pair.aggregation == "fitted"
    assert pair.confidence == pytest.approx(1 / (1 + math.exp(-z)))
    assert pair.agreement == pytest.approx(1 / 3) and pair.margin == pytest.approx(-1 / 3)  # the votes, for x
    majority = aggregate(X, Y, STRONG_FOR_X)
    assert pair.id != majority.id
    [none] = aggregate_pairs([(X, Y)], [[j("e", "S", "x", "y", status="parse_error")]], Jury(), model)
    assert none.tie and none.confidence == 0.5  # nothing the model reads: no preference


def test_confidence_filter_keeps_pairs_at_or_above_the_threshold_and_drops_unknowns():
    pairs = [aggregate(X, Y, js) for js in (STRONG_FOR_X, STRONG_FOR_X[:2], STRONG_FOR_X[:3],
                                            [j("e", "S", "x", "y", status="error")])]
    assert [p.confidence for p in pairs] == [pytest.approx(2 / 3), 1.0, 0.5, None]
    run = filter_pairs(pairs, [ConfidenceFilter(min_confidence=0.6)], ctx(STRONG_FOR_X))
    assert [d.reason for d in run.decisions] == ["confident", "confident", "tie", "no confidence (no vote)"]
    run = filter_pairs(pairs, [ConfidenceFilter(min_confidence=0.9)], ctx(STRONG_FOR_X))
    assert [d.keep for d in run.decisions] == [False, True, False, False]
    assert run.decisions[0].reason == "confidence below 0.9"


def test_a_flipped_pair_carries_the_confidence_of_its_new_chosen_response():
    pair = aggregate(X, Y, STRONG_FOR_X).model_copy(update={"margin": -1.0})
    run = filter_pairs([pair], [StrengthFilter(min_strength=0.5, flip=True)], ctx(STRONG_FOR_X))
    assert run.kept[0].chosen_id == "x" and run.kept[0].confidence == pytest.approx(1 / 3)


def test_aggregation_config_accepts_a_bare_name(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("jury: [{kind: imported, judge: a}, {kind: imported, judge: b}]\naggregation: dawid_skene\n"
                    "filters: [{kind: confidence, min_confidence: 0.7}]\n")
    cfg = load_config(path, JudgeEvalConfig)
    assert cfg.aggregation.kind == "dawid_skene" and cfg.filters[0].min_confidence == 0.7
    path.write_text("jury: [{kind: imported, judge: a}]\naggregation: {kind: fitted, coefficients: {a: {bogus: 1}}}\n")
    with pytest.raises(ValueError, match="unknown feature"):
        load_config(path, JudgeEvalConfig)


def test_confidence_is_stored_and_exported(tmp_path):
    pair = aggregate(X, Y, STRONG_FOR_X)
    with Catalog(tmp_path / "c.duckdb") as cat:
        assert ("m008_jury_confidence",) in cat.query("SELECT name FROM schema_migrations")
        version = commit_version(
            cat, name="d", kind="preference", config={}, stats={},
            records={"prompts": [PROMPT], "samples": [X, Y], "judgments": STRONG_FOR_X, "pairs": [pair]},
            row_ids=[pair.id], decisions=[FilterDecision(pair_id=pair.id, filter="drop_ties", keep=True)],
        )
        stored = cat.query("SELECT confidence, aggregation FROM pairs WHERE id = ?", [pair.id])
        row = TRL_PREFERENCE.table(cat, version).to_pylist()[0]
    assert stored == [(pytest.approx(2 / 3), "majority")]
    assert row["confidence"] == pytest.approx(2 / 3) and row["aggregation"] == "majority"


def test_a_fitted_jury_naming_a_judge_not_in_the_jury_is_an_error():
    from prefsynth.schemas.judges import ImportedJudgeConfig
    from prefsynth.tasks.judge.panel import JuryError, seat

    jurors = [ImportedJudgeConfig(kind="imported", judge=name) for name in ("S", "R1")]
    model = FittedAggregation(kind="fitted", coefficients={"S": {"agree": 1.0}, "gone": {"xy": 1.0}})
    with pytest.raises(JuryError, match="aggregation.coefficients: no juror named 'gone'"):
        seat(jurors, None, model)
    seat(jurors, None, model.model_copy(update={"coefficients": {"S": {"agree": 1.0}}}))
