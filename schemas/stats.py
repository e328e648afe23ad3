"""Build stats: the typed, versioned record each build stores with its version (`dataset_versions.stats`).

One model per dataset kind — `PreferenceStats`, `StepwiseStats`, `RationaleStats` — with exactly the keys the
flows write. The stored form is a JSON object; readers (CLI summaries, reports, artifacts) load it with
`load_stats(kind, stored)` and read attributes, never string keys.

Versions. `stats_version` is 1 for stats written as these models (`STATS_VERSION`); a stored object without it
was written before (format 0: the same keys, minus those added over time — each optional field below says
when it appeared) and loads as is, its `stats_version` None. A key the model does not declare is rejected
(`extra="forbid"`): every key any build of this project has written is declared (checked against the writers'
git history), so an unknown key means a writer with a typo or an undeclared new key, and it fails at once
instead of vanishing from every display.

Round trip. `model_dump()` (and `stored()`, its JSON form) leaves out what was never set: for a loaded object
that gives back the stored keys exactly (a key an old version lacks stays absent, a stored null stays null), so
old versions display as they always did; for a new build it gives the keys its writer passed. Writers leave an
optional section out (e.g. `verifier` without a verifier juror) rather than pass None.

Plain pydantic and the standard library only: schemas/ imports nothing else of the project.
"""

from __future__ import annotations

from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

STATS_VERSION = 1  # the format these models write; stored stats without `stats_version` are format 0


class _Record(BaseModel):
    """A section of the stats: frozen, no undeclared keys, dumped as stored (aliases, unset keys left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("exclude_unset", True)
        kwargs.setdefault("by_alias", True)
        return super().model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("exclude_unset", True)
        kwargs.setdefault("by_alias", True)
        return super().model_dump_json(**kwargs)


Counts = dict[str, int]  # status (or reason, source, ...) → count


# -- preference sections ----------------------------------------------------------------------------------------
class FunnelStep(_Record):
    """One filter of the funnel (tasks/filters.py `funnel`): pairs in, dropped per reason, kept-but-changed."""

    filter: str
    in_: int = Field(alias="in")
    dropped: int
    reasons: Counts
    changed: Counts | None = None  # written only when the filter changed pairs (flips, re-counts, weights)


class Funnel(_Record):
    pairs_in: int
    steps: list[FunnelStep]
    pairs_out: int


class Agreement(_Record):
    """Agreement across raters (tasks/judge/jury.py `jury_agreement`); None where it cannot be computed."""

    raters: int
    pairs: int
    complete_pairs: int
    fleiss_kappa: float | None
    alpha_nominal: float | None
    alpha_interval: float | None


class IncrementalStats(_Record):
    """An incremental build's plan (storage/incremental.py)."""

    mode: str  # append | new_only
    prompts_seen_before: int
    rows_carried: int


class SkippedRows(_Record):
    """Input rows left out under `prompts.on_error: skip`, each as FILE:LINE: field 'F': problem."""

    count: int
    rows: list[str]


class SlotFigures(_Record):
    """A juror's readings in one slot (correct answer shown first / second, or its ratings) on decided pairs."""

    right: int
    wrong: int
    tie: int
    no_verdict: int
    right_rate: float | None


class VoteCounts(_Record):
    correct: int
    wrong: int
    abstain: int


class VerifierJudge(_Record):
    """One LLM juror measured against the verifier (tasks/judge/verifier_stats.py); a slot it never read is absent."""

    correct_first: SlotFigures | None = None
    correct_second: SlotFigures | None = None
    scores: SlotFigures | None = None
    votes: VoteCounts

    def position_bias(self) -> float | None:
        """Right rate with the correct response shown first minus shown second (−1..1; None: not measurable)."""
        first, second = self.correct_first, self.correct_second
        if first is None or second is None or first.right_rate is None or second.right_rate is None:
            return None
        return round(first.right_rate - second.right_rate, 4)


class VerifierStats(_Record):
    """What the verifier juror found (tasks/judge/verifier_stats.py `verifier_figures`)."""

    checked: int
    decided: int
    both_correct: int
    neither_correct: int
    unknown: int
    kept: int
    kept_chosen_correct: int
    judges: dict[str, VerifierJudge]


# -- the build records ------------------------------------------------------------------------------------------
class BuildStats(_Record):
    """What every build stores: the engine-call counts (runtime/calls.py `CallStats.as_dict`) and wall time."""

    stats_version: int | None = None  # STATS_VERSION when written by a model; None: stored as format 0
    engine_calls: int
    cache_hits: int
    engine_errors: int
    engine_retries: int | None = None  # since the reliability work (commit 41f3fa9)
    prompt_tokens: int
    completion_tokens: int
    cost: float | None = None  # since budgets and prices (commit 701b18b)
    wall_time_s: float

    @model_validator(mode="before")
    @classmethod
    def _stamp_version(cls, data: Any, info: ValidationInfo) -> Any:
        """A writer's new record gets the current format; a stored one (context `stored`) keeps what it has."""
        if isinstance(data, dict) and "stats_version" not in data and not (info.context or {}).get("stored"):
            return {"stats_version": STATS_VERSION, **data}
        return data

    def stored(self) -> dict[str, Any]:
        """The JSON object the catalog stores (and `load_stats` reads back)."""
        return self.model_dump(mode="json")

    def display_items(self) -> list[tuple[str, Any]]:
        """(key, value) of every stored figure for generic listings, without the format version: the kind's own
        figures first, then the call counts and wall time, as the writers put them."""
        stored = self.stored()
        own = [k for k in type(self).model_fields if k not in BuildStats.model_fields]
        order = own + [k for k in BuildStats.model_fields if k != "stats_version"]
        aliases = [type(self).model_fields[k].alias or k for k in order]
        return [(k, stored[k]) for k in aliases if k in stored]


class PreferenceStats(BuildStats):
    """A preference build (flows/preference.py)."""

    prompts: int
    samples: Counts  # status → count
    judgments: Counts  # status → count
    reasked: int
    pairing: str | None = None  # since juries (commit 6305ba2), as the two below
    pairs: int
    judges: dict[str, Counts] | None = None  # judge → status → count
    agreement: Agreement | None = None
    funnel: Funnel
    verifier: VerifierStats | None = None  # with a verifier juror only (commit 7019bee)
    incremental: IncrementalStats | None = None  # incremental builds only
    skipped_rows: SkippedRows | None = None  # only when input rows were skipped


class StepwiseStats(BuildStats):
    """A process-label build (flows/process_labels.py); OmegaPRM and Math-Shepherd add their own counts."""

    problems: int
    method: str  # omegaprm | math_shepherd
    solutions: Counts  # check status → count
    labelled_solutions: int
    labelled_steps: int
    with_error: int
    duplicate_rows_dropped: int | None = None  # since commit 722e774
    rounds: int
    stop_reasons: Counts | None = None  # OmegaPRM: stop reason → problems
    paths: Counts | None = None  # OmegaPRM: path status → count
    estimates: int | None = None  # OmegaPRM
    rollouts_requested: int | None = None  # OmegaPRM, since commit f8f07f0
    extra_draws: int | None = None  # OmegaPRM, since commit f8f07f0
    incomplete: int | None = None  # Math-Shepherd: solutions with a step never estimated


class RationaleStats(BuildStats):
    """A rationale build (flows/rationalize.py); counts per sample (K per item)."""

    items: int
    judge: str | None
    k: int
    swapped_items: int | None = None  # since commit 1d72d38, as `incomplete`
    judgments: Counts  # status → count
    reasked: int
    incomplete: int | None = None  # samples cut at max_tokens or re-asked
    references: Counts  # reference source → items
    agreement_with_reference: float | None
    all_agree: int
    items_with_pairs: int
    rationale_pairs: int
    sft_rows: int
    # items with agreeing judgments but no chosen/SFT target, by why ("only incomplete judgments agree": every
    # agreeing one was cut or re-asked); only when some item has none
    no_target: Counts | None = None


STATS_MODELS: dict[str, type[BuildStats]] = {
    "preference": PreferenceStats,
    "stepwise": StepwiseStats,
    "rationale": RationaleStats,
}


@overload
def load_stats(kind: Literal["preference"], stored: dict[str, Any]) -> PreferenceStats: ...
@overload
def load_stats(kind: Literal["stepwise"], stored: dict[str, Any]) -> StepwiseStats: ...
@overload
def load_stats(kind: Literal["rationale"], stored: dict[str, Any]) -> RationaleStats: ...
@overload
def load_stats(kind: str, stored: dict[str, Any]) -> BuildStats: ...


def load_stats(kind: str, stored: dict[str, Any]) -> BuildStats:
    """The stored stats of a version of dataset kind `kind` as its model (format 0 or 1).

    Raises ValueError for an unknown kind, a format newer than this code, or a stored object that does not fit
    its kind's model (pydantic's ValidationError, a ValueError, names the key).
    """
    model = STATS_MODELS.get(kind)
    if model is None:
        raise ValueError(f"no build stats for datasets of kind {kind!r} (kinds: {', '.join(STATS_MODELS)})")
    version = stored.get("stats_version")
    if isinstance(version, int) and version > STATS_VERSION:
        raise ValueError(f"build stats format {version} is newer than this prefsynth reads ({STATS_VERSION}): "
                         "upgrade prefsynth")
    return model.model_validate(stored, context={"stored": True})
