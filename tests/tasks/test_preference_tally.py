"""tasks/preference_tally.py: figures counted chunk by chunk equal those computed from all the records at once."""

from __future__ import annotations

from prefsynth.tasks.judge.jury import jury_agreement
from prefsynth.tasks.judge.votes import Vote
from prefsynth.tasks.preference_tally import Readings


def test_two_readings_of_one_rater_on_a_pair_keep_the_columns_aligned():
    """Imported judgments can hold two lines of one judge on the same pair and order (two annotators under one
    name, different verdicts: two judgments). `jury_agreement` reads one reading per rater and pair (the last);
    the column store must read the same, and must not shift that rater's readings of every later pair by one."""
    pairs = [
        [Vote("human", "xy", 1.0, ("a",)), Vote("human", "xy", -1.0, ("b",)), Vote("m", "xy", -1.0, ("c",))],
        [Vote("human", "xy", 2.0, ("d",)), Vote("m", "xy", 2.0, ("e",))],
        [Vote("m", "xy", 1.0, ("f",))],
    ]
    readings = Readings()
    readings.add(pairs)
    assert len(readings) == 3
    assert jury_agreement(list(readings)) == jury_agreement(pairs)
