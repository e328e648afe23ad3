"""Judge evaluation: gold pairs → the configured judge or jury (both orders) → accuracy and friends.

`prefsynth eval-judge CONFIG --gold FILE.jsonl`. CONFIG is a judge-evaluation config (engines, judge or jury,
filters) or a whole build config, whose prompts and policies are then ignored. Engine calls go through the
catalog's call cache, so a re-run is free; imported jurors read their judgments from the catalog. Nothing else
is written. The report also has each aggregation's accuracy and precision/coverage frontier and the fitted jury
(k-fold cross-validated: flows/eval_fit.py).
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
from ..tasks.judge.evaluation import GoldItem, evaluate_group, gold_longer_wins
from ..runtime.calls import CallRunner
from ..config.preference import JuryFields
from .eval_fit import calibration
from ..tasks.judge.panel import JuryResult, judge_given_pairs, label, seat


def gold_items(path: Path | str, skipped: list | None = None) -> list[GoldItem]:
    """The gold file as items: a prompt and its two responses (identity by text, as for imported judgments).
    With a `skipped` list (`--on-error skip`) bad lines are left out and recorded there."""
    items = []
    for lineno, row in read_gold(path, skipped):
        prompt = row.prompt_record(f"{Path(path).name}:{lineno}")
        a, b = imported_sample(prompt.id, row.response_a), imported_sample(prompt.id, row.response_b)
        items.append(GoldItem(prompt=prompt, a=a, b=b, label=row.label, source=row.source))
    return items


def _check_imported(config: JuryFields, catalog: Catalog) -> None:
    known = imported_judges(catalog)
    for juror in config.jurors:
        if juror.kind == "imported" and juror.judge not in known:
            raise InputError(catalog.path, None, None, f"no imported judgments by judge {juror.judge!r}; "
                             "load them with `prefsynth import-judgments FILE`")


def _groups(config: JuryFields, names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(group name, protocol, judge names): each juror, each protocol with several jurors, and the whole jury."""
    pairs = enumerate(zip(names, config.jurors, strict=True), start=1)
    groups = [(f"juror {k}", juror.kind, [name]) for k, (name, juror) in pairs]
    kinds = [j.kind for j in config.jurors]
    for kind in dict.fromkeys(kinds):
        if 1 < kinds.count(kind) < len(kinds):
            groups.append((f"{kind} jurors", kind, [n for n, k in zip(names, kinds, strict=True) if k == kind]))
    if len(names) > 1:
        groups.append(("jury", "jury", names))
    return groups


def report(config: JuryFields, items: list[GoldItem], result: JuryResult, names: list[str]) -> dict:
    rows = []
    for group, protocol, members in _groups(config, names):
        chosen = set(members)
        judgments = [[j for j in js if j.judge in chosen] for js in result.by_pair]
        whole = set(members) == set(names)  # the configured aggregation is about the whole jury
        rows.append({**evaluate_group(group, protocol, len(members), items, judgments, config.filters, result.jury,
                                      config.aggregation if whole else None), "judges": members})
    sources = sorted({i.source for i in items})
    return {"items": len(items), "sources": sources, "gold_longer_wins": gold_longer_wins(items), "groups": rows}


@flow(name="judge-eval")
def evaluate_judge(config: JuryFields, catalog_path: str, gold_path: str, folds: int = 5,
                   on_error: str = "fail") -> dict:
    """Judge every gold pair with every juror and report the metrics per judge, per protocol and for the jury,
    and each aggregation's frontier with the `folds`-fold cross-validated fitted jury."""
    started = time.perf_counter()
    skipped: list | None = [] if on_error == "skip" else None
    items = gold_items(gold_path, skipped)
    prompts = {i.prompt.id: i.prompt for i in items}
    with Catalog(catalog_path) as catalog:
        _check_imported(config, catalog)
        runner = CallRunner(CallCache(catalog), config.engines, config.batch_size)
        imported = {j.judge: imported_judgments(catalog, j.judge) for j in config.jurors if j.kind == "imported"}
        panel = seat(config.jurors, runner, None, imported)
        names = [name for _, _, name in panel.seats]
        result = label(judge_given_pairs(panel, prompts, [(i.a, i.b) for i in items], runner))
    out = report(config, items, result, names)
    out.update(calibration(config, items, result, names, folds))
    if skipped is not None:
        out["skipped_gold"] = [str(e) for e in skipped]
    out.update(gold=str(gold_path), wall_time_s=round(time.perf_counter() - started, 3), **runner.stats.as_dict())
    return out
