"""The figures of a preference build, counted chunk by chunk as the build goes (its stored stats).

A build that streams its records to the catalog cannot count them at the end from lists of everything; this
tally counts each chunk as it is made and keeps only what a figure over the whole build needs:
- status counts of samples and judgments, per judge, re-asks, pairs, and the funnel's counts of filter
  decisions (filter, reason) — a few counters;
- for the jury agreement (Fleiss' κ, Krippendorff's α need every pair): each reading's margin, one float per
  (juror, order) and pair in an array (8 bytes each), handed to `jury_agreement` as light `Vote`s at the end;
- with a verifier juror only: each judged pair's chosen id, kept flag and judgments without their texts
  (`verifier` figures).

The figures equal those computed from all records at once (same keys as before: schemas/stats.py
`PreferenceStats`).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from typing import Iterator

from ..schemas.preference import Judgment, PreferencePair, Sample
from ..schemas.stages import FilterConfig
from .filters import FilterRun, funnel_of_counts
from .judge.jury import Jury, jury_agreement
from .judge.verifier_stats import CheckedPair, build_pairs, verifier_figures
from .judge.votes import Vote, votes_for


def light(j: Judgment) -> Judgment:
    """A judgment without its texts (rationale, raw reply, debate transcript): what counting and filters read.
    Its id is unchanged (ids are made at creation, not from the fields)."""
    return j.model_copy(update={"rationale": "", "raw": "", "transcript": None})


class Readings:
    """Every pair's readings (juror × order → margin), column-wise: iterating gives each pair's light `Vote`s."""

    def __init__(self):
        self.columns: dict[tuple[str, str], array] = {}
        self.n = 0

    def add(self, pair_votes: list[list[Vote]]) -> None:
        for votes in pair_votes:
            # one reading per reader and pair, the last, as `jury_agreement` reads them (imported judgments can
            # hold two of one judge in one order): a second append would shift every later pair of the column
            for reader, margin in {(v.judge, v.slot): v.margin for v in votes}.items():
                col = self.columns.get(reader)
                if col is None:  # a new reader: missing on every earlier pair
                    col = self.columns[reader] = array("d", [math.nan] * self.n)
                col.append(math.nan if margin is None else margin)
            self.n += 1
            for col in self.columns.values():  # a juror without a reading on this pair: missing
                if len(col) < self.n:
                    col.append(math.nan)

    def __iter__(self) -> Iterator[list[Vote]]:
        for k in range(self.n):
            # a missing reading is a Vote without a margin: jury_agreement reads both as missing
            yield [Vote(judge, slot, None if math.isnan(col[k]) else col[k], ())
                   for (judge, slot), col in self.columns.items()]

    def __len__(self) -> int:
        return self.n


class PreferenceTally:
    """Counts of one build; `samples`/`judgments` per chunk as made, `filtered` per filtered group of pairs."""

    def __init__(self, filters: list[FilterConfig], with_verifier: bool):
        self.filters = filters
        self.sample_status: Counter = Counter()
        self.judgment_status: Counter = Counter()
        self.per_judge: dict[str, Counter] = defaultdict(Counter)
        self.reasked = 0
        self.n_pairs = 0
        self.dropped: Counter = Counter()
        self.changed: Counter = Counter()
        self.readings = Readings()
        self.checked: list[CheckedPair] | None = [] if with_verifier else None
        self.jury: Jury | None = None  # the build's, to read other jurors against the verifier

    def samples(self, samples: list[Sample]) -> None:
        self.sample_status.update(s.status for s in samples)

    def judgments(self, judgments: list[Judgment]) -> None:
        for j in judgments:
            self.judgment_status[j.status] += 1
            self.per_judge[j.judge][j.status] += 1
            self.reasked += j.reasked

    def filtered(self, pairs: list[PreferencePair], candidates, by_pair: list[list[Judgment]], jury: Jury,
                 run: FilterRun) -> None:
        """A group of judged pairs (the jury's labels) and what the filters decided on them."""
        self.n_pairs += len(pairs)
        self.readings.add([votes_for(x, y, js, jury) for (x, y), js in zip(candidates, by_pair, strict=True)])
        for d in run.decisions:
            if not d.keep:
                self.dropped[(d.filter, d.reason)] += 1
            elif d.replaced_by:
                self.changed[(d.filter, d.reason)] += 1
        self.jury = jury
        if self.checked is not None:
            self.checked.extend(build_pairs(pairs, [[light(j) for j in js] for js in by_pair], run.kept))

    def figures(self, prompts: int, pairing: str) -> dict:
        """The stats keys of a preference build (without the call counts and wall time the build adds)."""
        out = {
            "prompts": prompts,
            "samples": dict(self.sample_status),
            "judgments": dict(self.judgment_status),
            "reasked": self.reasked,
            "pairing": pairing,
            "pairs": self.n_pairs,
            "judges": {name: dict(c) for name, c in sorted(self.per_judge.items())},
            "agreement": jury_agreement(self.readings),
            "funnel": funnel_of_counts(self.n_pairs, self.filters, self.dropped, self.changed),
        }
        figures = verifier_figures(self.checked, self.jury) if self.checked is not None else None
        if figures is not None:
            out["verifier"] = figures
        return out
