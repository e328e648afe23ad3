"""PNG plots of a version report (matplotlib's object API on the Agg canvas: no display, no pyplot state).

Each function takes the summary made by reports/summary.py, writes one PNG into `out` and returns its
file name with a caption, or None when the version has nothing to show for that plot.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from .summary import VERDICT_ORDER, summary_funnel

Plot = tuple[str, str] | None  # (file name, caption)

KEPT, DROPPED, NEUTRAL, BAD = "#2a9d8f", "#e76f51", "#8d99ae", "#6d597a"


def _save(fig: Figure, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    return name


def judge_labels(judges: list[str]) -> dict[str, str]:
    """Short plot labels J1, J2, … (the HTML lists the full judge names)."""
    return {j: f"J{i}" for i, j in enumerate(judges, start=1)}


def funnel(s: dict, out: Path) -> Plot:
    f = summary_funnel(s)
    if f is None:
        return None
    names = ["judged pairs"] + [step.filter for step in f.steps]
    remaining = [f.pairs_in] + [step.in_ - step.dropped for step in f.steps]
    dropped = [0] + [step.dropped for step in f.steps]
    fig = Figure(figsize=(7, 0.6 * len(names) + 1.4))
    ax = fig.subplots()
    y = list(range(len(names)))[::-1]
    ax.barh(y, remaining, color=KEPT, label="remaining")
    ax.barh(y, dropped, left=remaining, color=DROPPED, label="dropped here")
    for yi, r, d in zip(y, remaining, dropped):
        ax.text(r + d, yi, f" {r}" + (f"  (−{d})" if d else ""), va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.set_xlim(0, max(f.pairs_in, 1) * 1.25)
    ax.set_xlabel("pairs")
    ax.set_title("Filter funnel (filters in configured order)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out, "funnel.png"), "Pairs remaining after each filter; red is what that filter dropped."


def verdicts(s: dict, out: Path) -> Plot:
    counts = s.get("verdicts") or {}
    if not counts:
        return None
    labels = [v for v in VERDICT_ORDER if any(v in c for c in counts.values())]
    short = judge_labels(s["judges"])
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    width = 0.8 / len(counts)
    for k, (judge, c) in enumerate(counts.items()):
        total = sum(c.values()) or 1
        xs = [i + (k - (len(counts) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, [100 * c.get(v, 0) / total for v in labels], width, label=short.get(judge, judge))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("% of the judge's verdicts")
    ax.set_title("Verdicts as presented (A = response shown first)")
    ax.legend(fontsize=8)
    return _save(fig, out, "verdicts.png"), ("Verdict distribution per judge, in presentation order: with both orders "
                                            "judged, an unbiased judge is symmetric; a lean to A or B is position bias.")


def margins(s: dict, out: Path) -> Plot:
    m = s.get("margins") or {}
    if not (m.get("kept") or m.get("dropped")):
        return None
    values = sorted({float(v) for part in m.values() for v in part})
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    kept = [m["kept"].get(f"{v:g}", 0) for v in values]
    dropped = [m["dropped"].get(f"{v:g}", 0) for v in values]
    xs = range(len(values))
    ax.bar(xs, kept, color=KEPT, label="kept")
    ax.bar(xs, dropped, bottom=kept, color=DROPPED, label="dropped")
    ax.set_xticks(list(xs), [f"{v:g}" for v in values], rotation=45 if len(values) > 12 else 0)
    ax.set_xlabel("margin μ (mean signed vote for the chosen response)")
    ax.set_ylabel("pairs")
    ax.set_title("Pair margins")
    ax.legend(fontsize=8)
    return _save(fig, out, "margins.png"), "Distribution of pair strength μ, kept vs dropped pairs."


def scores(s: dict, out: Path) -> Plot:
    by_judge = s.get("scores") or {}
    if not by_judge:
        return None
    short = judge_labels(s["judges"])
    fig = Figure(figsize=(7, 2.6 * len(by_judge) + 0.6))
    axes = fig.subplots(len(by_judge), 1, squeeze=False)[:, 0]
    for ax, (judge, counts) in zip(axes, by_judge.items()):
        ax.bar(range(len(counts)), list(counts.values()), color=NEUTRAL)
        ax.set_xticks(range(len(counts)), list(counts))
        ax.set_ylabel("ratings")
        ax.set_title(f"{short.get(judge, judge)}: ratings ({sum(counts.values())})", fontsize=10)
    axes[-1].set_xlabel("rating")
    return _save(fig, out, "scores.png"), "Distribution of the absolute ratings per scoring juror (pointwise, debate, imported scores)."


def juror_agreement(s: dict, out: Path) -> Plot:
    k = s.get("juror_kappa")
    if not k or len(k["judges"]) < 2:
        return None
    n = len(k["judges"])
    short = judge_labels(s["judges"])
    labels = [short.get(j, j) for j in k["judges"]]
    grid = [[float("nan") if v is None else v for v in row] for row in k["kappa"]]
    fig = Figure(figsize=(1.1 * n + 2.6, 1.0 * n + 1.6))
    ax = fig.subplots()
    im = ax.imshow(grid, vmin=-1, vmax=1, cmap="RdYlGn")
    for a in range(n):
        for b in range(n):
            v = k["kappa"][a][b]
            ax.text(b, a, "–" if v is None else f"{v:.2f}\n(n={k['pairs'][a][b]})", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_title("Juror agreement (Cohen's κ on pair winners)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _save(fig, out, "juror_agreement.png"), ("Pairwise Cohen's κ between jurors' winners on the pairs both "
                                                    "judged (n): which of the two responses won (not whether the "
                                                    "jury's chosen one did); a pairwise juror's winner sums its two "
                                                    "orders.")


def longer_won(s: dict, out: Path) -> Plot:
    lw = s.get("longer_won")
    if not lw or not lw["pairs"]["decided"]:
        return None
    short = judge_labels(s["judges"])
    bars = [("decided pairs", lw["pairs"]), ("kept pairs", lw["kept_pairs"])]
    bars += [(f"{short.get(j, j)} verdicts", r) for j, r in lw["by_judge"].items()]
    bars = [(name, r) for name, r in bars if r["decided"]]
    fig = Figure(figsize=(7, 0.5 * len(bars) + 1.5))
    ax = fig.subplots()
    y = list(range(len(bars)))[::-1]
    ax.barh(y, [100 * r["rate"] for _, r in bars], color=[KEPT if "pairs" in n else NEUTRAL for n, _ in bars])
    for yi, (_, r) in zip(y, bars):
        ax.text(100 * r["rate"], yi, f" {100 * r['rate']:.0f}% of {r['decided']}", va="center", fontsize=9)
    ax.axvline(50, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(y, [n for n, _ in bars])
    ax.set_xlim(0, 115)
    ax.set_xlabel("% won by the longer response")
    ax.set_title("How often the longer response won")
    return _save(fig, out, "longer_won.png"), "Share of decided pairs (and of each judge's verdicts) won by the longer response; 50 % is no length preference."


def label_balance(s: dict, out: Path) -> Plot:
    steps = s.get("by_step") or []
    if not steps:
        return None
    xs = [r["step"] for r in steps]
    pos = [r["positive"] for r in steps]
    neg = [r["negative"] for r in steps]
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    ax.bar(xs, pos, color=KEPT, label="correct (+)")
    ax.bar(xs, neg, bottom=pos, color=DROPPED, label="incorrect (−)")
    ax.set_xlabel("step index")
    ax.set_ylabel("labelled steps")
    ax.set_title(f"Label balance by step index (MC > {s['label_threshold']:g})")
    ax.legend(fontsize=8)
    return _save(fig, out, "label_balance.png"), "Hard step labels as exported, by position in the solution."


def mc_values(s: dict, out: Path) -> Plot:
    mc = s.get("mc") or {}
    if not mc.get("count"):
        return None
    edges = mc["edges"]
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    ax.bar(edges[:-1], mc["bins"], width=edges[1] - edges[0], align="edge", color=NEUTRAL, edgecolor="white")
    ax.set_xlabel("MC value (share of rollouts from the prefix that reached the gold answer)")
    ax.set_ylabel("estimates")
    ax.set_title(f"MC values ({mc['count']} estimates, mean {mc['mean']})")
    return _save(fig, out, "mc_values.png"), "Distribution of the stored Monte-Carlo estimates n_correct / n_rollouts."


def rationale_agreement(s: dict, out: Path) -> Plot:
    agr = s.get("agreement") or {}
    if not agr:
        return None
    fig = Figure(figsize=(7, 3.4))
    ax = fig.subplots()
    n_bins = len(next(iter(agr.values()))["bins"])
    width = 0.8 / len(agr)
    for k, (src, a) in enumerate(agr.items()):
        xs = [i + (k - (len(agr) - 1) / 2) * width for i in range(n_bins)]
        ax.bar(xs, a["bins"], width, label=f"{src} (mean {100 * a['mean']:.0f}%, {a['items']} items)")
    ax.set_xticks(range(n_bins), [f"{100 * i // n_bins}–{100 * (i + 1) // n_bins}%" for i in range(n_bins)])
    ax.set_xlabel("share of an item's parsed judgments that agree with its reference")
    ax.set_ylabel("items")
    ax.set_title("Agreement with gold / verifier / consensus")
    ax.legend(fontsize=8)
    return _save(fig, out, "rationale_agreement.png"), "Per item: how many of the K sampled judgments agree with its reference, by reference source."


def confidence_frontier(s: dict, out: Path) -> Plot:
    """Left: precision against coverage on gold (the fitted jury's cross-validated frontier, when the build's
    aggregation was fitted); right: the share of this build's pairs at or above each confidence threshold."""
    c = s.get("confidence")
    if not c:
        return None
    frontier = [r for r in c.get("frontier") or [] if r.get("precision") is not None]
    if not frontier and len(s.get("judges") or []) < 2:
        return None  # one judge under majority: every confidence is 1 or 0.5, nothing to choose from
    fig = Figure(figsize=(9 if frontier else 5, 3.8))
    axes = fig.subplots(1, 2 if frontier else 1, squeeze=False)[0]
    if frontier:
        ax = axes[0]
        ax.plot([100 * r["coverage"] for r in frontier], [100 * r["precision"] for r in frontier], "o-", color=KEPT)
        for r in frontier:
            ax.annotate(f"{r['threshold']:g}", (100 * r["coverage"], 100 * r["precision"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        if c.get("threshold") is not None:
            ax.axvline(100 * _coverage_at(frontier, c["threshold"]), color=DROPPED, linestyle="--", linewidth=1,
                       label=f"configured min_confidence {c['threshold']:g}")
            ax.legend(fontsize=8)
        ax.set_xlabel("coverage on gold (% of items kept)")
        ax.set_ylabel("precision (% kept that are right)")
        ax.set_title(f"Frontier: {c['frontier_how']}", fontsize=9)
    ax = axes[-1]
    ts = [r["threshold"] for r in c["coverage"]]
    ax.plot(ts, [100 * r["share"] for r in c["coverage"]], "o-", color=NEUTRAL)
    if c.get("threshold") is not None:
        ax.axvline(c["threshold"], color=DROPPED, linestyle="--", linewidth=1)
    ax.set_xlabel("confidence threshold")
    ax.set_ylabel("% of this build's pairs at or above it")
    ax.set_ylim(0, 105)
    ax.set_title(f"This build ({c['aggregation']}): {c['pairs']} jury pairs", fontsize=9)
    caption = ("Right: how many of the jury's pairs a confidence filter would keep at each threshold. "
               + ("Left: precision against coverage on held-out gold items (labels show the threshold) — pick "
                  "the threshold there." if frontier else "Precision needs gold labels: run eval-judge (its "
                  "frontier) or build with a fitted jury to see it here."))
    return _save(fig, out, "confidence.png"), caption


def _coverage_at(frontier: list[dict], threshold: float) -> float:
    at = [r for r in frontier if r["threshold"] <= threshold]
    return (at[-1] if at else frontier[0])["coverage"]


PLOTS = {
    "preference": [funnel, verdicts, margins, scores, juror_agreement, longer_won, confidence_frontier],
    "stepwise": [label_balance, mc_values],
    "rationale": [rationale_agreement],
}
