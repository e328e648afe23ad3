"""The catalog's prefix-value memo keeps the sequential test's verdict (review fix to issue 16's estimation)."""

from __future__ import annotations

from prefsynth.schemas.process import PrefixValue
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.stepwise import prefix_lookup


def test_a_stored_prefix_value_keeps_its_verdict(tmp_path):
    """A prefix the sequential test decided on 3/4 must come back decided, not as bare counts a later build
    would have to force or resample (m009_prefix_verdict)."""
    with Catalog(str(tmp_path / "c.duckdb")) as catalog:
        catalog.insert_records("prefix_values", [
            PrefixValue(problem_id="p", prefix_hash="h1", n_correct=3, n_rollouts=4, verdict="correct"),
            PrefixValue(problem_id="p", prefix_hash="h2", n_correct=0, n_rollouts=4),
        ])
        lookup = prefix_lookup(catalog)
        assert lookup("p", "h1").verdict == "correct"
        assert lookup("p", "h2").verdict is None  # the counts decide, as for rows written before m009
        assert lookup("p", "missing") is None
