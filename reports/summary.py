"""The numbers of a version report: pure functions from the catalog's report rows to a JSON-able summary.

The same summary feeds `prefsynth report` (HTML + plots), `prefsynth report --json` and the Prefect artifacts
attached to each flow run (reports/artifacts.py). Only aggregates go in (counts, histograms, rates), so it stays
small for a 100,000-pair version. The artifacts of a preference build use `preference_brief`, the part of the
summary they show, computed from counts aggregated in DuckDB (the full summary reads the version's rows).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from statistics import mean
from types import SimpleNamespace
from typing import Any

from ..schemas.dataset import DatasetVersion
from ..schemas.preference import VERDICT_MARGIN, Judgment
from ..schemas.stats import BuildStats, Funnel, PreferenceStats, VerifierStats, load_stats
from ..storage.report_data import JudgmentRow, PreferenceCounts, PreferenceData, RationaleRow, StepRow
from ..tasks.judge.agreement import cohen_kappa
from ..tasks.judge.jury import votes_for
from ..tasks.labels import derive

VERDICT_ORDER = list(VERDICT_MARGIN) + ["parse_error", "error"]
MC_BINS = 10


def base(version: DatasetVersion) -> dict[str, Any]:
    return {
        "name": version.name, "version": version.version, "kind": version.kind, "rows": version.row_count,
        "content_hash": version.content_hash, "parent_version": version.parent_version,
        "created_at": version.created_at.isoformat(), "flow_run_id": version.flow_run_id,
    }


# -- preference -----------------------------------------------------------------------------------------------
def preference_summary(version: DatasetVersion, data: PreferenceData) -> dict[str, Any]:
    st = load_stats("preference", version.stats)
    judges = sorted({j.judge for j in data.judgments})
    summary = {
        **base(version),
        "judges": judges,
        "funnel": st.funnel.model_dump(),
        "verdicts": verdict_counts(data.judgments),
        "margins": {"kept": _counts(p.margin for p in data.pairs if p.id in data.kept),
                    "dropped": _counts(p.margin for p in data.pairs if p.id not in data.kept)},
        "scores": score_counts(data.judgments),
        "longer_won": longer_won(data),
        "juror_kappa": juror_kappa(data) if len(judges) > 1 else None,
        "verifier": st.verifier and st.verifier.model_dump(),  # with a verifier juror (tasks/judge/verifier_stats.py)
    }
    summary["headline"] = preference_headline(version, st, summary, len(data.pairs))
    return summary


def preference_brief(version: DatasetVersion, counts: PreferenceCounts) -> dict[str, Any]:
    """What the Prefect artifacts show of a preference version — the report's headline, funnel and per-judge
    length rates — from counts aggregated in DuckDB (storage/report_data.py:preference_counts), so the end of a
    build never holds the version's rows. `markdown()` of it equals `markdown()` of `preference_summary`."""
    st = load_stats("preference", version.stats)
    summary = {**base(version), "judges": sorted({judge for judge, *_ in counts.judgments}),
               "funnel": st.funnel.model_dump(), "longer_won": longer_won_counted(counts)}
    summary["headline"] = preference_headline(version, st, summary, sum(counts.pairs.values()))
    return summary


def longer_won_counted(counts: PreferenceCounts) -> dict[str, Any]:
    """`longer_won` (same numbers) from the counts of `preference_counts`."""

    def rate(wins: int, decided: int) -> dict[str, Any]:
        return {"decided": decided, "longer_won": wins, "rate": round(wins / decided, 4) if decided else None}

    def pairs(kept_only: bool) -> dict[str, Any]:
        rows = [(longer, n) for (kept, decided, longer), n in counts.pairs.items() if decided and (kept or not kept_only)]
        return rate(sum(n for longer, n in rows if longer), sum(n for _, n in rows))

    by_judge: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # judge → [longer won, decided]
    for (judge, status, verdict, first_longer), n in counts.judgments.items():
        if status != "ok" or verdict is None or first_longer is None or not VERDICT_MARGIN[verdict]:
            continue
        by_judge[judge][0] += n * ((VERDICT_MARGIN[verdict] > 0) == first_longer)
        by_judge[judge][1] += n
    return {"pairs": pairs(False), "kept_pairs": pairs(True),
            "by_judge": {judge: rate(*wd) for judge, wd in sorted(by_judge.items())}}


def verdict_counts(judgments: list[JudgmentRow]) -> dict[str, dict[str, int]]:
    """Per judge: verdicts as presented (A = the response shown first: a skew here is position bias) and failures."""
    out: dict[str, Counter] = defaultdict(Counter)
    for j in judgments:
        if j.second_id is None:
            continue  # pointwise ratings have no verdict
        label = j.verdict if j.status == "ok" and j.verdict else (j.status if j.status != "ok" else None)
        if label:
            out[j.judge][label] += 1
    return {judge: {k: c[k] for k in VERDICT_ORDER if c[k]} for judge, c in sorted(out.items())}


def score_counts(judgments: list[JudgmentRow]) -> dict[str, dict[str, int]]:
    """Per scoring judge (pointwise, debate, imported scores): rating → count."""
    by_judge: dict[str, list[float]] = defaultdict(list)
    for j in judgments:
        by_judge[j.judge] += [v for v in (j.score_a, j.score_b) if v is not None]
    return {judge: _counts(v) for judge, v in sorted(by_judge.items()) if v}


def longer_won(data: PreferenceData) -> dict[str, Any]:
    """How often the longer response won: over decided pairs (all and kept) and over each judge's verdicts.

    A rate far above 50 % with a judge that is not asked about length is a sign of length bias (Dubois et al.
    2024, "Length-Controlled AlpacaEval"). Pairs or verdicts between equally long responses are left out.
    """

    def rate(wins: list[bool]) -> dict[str, Any]:
        return {"decided": len(wins), "longer_won": sum(wins),
                "rate": round(sum(wins) / len(wins), 4) if wins else None}

    decided = [p for p in data.pairs if not p.tie and data.chosen_longer(p) is not None]
    by_judge: dict[str, list[bool]] = defaultdict(list)
    for j in data.judgments:
        if j.status != "ok" or j.verdict is None or j.second_id is None or j.first_len == j.second_len:
            continue
        m = VERDICT_MARGIN[j.verdict]
        if m:
            by_judge[j.judge].append((m > 0) == ((j.first_len or 0) > (j.second_len or 0)))
    return {
        "pairs": rate([data.chosen_longer(p) for p in decided]),
        "kept_pairs": rate([data.chosen_longer(p) for p in decided if p.id in data.kept]),
        "by_judge": {judge: rate(w) for judge, w in sorted(by_judge.items())},
    }


def juror_winners(data: PreferenceData) -> dict[str, dict[str, int]]:
    """Judge → pair id → which response it says won (+1 the response with the smaller id, −1 the other, 0 tie),
    from all its votes on the pair (a pairwise judge's two orders summed: one that flips with the order has no
    preference).

    Absolute, not relative to the pair's chosen response: the jury picked `chosen` from these same votes, so
    "voted for chosen" is nearly always +1 for every juror and Cohen's κ on it sits near zero even when the
    jurors agree. The smaller id is a fixed order that does not depend on the jury's decision.
    """
    by_id = {j.id: j for j in data.judgments}
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for p in data.pairs:
        js = [_as_judgment(by_id[i]) for i in p.judgment_ids if i in by_id]
        x, y = (SimpleNamespace(id=i) for i in sorted((p.chosen_id, p.rejected_id)))
        margins: dict[str, list[float]] = defaultdict(list)
        for v in votes_for(x, y, js):
            if v.margin is not None:
                margins[v.judge].append(v.margin)
        for judge, ms in margins.items():
            total = sum(ms)
            out[judge][p.id] = (total > 0) - (total < 0)
    return out


def juror_kappa(data: PreferenceData) -> dict[str, Any]:
    """Pairwise Cohen's κ (Cohen 1960) between jurors' absolute winners (see `juror_winners`), over the pairs
    both voted on."""
    winners = juror_winners(data)
    judges = sorted(winners)
    k = len(judges)
    kappa: list[list[float | None]] = [[1.0 if a == b else None for b in range(k)] for a in range(k)]
    shared = [[len(winners[judges[a]]) if a == b else 0 for b in range(k)] for a in range(k)]
    for a, b in combinations(range(k), 2):
        common = sorted(set(winners[judges[a]]) & set(winners[judges[b]]))
        value = cohen_kappa([winners[judges[a]][i] for i in common], [winners[judges[b]][i] for i in common])
        kappa[a][b] = kappa[b][a] = None if value is None else round(value, 4)
        shared[a][b] = shared[b][a] = len(common)
    return {"judges": judges, "kappa": kappa, "pairs": shared}


def _as_judgment(r: JudgmentRow) -> Judgment:
    # model_construct: rows come from the catalog, already validated when they were written
    return Judgment.model_construct(id=r.id, prompt_id="", judge=r.judge, protocol=r.protocol, first_id=r.first_id,
                                    second_id=r.second_id, status=r.status, verdict=r.verdict, score_a=r.score_a,
                                    score_b=r.score_b)


def preference_headline(version: DatasetVersion, st: PreferenceStats, s: dict, pairs_judged: int) -> list[list[str]]:
    rows = [["rows (kept pairs)", str(version.row_count)], ["prompts", str(st.prompts)],
            ["samples", _fmt_counts(st.samples)], ["judgments", _fmt_counts(st.judgments)],
            ["judges", str(len(s["judges"]))], ["pairs judged", str(pairs_judged)]]
    f = st.funnel
    rows.append(["filter funnel", " → ".join([str(f.pairs_in)] + [f"{x.filter} −{x.dropped}" for x in f.steps])
                 + f" → {f.pairs_out}"])
    a = st.agreement  # None: built before juries
    if a is not None and (a.fleiss_kappa is not None or a.alpha_nominal is not None):
        rows.append(["agreement across raters", f"Fleiss κ {a.fleiss_kappa}, Krippendorff α {a.alpha_nominal}"])
    lw = s["longer_won"]
    rows.append(["longer response won", f"{_pct(lw['pairs']['rate'])} of {lw['pairs']['decided']} decided pairs; "
                 f"{_pct(lw['kept_pairs']['rate'])} of {lw['kept_pairs']['decided']} kept"])
    return rows + verifier_rows(st.verifier) + _call_rows(st)


def verifier_rows(v: VerifierStats | None) -> list[list[str]]:
    """The verifier's checks, and each other juror on the pairs it decided: right by the order shown (a gap
    between the two is position bias) and its vote (orders averaged) for the correct or the wrong answer."""
    if v is None:
        return []
    rows = [["verifier", f"{v.checked} pairs checked: {v.decided} with one answer correct "
             f"({v.kept} kept, chosen correct in {v.kept_chosen_correct}); abstained on {v.both_correct} "
             f"both correct, {v.neither_correct} neither, {v.unknown} unknown"]]
    for judge, f in v.judges.items():
        parts = [f"{c.right}/{c.right + c.wrong + c.tie} {shown}"
                 + (f" (+{c.no_verdict} no verdict)" if c.no_verdict else "")
                 for c, shown in ((f.correct_first, "with the correct answer shown first"),
                                  (f.correct_second, "shown second"), (f.scores, "from its ratings"))
                 if c is not None]
        bias = f.position_bias()
        rows.append(["vs verifier", f"{judge}: right " + ", ".join(parts)
                     + (f" (position bias {bias:+.2f})" if bias is not None else "")
                     + f"; votes for the correct answer {f.votes.correct}, for the wrong {f.votes.wrong}, "
                       f"abstained {f.votes.abstain}"])
    return rows


# -- stepwise -------------------------------------------------------------------------------------------------
def stepwise_summary(version: DatasetVersion, rows: list[StepRow], threshold: float = 0.0) -> dict[str, Any]:
    """Label balance by step index (hard labels as exported at `threshold`) and the stored MC values."""
    by_step: dict[int, Counter] = defaultdict(Counter)
    mc_values: list[float] = []
    for r in rows:
        labels = derive(r.solution, threshold)
        estimated = {lb.step_index for lb in r.solution.labels}
        for i, ok in enumerate(labels.hard):
            by_step[i]["positive" if ok else "negative"] += 1
            by_step[i]["estimated"] += i in estimated
        mc_values += [lb.mc for lb in r.solution.labels]
    bins = [0] * MC_BINS
    for v in mc_values:
        bins[min(int(v * MC_BINS), MC_BINS - 1)] += 1
    st = load_stats("stepwise", version.stats)
    summary = {
        **base(version),
        "method": st.method,
        "label_threshold": threshold,
        "by_step": [{"step": i, "positive": c["positive"], "negative": c["negative"], "estimated": c["estimated"]}
                    for i, c in sorted(by_step.items())],
        "mc": {"bins": bins, "edges": [round(i / MC_BINS, 2) for i in range(MC_BINS + 1)], "count": len(mc_values),
               "zero": sum(v == 0 for v in mc_values), "one": sum(v == 1 for v in mc_values),
               "mean": round(mean(mc_values), 4) if mc_values else None},
    }
    positives = sum(s["positive"] for s in summary["by_step"])
    steps = positives + sum(s["negative"] for s in summary["by_step"])
    summary["headline"] = [
        ["rows (labelled solutions)", str(version.row_count)], ["problems", str(st.problems)],
        ["method", st.method], ["solutions", _fmt_counts(st.solutions)],
        ["steps labelled correct", f"{_pct(positives / steps if steps else None)} of {steps}"],
        ["MC values", f"{len(mc_values)} estimates, mean {summary['mc']['mean']}, "
                      f"{summary['mc']['zero']} at 0, {summary['mc']['one']} at 1"],
    ] + _call_rows(st)
    return summary


# -- rationale ------------------------------------------------------------------------------------------------
def rationale_summary(version: DatasetVersion, rows: list[RationaleRow]) -> dict[str, Any]:
    """Agreement of the K sampled judgments with each item's reference (gold label, verifier or consensus)."""
    by_source: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.reference and r.n_parsed:
            by_source[r.reference_source].append(r.n_right / r.n_parsed)
    st = load_stats("rationale", version.stats)
    summary = {
        **base(version),
        "agreement": {src: {"items": len(v), "mean": round(mean(v), 4),
                            "bins": _bins(v, 5)} for src, v in sorted(by_source.items())},
        "no_reference": sum(1 for r in rows if not r.reference),
    }
    summary["headline"] = [
        ["rows (items)", str(version.row_count)], ["judgments", _fmt_counts(st.judgments)],
        ["references", _fmt_counts(st.references)],
        ["agreement with reference", str(st.agreement_with_reference)],
        ["rationale pairs", str(st.rationale_pairs)],
    ] + [[f"agreement ({src})", f"{_pct(a['mean'])} over {a['items']} items"] for src, a in summary["agreement"].items()] \
      + _call_rows(st)
    return summary


# -- shared ---------------------------------------------------------------------------------------------------
def _call_rows(st: BuildStats) -> list[list[str]]:
    return [["engine calls", f"{st.engine_calls} (cache hits {st.cache_hits}, errors {st.engine_errors})"],
            ["tokens", f"prompt {st.prompt_tokens}, completion {st.completion_tokens}"
             + (f"; cost {st.cost:g}" if st.cost else "")],
            ["build wall time", f"{st.wall_time_s:.1f} s"]]


def _counts(values) -> dict[str, int]:
    """Distinct values (rounded to 0.01) → count, ordered by value; JSON keys are strings."""
    c = Counter(round(float(v), 2) for v in values)
    return {f"{k:g}": c[k] for k in sorted(c)}


def _bins(values: list[float], n: int) -> list[int]:
    out = [0] * n
    for v in values:
        out[min(int(v * n), n - 1)] += 1
    return out


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _fmt_counts(d: dict | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted((d or {}).items())) or "–"


def summary_funnel(summary: dict) -> Funnel | None:
    """The build's filter funnel a summary carries (preference versions), typed."""
    funnel = summary.get("funnel")
    return Funnel.model_validate(funnel) if funnel else None


def markdown(summary: dict) -> str:
    """The summary as Markdown (the Prefect artifact): headline table, then the funnel when there is one."""
    lines = [f"# {summary['name']} v{summary['version']} ({summary['kind']})", "",
             f"content hash `{summary['content_hash'][:16]}`, parent "
             + (f"v{summary['parent_version']}" if summary["parent_version"] else "none"), "",
             "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in summary["headline"]]
    funnel = summary_funnel(summary)
    if funnel:
        lines += ["", "## Filter funnel", "", "| filter | in | dropped | reasons |", "| --- | ---: | ---: | --- |"]
        for step in funnel.steps:
            lines.append(f"| {step.filter} | {step.in_} | {step.dropped} | {_fmt_counts(step.reasons)} |")
        lines.append(f"| **kept** | {funnel.pairs_out} | | |")
    lw = summary.get("longer_won")
    if lw and lw["by_judge"]:
        lines += ["", "## Longer response won (per judge's verdicts)", "", "| judge | verdicts | longer won |",
                  "| --- | ---: | ---: |"]
        lines += [f"| `{j}` | {r['decided']} | {_pct(r['rate'])} |" for j, r in lw["by_judge"].items()]
    return "\n".join(lines) + "\n"
