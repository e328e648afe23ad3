"""A version's build pairs, defined once (storage/records.py:BUILD_PAIRS): every pair its build aggregated, kept or
dropped, as the jury made it; kept when it, or a pair a filter derived from it, is a row of the version."""

from prefsynth.schemas.preference import FilterDecision, Prompt, Sample
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.records import build_pairs, version_pairs
from prefsynth.storage.versions import commit_version
from prefsynth.tasks.pairs import aggregate

PROMPT = Prompt.of("Which is better?")


def sample(sid: str) -> Sample:
    return Sample(id=sid, prompt_id=PROMPT.id, policy="pol", model="m", index=0, text=f"response {sid}")


def test_build_pairs_are_the_jurys_pairs_kept_or_dropped(tmp_path):
    x, y, z = sample("x"), sample("y"), sample("z")
    kept_as_is, flipped, dropped, elsewhere = (aggregate(a, b, []) for a, b in ((x, y), (x, z), (y, z), (z, x)))
    flipped = flipped.model_copy(update={"id": "flipped-jury"})
    derived = flipped.model_copy(update={"id": "flipped-by-filter", "derived_from": flipped.id, "weight": 0.5})
    with Catalog(tmp_path / "c.duckdb") as cat:
        commit_version(cat, name="other", kind="preference", config={}, stats={},
                       records={"prompts": [PROMPT], "samples": [x, y, z], "pairs": [elsewhere]},
                       row_ids=[elsewhere.id], decisions=[])
        commit_version(
            cat, name="d", kind="preference", config={}, stats={},
            records={"prompts": [PROMPT], "samples": [x, y, z], "pairs": [kept_as_is, flipped, derived, dropped]},
            row_ids=[kept_as_is.id, derived.id],
            decisions=[FilterDecision(pair_id=dropped.id, filter="drop_ties", keep=False, reason="tie"),
                       FilterDecision(pair_id=flipped.id, filter="strength", keep=True, replaced_by=derived.id)],
        )
        got = build_pairs(cat, "d", 1)
        assert version_pairs(cat, "d", 1) == [pair for pair, _ in got]
    expected = sorted([(kept_as_is, True), (flipped, True), (dropped, False)], key=lambda pk: pk[0].id)
    assert got == expected  # in id order; the derived pair and the other version's pair are not build pairs
