"""Typed build stats (issue 15 item 2): every stored stats object loads as its kind's model and dumps back to
exactly what was stored, old formats included; new records carry `stats_version`; unknown keys are refused.

tests/data/stats/*.json are the stats the flows stored before the stats were typed (written by the code of
commit e2197b1 from dry-run, scripted and simulated builds): format 0, no `stats_version`.
"""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from prefsynth.schemas.stats import STATS_VERSION, PreferenceStats, RationaleStats, StepwiseStats, load_stats
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.versions import get_version

DATA = Path(__file__).resolve().parents[1] / "data" / "stats"  # format-0 stats; display/: how the old code showed them
CALLS_V0 = {"engine_calls": 12, "cache_hits": 0, "engine_errors": 1, "prompt_tokens": 300, "completion_tokens": 90}

# By hand: the oldest stats of each kind, before the keys added later (juries, retries, cost, skipped rows,
# incremental, verifier; OmegaPRM's rollouts_requested / extra_draws and the duplicate count of the m005 era;
# the rationale order and incomplete samples of m007).
PREFERENCE_FIRST = {
    "prompts": 2, "samples": {"ok": 6}, "judgments": {"ok": 11, "parse_error": 1}, "reasked": 1, "pairs": 6,
    "funnel": {"pairs_in": 6, "steps": [{"filter": "position_swap", "in": 6, "dropped": 2,
                                         "reasons": {"verdict flips when the order is swapped": 2}}],
               "pairs_out": 4},
    **CALLS_V0, "wall_time_s": 1.25,
}
STEPWISE_BEFORE_M005 = {
    "problems": 3, "method": "omegaprm", "solutions": {"correct": 4, "incorrect": 5}, "labelled_solutions": 2,
    "labelled_steps": 7, "with_error": 2, "rounds": 4, "stop_reasons": {"budget": 3}, "paths": {"located": 2},
    "estimates": 9, **CALLS_V0, "cost": 0.0, "engine_retries": 0, "wall_time_s": 2.5,
}
MATH_SHEPHERD_FIRST = {
    "problems": 3, "method": "math_shepherd", "solutions": {"correct": 4}, "labelled_solutions": 4,
    "labelled_steps": 10, "with_error": 0, "rounds": 2, "incomplete": 0, **CALLS_V0, "wall_time_s": 0.5,
}
RATIONALE_BEFORE_M007 = {
    "items": 2, "judge": None, "k": 4, "judgments": {"ok": 8}, "reasked": 0, "references": {"gold": 2},
    "agreement_with_reference": None, "all_agree": 0, "items_with_pairs": 0, "rationale_pairs": 0, "sft_rows": 0,
    **CALLS_V0, "cost": 0.0, "wall_time_s": 0.75,
}
# A jury build whose strength filter flipped pairs (a funnel step's `changed`), with no agreement computable.
PREFERENCE_FLIPPED = {
    **PREFERENCE_FIRST, "pairing": "all_pairs", "judges": {"a": {"ok": 6}, "b": {"ok": 5, "error": 1}},
    "agreement": {"raters": 2, "pairs": 6, "complete_pairs": 0, "fleiss_kappa": None, "alpha_nominal": None,
                  "alpha_interval": None},
    "funnel": {"pairs_in": 6, "steps": [{"filter": "strength", "in": 6, "dropped": 1, "reasons": {"weak": 1},
                                         "changed": {"flipped: the margin favours the rejected response": 2}}],
               "pairs_out": 5},
    "engine_retries": 2, "cost": 0.0123,
}
HAND_WRITTEN = [("preference", PREFERENCE_FIRST), ("preference", PREFERENCE_FLIPPED), ("stepwise", STEPWISE_BEFORE_M005),
                ("stepwise", MATH_SHEPHERD_FIRST), ("rationale", RATIONALE_BEFORE_M007)]


def stored_files() -> list[tuple[str, dict]]:
    return [(p.stem.split("_")[0], json.loads(p.read_text())) for p in sorted(DATA.glob("*.json"))]


@pytest.mark.parametrize(("kind", "stored"), HAND_WRITTEN + stored_files())
def test_format_0_stats_load_and_dump_back_unchanged(kind, stored):
    stats = load_stats(kind, stored)
    assert stats.stats_version is None  # stored before the stats were typed
    assert stats.model_dump() == stats.stored() == stored
    assert json.dumps(stats.stored(), sort_keys=True) == json.dumps(stored, sort_keys=True)  # same JSON, types too


def test_the_stored_builds_cover_every_section_and_method():
    files = {p.stem: json.loads(p.read_text()) for p in DATA.glob("*.json")}
    pref = [load_stats("preference", d) for name, d in files.items() if name.startswith("preference")]
    for section in ("agreement", "verifier", "incremental", "skipped_rows", "judges", "pairing"):
        assert any(getattr(s, section) is not None for s in pref), section
    assert {load_stats("stepwise", d).method for n, d in files.items() if n.startswith("stepwise")} == \
        {"omegaprm", "math_shepherd"}
    assert "rationale" in files


def test_old_stats_read_as_attributes_with_absent_keys_as_none():
    old = load_stats("preference", PREFERENCE_FIRST)
    assert isinstance(old, PreferenceStats)
    assert old.agreement is None and old.cost is None and old.engine_retries is None and old.verifier is None
    assert old.funnel.steps[0].in_ == 6 and old.funnel.steps[0].changed is None
    assert "agreement" not in old.model_dump() and "in" in old.model_dump()["funnel"]["steps"][0]
    assert isinstance(load_stats("stepwise", STEPWISE_BEFORE_M005), StepwiseStats)
    assert isinstance(load_stats("rationale", RATIONALE_BEFORE_M007), RationaleStats)


def test_a_flipping_filter_and_an_uncomputable_agreement_read_typed():
    st = load_stats("preference", PREFERENCE_FLIPPED)
    assert st.funnel.steps[0].changed == {"flipped: the margin favours the rejected response": 2}
    assert st.agreement is not None and st.agreement.fleiss_kappa is None and st.cost == 0.0123


def test_a_stored_null_stays_null_and_an_absent_key_stays_absent():
    with_null = {**RATIONALE_BEFORE_M007, "judge": None, "agreement_with_reference": None}
    assert load_stats("rationale", with_null).stored() == with_null
    assert "swapped_items" not in load_stats("rationale", with_null).stored()


def test_a_new_record_carries_the_format_version_and_round_trips():
    new = StepwiseStats(**STEPWISE_BEFORE_M005, rollouts_requested=40, extra_draws=3, duplicate_rows_dropped=0)
    stored = new.stored()
    assert new.stats_version == stored["stats_version"] == STATS_VERSION == 1
    assert "incomplete" not in stored  # Math-Shepherd's count: left out, not stored as null
    again = load_stats("stepwise", json.loads(json.dumps(stored)))
    assert again == new and again.stored() == stored


def test_wall_time_set_after_the_counts_is_stored():
    """A writer may fill the wall time last (model_copy(update=...)): it still counts as set."""
    start = dict(PREFERENCE_FIRST)
    new = PreferenceStats(**start).model_copy(update={"wall_time_s": 9.5})
    assert new.stored()["wall_time_s"] == 9.5 and new.stored()["stats_version"] == 1


def test_display_items_leave_out_the_format_version():
    new = RationaleStats(**RATIONALE_BEFORE_M007)
    assert [k for k, _ in new.display_items()] == list(RATIONALE_BEFORE_M007)


def test_unknown_key_is_refused_with_its_name():
    """Every key the project's builds ever stored is declared, so an unknown one is a writer's mistake."""
    with pytest.raises(ValidationError, match="engine_call\\b"):
        load_stats("preference", {**PREFERENCE_FIRST, "engine_call": 3})
    with pytest.raises(ValidationError, match="reason"):
        PreferenceStats(**{**PREFERENCE_FIRST, "funnel": {**PREFERENCE_FIRST["funnel"], "reason": {}}})


def test_a_missing_key_every_build_wrote_is_an_error():
    incomplete = {k: v for k, v in PREFERENCE_FIRST.items() if k != "funnel"}
    with pytest.raises(ValidationError, match="funnel"):
        load_stats("preference", incomplete)


def test_a_newer_format_or_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="format 2 is newer"):
        load_stats("preference", {**PREFERENCE_FIRST, "stats_version": 2})
    with pytest.raises(ValueError, match="kind 'chat'"):
        load_stats("chat", PREFERENCE_FIRST)


def test_verifier_position_bias_from_the_typed_figures():
    v = load_stats("preference", json.loads((DATA / "preference_verifier.json").read_text())).verifier
    assert v is not None
    for judge in v.judges.values():
        first, second = judge.correct_first, judge.correct_second
        expected = round(first.right_rate - second.right_rate, 4) if first and second else None
        assert judge.position_bias() == expected


@pytest.mark.usefixtures("prefect_harness")
def test_a_build_today_stores_stats_its_model_reads_back(tmp_path):
    """Writers and schema agree: the stats a jury build stores now load and dump back unchanged."""
    from tests.builds import build_example

    built = build_example(tmp_path, "jury_dry_run.yaml")
    with Catalog(tmp_path / "c.duckdb") as cat:
        stored = get_version(cat, f"{built['name']}@{built['version']}").stats
    stats = load_stats("preference", stored)
    assert stats.stored() == stored and stats.agreement is not None and stats.judges


def test_old_versions_display_as_before():
    """The CLI summary, report headline and Markdown artifact of each format-0 stats object are exactly what the
    code before typed stats showed (tests/data/stats/display/format0.json, written by that code)."""
    from datetime import datetime, timezone

    from prefsynth.cli.app import out
    from prefsynth.cli.print import print_version
    from prefsynth.reports.summary import markdown, preference_summary, rationale_summary, stepwise_summary
    from prefsynth.schemas.dataset import DatasetVersion
    from prefsynth.storage.report_data import PreferenceData

    shown = json.loads((DATA / "display" / "format0.json").read_text())
    assert len(shown) == len(HAND_WRITTEN) + len(stored_files())
    width, out.width = out.width, 160
    try:
        for name, case in shown.items():
            kind, stats = case["kind"], case["stats"]
            version = DatasetVersion(name="d", version=2, kind=kind, config={}, config_hash="c" * 16,
                                     code_version="0.1.0", parent_version=1, row_count=3, content_hash="h" * 64,
                                     stats=stats, created_at=datetime(2026, 11, 30, tzinfo=timezone.utc))
            manifest = {"name": "d", "version": 2, "kind": kind, "rows": 3, "content_hash": "h" * 64,
                        "parent_version": 1, "stats": stats}
            with out.capture() as cap:
                print_version(manifest)
            summary = (preference_summary(version, PreferenceData([], frozenset(), {}, [])) if kind == "preference"
                       else stepwise_summary(version, []) if kind == "stepwise" else rationale_summary(version, []))
            assert cap.get() == case["cli"], name
            assert summary["headline"] == case["headline"], name
            assert markdown(summary) == case["markdown"], name
    finally:
        out.width = width
