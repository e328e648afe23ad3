"""Running a jury: pointwise ratings → pair selection → pairwise, debate and imported judgments → aggregated pairs.

Thin glue over the pure protocol modules in tasks/judge/: each protocol builds its requests and reads its
replies there; here the requests go through the `CallRunner` (cache first, then engine batches as Prefect
tasks), and imported judgments come from the catalog. Shared by the build and the judge evaluation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial

from ..schemas.judges import DebateJudgeConfig, ImportedJudgeConfig, JudgeConfig, PairingConfig, PointwiseJudgeConfig
from ..schemas.preference import Judgment, PreferencePair, Prompt, Sample
from ..schemas.verifier import VerifierJudgeConfig
from ..storage.catalog import Catalog
from ..storage.inputs import InputError
from ..storage.records import imported_judgments
from ..tasks.judge import debate, pointwise, single, verifier
from ..tasks.judge.calibrated import aggregate_pairs
from ..tasks.judge.imported import match_imported
from ..tasks.judge.jury import Jury, JurorSpec, jury_agreement, votes_for
from ..tasks.pairs import mean_scores, select_pairs
from ..runtime.calls import CallRunner
from .debating import run_debates

Pair = tuple[Sample, Sample]


@dataclass(frozen=True)
class JuryResult:
    judgments: list[Judgment]
    pairs: list[PreferencePair]
    by_pair: list[list[Judgment]]  # the judgments of pairs[k], ratings included
    candidates: list[Pair]  # (x, y) of pairs[k]
    jury: Jury  # how each juror's votes are read (score range, weight): filters re-count with it


_PROTOCOLS = {JudgeConfig: single, PointwiseJudgeConfig: pointwise, DebateJudgeConfig: debate}


def juror_name(juror, runner: CallRunner) -> str:
    """The juror's judge name: its engine and the settings that change its verdicts, the imported name, or the
    verifier's checking rule."""
    if isinstance(juror, ImportedJudgeConfig):
        return juror.judge
    if isinstance(juror, VerifierJudgeConfig):
        return verifier.judge_name(juror)
    return _PROTOCOLS[type(juror)].judge_name(runner.engine_name(juror.engine), juror)


def jury_of(jurors: list, runner: CallRunner) -> Jury:
    """Each juror's score range (its rubric, debate scores or declared import range), `weight` (default 1) and
    abstention threshold (`abstain_below`, imported scores) under its judge name (tasks/judge/votes.py)."""
    return Jury.of([JurorSpec(juror_name(j, runner), j.score_range, j.weight, getattr(j, "abstain_below", 0.0))
                    for j in jurors])


def rate_samples(jurors: list, prompts: dict[str, Prompt], samples: list[Sample], runner: CallRunner) -> list[Judgment]:
    """Every pointwise juror rates every given sample (feedback, then a rubric score; one constrained re-ask)."""
    ratings: list[Judgment] = []
    for cfg in (j for j in jurors if isinstance(j, PointwiseJudgeConfig)):
        items = [pointwise.PointwiseItem(prompts[s.prompt_id], s) for s in samples]
        firsts = [pointwise.first_request(cfg, it) for it in items]
        followup = partial(pointwise.reask_for, cfg) if cfg.reask else None
        answers = runner.run_with_followup(cfg.engine, firsts, "rate (pointwise)", followup)
        name = juror_name(cfg, runner)
        ratings.extend(pointwise.to_judgment(name, cfg, it, *a) for it, a in zip(items, answers, strict=True))
    return ratings


def judge_ordered(jurors: list, prompts: dict[str, Prompt], pairs: list[Pair], runner: CallRunner,
                  catalog: Catalog) -> list[list[Judgment]]:
    """For each pair, the judgments of the pairwise (both orders), debate, imported and verifier jurors."""
    out: list[list[Judgment]] = [[] for _ in pairs]
    for cfg in jurors:
        if isinstance(cfg, JudgeConfig):
            found = _pairwise(cfg, prompts, pairs, runner)
        elif isinstance(cfg, DebateJudgeConfig):
            found = run_debates(cfg, juror_name(cfg, runner), prompts, pairs, runner)
        elif isinstance(cfg, ImportedJudgeConfig):
            found = match_imported(pairs, prompts, imported_judgments(catalog, cfg.judge))
        elif isinstance(cfg, VerifierJudgeConfig):  # answers checked against the prompt's reference, no model
            found = verifier.verify_pairs(cfg, juror_name(cfg, runner), prompts, pairs)
        else:
            continue
        for k, js in enumerate(found):
            out[k].extend(js)
    return out


CHUNK_REQUESTS = 8192  # judging requests built and held at once (~9 KB each with their replies, in memory)


def _pairwise(cfg: JudgeConfig, prompts: dict[str, Prompt], pairs: list[Pair], runner: CallRunner) -> list[list[Judgment]]:
    """Both orders of every pair. In chunks of whole batches: 120,000 requests and their replies held at once
    would need ~1 GB (benchmarks/throughput.py); a chunk's are dropped once its judgments are made."""
    followup = partial(single.reask_for, cfg) if cfg.reask else None
    name = juror_name(cfg, runner)
    per_chunk = max(1, runner.batch_size * max(1, CHUNK_REQUESTS // runner.batch_size) // 2)  # pairs
    judgments: list[Judgment] = []
    for start in range(0, len(pairs), per_chunk):
        items = [it for x, y in pairs[start : start + per_chunk] for it in single.both_orders(prompts[x.prompt_id], x, y)]
        firsts = [single.first_request(cfg, it) for it in items]
        answers = runner.run_with_followup(cfg.engine, firsts, "judge (pairwise)", followup)
        judgments += [single.to_judgment(name, it, *answers[i]) for i, it in enumerate(items)]
    return [judgments[2 * k : 2 * k + 2] for k in range(len(pairs))]


def run_jury(jurors: list, prompts: dict[str, Prompt], samples: list[Sample], pairing: PairingConfig,
             runner: CallRunner, catalog: Catalog, aggregation=None) -> JuryResult:
    """The whole judging stage of a build: rate, select pairs, judge them, aggregate each pair's votes (by
    `aggregation`, default majority: tasks/judge/calibrated.py)."""
    groups = Counter(s.prompt_id for s in samples if s.status in ("ok", "truncated"))
    rateable = [s for s in samples if s.status in ("ok", "truncated") and groups[s.prompt_id] > 1]
    ratings = rate_samples(jurors, prompts, rateable, runner)
    pairs = select_pairs(samples, pairing, mean_scores(ratings))
    return judge_given_pairs(jurors, prompts, pairs, ratings, runner, catalog, aggregation)


def judge_given_pairs(jurors: list, prompts: dict[str, Prompt], pairs: list[Pair], ratings: list[Judgment] | None,
                      runner: CallRunner, catalog: Catalog, aggregation=None) -> JuryResult:
    """Judge fixed pairs (ratings are made here when not given) and aggregate each pair's votes."""
    if ratings is None:
        unique = list({s.id: s for pair in pairs for s in pair}.values())
        ratings = rate_samples(jurors, prompts, unique, runner)
    by_sample: dict[str, list[Judgment]] = defaultdict(list)
    for r in ratings:
        by_sample[r.first_id].append(r)
    ordered = judge_ordered(jurors, prompts, pairs, runner, catalog)
    by_pair = [by_sample[x.id] + by_sample[y.id] + js for (x, y), js in zip(pairs, ordered, strict=True)]
    jury = jury_of(jurors, runner)
    check_fitted_judges(aggregation, [s.judge for s in jury.specs])
    aggregated = aggregate_pairs(pairs, by_pair, jury, aggregation)
    judgments = ratings + [j for js in ordered for j in js]
    return JuryResult(judgments=list({j.id: j for j in judgments}.values()), pairs=aggregated, by_pair=by_pair,
                      candidates=pairs, jury=jury)


def check_fitted_judges(aggregation, judges: list[str]) -> None:
    """A fitted jury names its jurors: a coefficient for a judge not in the jury means the wrong config."""
    unknown = sorted(set(getattr(aggregation, "coefficients", {})) - set(judges))
    if unknown:  # an InputError: the CLI prints it as one line and exits non-zero, no version is written
        raise InputError("aggregation.coefficients", None, None, f"no juror named {', '.join(map(repr, unknown))} "
                         f"in this jury (jurors: {', '.join(judges)})")


def merge_juries(parts: list[JuryResult], aggregation=None) -> JuryResult:
    """The jury results of disjoint groups of prompts (judged with the default majority) as one, in the order
    of the groups, every pair labelled by `aggregation` over all of them (a Dawid-Skene fit needs every pair)."""
    judgments = [j for part in parts for j in part.judgments]
    candidates = [c for part in parts for c in part.candidates]
    by_pair = [b for part in parts for b in part.by_pair]
    return JuryResult(judgments=list({j.id: j for j in judgments}.values()),
                      pairs=aggregate_pairs(candidates, by_pair, parts[0].jury, aggregation),
                      by_pair=by_pair, candidates=candidates, jury=parts[0].jury)


def jury_stats(result: JuryResult) -> dict:
    """Status counts per judge and agreement across jurors (Fleiss' κ, Krippendorff's α)."""
    per_judge: dict[str, Counter] = defaultdict(Counter)
    for j in result.judgments:
        per_judge[j.judge][j.status] += 1
    votes = [votes_for(x, y, js, result.jury) for (x, y), js in zip(result.candidates, result.by_pair, strict=True)]
    return {
        "judges": {name: dict(c) for name, c in sorted(per_judge.items())},
        "agreement": jury_agreement(votes),
    }
