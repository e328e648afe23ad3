"""The rationale flow: items → K sampled judgments → right/wrong by reference → rationale pairs → version.

Self-rationalization (Trivedi et al. 2024): data to train the judge on its own rationales. The stage logic is
in tasks/rationale_items.py (over the rules of tasks/rationalize.py); the build — limits, the `max_error_rate`
check, staging and the atomic commit — is runtime/build.py's `BuildContext`, as for every build. With server
engines, groups of items overlap (runtime/overlap.py); the records and content hash are the same either way.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from ..config.rationale import RationalizeConfig
from ..runtime.build import BuildContext
from ..runtime.overlap import group_mapper
from ..schemas.dataset import DatasetVersion
from ..schemas.rationale import RationaleInput
from ..storage.rationale import load_rationale_inputs
from ..tasks.rationale_items import Made, Sampled, Shown, make_item, rationale_figures, sample_all, show
from ..tasks.rationalize import distinct
from ..tasks.verify import AnswerChecker


def read_inputs(config: RationalizeConfig) -> list[RationaleInput]:
    items = load_rationale_inputs(Path(config.items.path), config.items.format)
    return items[: config.items.limit] if config.items.limit else items


@flow(name="rationalize")
def rationalize(config: RationalizeConfig, catalog_path: str | None = None) -> DatasetVersion:
    """Build a new `rationale` version of `config.name`. Stops without a version (BuildStopped) when a budget is
    reached or more calls fail than `max_error_rate`."""
    inputs = read_inputs(config)
    with BuildContext(config, config.catalog_file(catalog_path), "rationale") as build, \
            AnswerChecker(config.answer_timeout_s) as checker:
        shown = show(config, inputs, checker)
        sampled = sample_all(config, shown, build.runner, group_mapper(build.runner, len(shown)))
        made = [make_item(config, sh, s) for sh, s in zip(shown, sampled, strict=True)]
        stage_records(build, shown, sampled, made)
        return build.commit(rationale_figures(config, made, sampled))


def stage_records(build: BuildContext, shown: list[Shown], sampled: list[Sampled], made: list[Made]) -> None:
    """The version's records (each once) and its rows: the items with an SFT pick or a reference."""
    build.stage("prompts", distinct([sh.item.prompt for sh in shown]))
    build.stage("samples", distinct([s for sh in shown for s in (sh.item.first, sh.item.second)]))
    build.stage("judgments", distinct([j for s in sampled for j in s.judgments]))
    build.stage("rationale_items", [m.item for m in made])
    build.stage("rationale_pairs", [p for m in made for p in m.pairs])
    build.add_rows(m.item.id for m in made if m.item.best_id or m.item.reference)
