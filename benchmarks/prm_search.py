"""OmegaPRM vs Math-Shepherd on an honest simulated policy whose true first errors are known exactly.

The policy (`sim_policy.py`, `Noise.honest()`) makes the errors real policies make: arithmetic slips by a small
offset that a later slip can cancel (so a prefix holding an error still has some correct completions),
continuations cut at max_tokens, unreadable answer lines, checker timeouts, steps of several lines. Chains of
3–8 steps, every step wrong with probability p_err (the same for every problem).

Each arm runs the production search driver (`tasks.search.*.run_*`) against its own fresh policy and counts
what the flow would export:
- math_shepherd (n): 4 solutions sampled per problem, every step of each labelled from n completions per
  prefix (Wang et al. 2024); a solution is labelled when every step got a label (the flow's rule).
- omegaprm_mc (paper): screening + Q/U selection + binary search, a prefix correct iff MC > 0 of k rollouts
  (Luo et al. 2024); a solution is labelled when its first error was located.
- omegaprm_seq (budget): the same search with the sequential test (`tasks/search/estimate.py`).
Tokens count everything generated (solutions, screening, every rollout), ceil(characters / 4) each.
Metrics: exact first-error accuracy on labelled solutions that truly have an error and on those that do not
(ProcessBench-style), how far off the misses are (early/late), tokens per DISTINCT labelled solution, and the
duplicate rate (labelled rows whose solution text was labelled already; the flow keeps one row per solution).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import machine  # noqa: E402
from sim_policy import ChainProblem, Noise, SimPolicy, make_problems  # noqa: E402

from prefsynth.schemas.process import (  # noqa: E402
    LabelledSolution, MathShepherdConfig, OmegaPRMConfig, RolloutRequest, Solution,
)
from prefsynth.tasks.search.math_shepherd import run_math_shepherd  # noqa: E402
from prefsynth.tasks.search.omegaprm import run_omegaprm  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
Labelled = list[tuple[str, str, int | None]]  # (problem_id, solution text, predicted first error)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--problems", type=int, default=200, help="simulated problems per noise level (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="problem and policy seed (default 0)")
    parser.add_argument("--p-err", type=float, nargs="+", default=[0.1, 0.2, 0.3], help="per-step error rates")
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 20, 40],
                        help="OmegaPRM max_estimates per problem, in units of k rollouts (default 10 20 40)")
    parser.add_argument("--k", type=int, default=8, help="OmegaPRM rollouts per estimate/draw (default 8)")
    parser.add_argument("--error-value", type=float, default=OmegaPRMConfig().error_value,
                        help="sequential test: assumed value of a prefix holding an error (default %(default)s)")
    parser.add_argument("--shepherd-n", type=int, nargs="+", default=[4, 8, 16], help="Math-Shepherd N values")
    parser.add_argument("--solutions", type=int, default=4, help="Math-Shepherd solutions per problem (default 4)")
    parser.add_argument("--kind", action="store_true", help="the kind policy (no noise, errors never cancel)")
    parser.add_argument("--out", type=Path, default=RESULTS / "prm_search.json", help="results JSON")
    parser.add_argument("--plot", type=Path, default=RESULTS / "prm_search.png", help="accuracy-vs-tokens plot")
    return parser.parse_args(argv)


def omegaprm_arm(problems: list[ChainProblem], policy: SimPolicy, config: OmegaPRMConfig) -> tuple[Labelled, dict]:
    results = run_omegaprm([cp.problem for cp in problems], policy, config, model="sim")
    rows: Labelled = []
    for result in results:
        for path in result.paths:
            if path.status == "located":
                row = LabelledSolution.create(path.solution.id, "omegaprm", len(path.steps), path.labels)
                rows.append((result.problem_id, path.solution.text, row.first_error))
    stops = Counter(r.stats.stop_reason for r in results)
    return rows, {"stop_reasons": dict(stops), "extra_draws": sum(r.stats.extra_draws for r in results)}


def shepherd_arm(problems: list[ChainProblem], policy: SimPolicy, n: int, per_problem: int) -> tuple[Labelled, dict]:
    sampled = policy([RolloutRequest(cp.problem.id, "", per_problem) for cp in problems])
    solutions = {s.id: s for cp, rollouts in zip(problems, sampled, strict=True) for r in rollouts
                 for s in [Solution.create(cp.problem.id, "sim", r.text, r.final_answer, r.check_status)]}
    result = run_math_shepherd(list(solutions.values()), policy, MathShepherdConfig(n=n), completer="sim")
    rows: Labelled = [(item.solution.problem_id, item.solution.text, item.first_error)
                      for item in result.labelled if not item.missing and item.steps]
    return rows, {"incomplete": sum(1 for item in result.labelled if item.missing)}


def score(rows: Labelled, policy: SimPolicy) -> dict:
    """Exact first-error accuracy with / without a true error, miss offsets, duplicates."""
    seen, duplicates = set(), 0
    with_err, without, offsets = [], [], Counter()
    for problem_id, text, predicted in rows:
        if (problem_id, text) in seen:
            duplicates += 1
            continue
        seen.add((problem_id, text))
        truth = policy.true_first_error(problem_id, text)
        (without if truth is None else with_err).append(predicted == truth)
        if truth is not None and predicted != truth:
            offsets["none" if predicted is None else f"{predicted - truth:+d}"] += 1
    return {
        "labelled_rows": len(rows), "distinct": len(seen), "duplicates": duplicates,
        "duplicate_rate": duplicates / len(rows) if rows else 0.0,
        "with_error": len(with_err), "acc_with_error": sum(with_err) / len(with_err) if with_err else None,
        "without_error": len(without), "acc_without_error": sum(without) / len(without) if without else None,
        "miss_offsets": dict(offsets.most_common()),
        "tokens": policy.tokens, "requests": policy.requests, "rollouts": policy.rollouts,
        "tokens_per_distinct": policy.tokens / len(seen) if seen else None,
    }


def run_level(args: argparse.Namespace, p_err: float) -> list[dict]:
    problems = make_problems(args.problems, args.seed, 3, 8, p_err, p_err)
    noise = Noise() if args.kind else Noise.honest()
    arms: list[tuple[str, dict, callable]] = []
    for n in args.shepherd_n:
        arms.append(("math_shepherd", {"n": n}, lambda pol, n=n: shepherd_arm(problems, pol, n, args.solutions)))
    for budget in args.budgets:
        for estimation in ("mc", "sequential"):
            config = OmegaPRMConfig(k=args.k, max_estimates=budget, estimation=estimation,
                                    error_value=args.error_value)
            name = "omegaprm_mc" if estimation == "mc" else "omegaprm_seq"
            arms.append((name, {"budget": budget, "k": args.k}, lambda pol, c=config: omegaprm_arm(problems, pol, c)))
    rows = []
    for name, settings, run in arms:
        policy = SimPolicy(problems, seed=args.seed, noise=noise)
        started = time.perf_counter()
        labelled, extra = run(policy)
        rows.append({"method": name, "p_err": p_err, **settings, **score(labelled, policy), **extra,
                     "seconds": round(time.perf_counter() - started, 2)})
    return rows


def print_table(rows: list[dict]) -> None:
    head = (f"{'p_err':>5} {'method':<14}{'setting':>12}{'rows':>7}{'distinct':>9}{'dup':>5}{'acc_err':>8}"
            f"{'n_err':>6}{'acc_ok':>7}{'n_ok':>5}{'tokens':>10}{'tok/dist':>9}  misses")
    print(head)
    print("-" * len(head))
    for r in rows:
        setting = f"n={r['n']}" if "n" in r else f"budget={r['budget']}"
        print(f"{r['p_err']:>5} {r['method']:<14}{setting:>12}{r['labelled_rows']:>7}{r['distinct']:>9}"
              f"{r['duplicates']:>5}{_pct(r['acc_with_error']):>8}{r['with_error']:>6}{_pct(r['acc_without_error']):>7}"
              f"{r['without_error']:>5}{r['tokens']:>10}{r['tokens_per_distinct'] or 0:>9.0f}  "
              f"{_top(r['miss_offsets'])}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _top(offsets: dict) -> str:
    return " ".join(f"{k}:{v}" for k, v in list(offsets.items())[:4])


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted({r["p_err"] for r in rows})
    fig, axes = plt.subplots(1, len(levels), figsize=(5 * len(levels), 4), sharey=True, squeeze=False)
    styles = {"math_shepherd": ("tab:blue", "s"), "omegaprm_mc": ("tab:orange", "^"),
              "omegaprm_seq": ("tab:green", "o")}
    for ax, level in zip(axes[0], levels, strict=True):
        for method, (color, marker) in styles.items():
            pts = sorted((r["tokens_per_distinct"], r["acc_with_error"], r.get("n", r.get("budget")))
                         for r in rows if r["p_err"] == level and r["method"] == method and r["acc_with_error"])
            if pts:
                ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker=marker, color=color, label=method)
                for x, y, s in pts:
                    ax.annotate(str(s), (x, 100 * y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_title(f"p_err {level} (honest simulator)")
        ax.set_xlabel("generated tokens per distinct labelled solution")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("exact first-error accuracy, solutions with an error (%)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()
    rows = [row for p_err in args.p_err for row in run_level(args, p_err)]
    report = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "noise": "kind" if args.kind else vars(Noise.honest()), "machine": machine(load), "results": rows,
              "seconds": round(time.perf_counter() - started, 1)}
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.plot:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return report


if __name__ == "__main__":
    main()
