"""Judge evaluation: gold pairs → the configured judge or jury (both orders) → accuracy and friends.

`prefsynth eval-judge CONFIG --gold FILE.jsonl`. CONFIG is a judge-evaluation config (engines, judge or jury,
filters) or a whole build config, whose prompts and policies are then ignored. Engine calls go through the
catalog's call cache, so a re-run is free; imported jurors read their judgments from the catalog. Nothing else
is written. With server engines, groups of gold pairs are judged at once, overlapping (runtime/overlap.py); the
figures are the same either way. The report also has each aggregation's accuracy and precision/coverage frontier and the fitted jury
(k-fold cross-validated: tasks/judge/eval_fit.py); the figures are tasks/judge/evaluation.py's.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow

from ..engines.cache import CallCache
from ..schemas.imported import imported_sample
from ..storage.catalog import Catalog
from ..storage.inputs import InputError
from ..storage.judgment_files import read_gold
from ..storage.records import imported_judges, imported_judgments
from ..tasks.judge.eval_fit import calibration
from ..tasks.judge.evaluation import GoldItem, gold_report
from ..runtime.calls import CallRunner
from ..runtime.overlap import group_mapper
from ..config.preference import JuryFields
from ..tasks.judge.panel import judge_in_groups, seat


def gold_items(path: Path | str, skipped: list | None = None) -> list[GoldItem]:
    """The gold file as items: a prompt and its two responses (identity by text, as for imported judgments).
    With a `skipped` list (`--on-error skip`) bad lines are left out and recorded there."""
    items = []
    for lineno, row in read_gold(path, skipped):
        prompt = row.prompt_record(f"{Path(path).name}:{lineno}")
        a, b = imported_sample(prompt.id, row.response_a), imported_sample(prompt.id, row.response_b)
        items.append(GoldItem(prompt=prompt, a=a, b=b, label=row.label, source=row.source))
    return items


def imported_for(config: JuryFields, catalog: Catalog) -> dict[str, list]:
    """The judgments of the config's imported jurors, read from the catalog (InputError when one has none)."""
    known = imported_judges(catalog)
    for juror in config.jurors:
        if juror.kind == "imported" and juror.judge not in known:
            raise InputError(catalog.path, None, None, f"no imported judgments by judge {juror.judge!r}; "
                             "load them with `prefsynth import-judgments FILE`")
    return {j.judge: imported_judgments(catalog, j.judge) for j in config.jurors if j.kind == "imported"}


@flow(name="judge-eval")
def evaluate_judge(config: JuryFields, catalog_path: str, gold_path: str, folds: int = 5,
                   on_error: str = "fail") -> dict:
    """Judge every gold pair with every juror and report the metrics per judge, per protocol and for the jury,
    and each aggregation's frontier with the `folds`-fold cross-validated fitted jury."""
    started = time.perf_counter()
    skipped: list | None = [] if on_error == "skip" else None
    items = gold_items(gold_path, skipped)
    with Catalog(catalog_path) as catalog, CallRunner(CallCache(catalog), config.engines, config.batch_size) as runner:
        panel = seat(config.jurors, runner, None, imported_for(config, catalog))
        prompts, pairs = {i.prompt.id: i.prompt for i in items}, [(i.a, i.b) for i in items]
        result = judge_in_groups(panel, prompts, pairs, runner, group_mapper(runner, len(pairs)))
    names = [name for _, _, name in panel.seats]
    out = {**gold_report(config, items, result, names), **calibration(config, items, result, names, folds)}
    if skipped is not None:
        out["skipped_gold"] = [str(e) for e in skipped]
    return {**out, "gold": str(gold_path), "wall_time_s": round(time.perf_counter() - started, 3),
            **runner.stats.as_dict()}
