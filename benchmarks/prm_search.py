"""OmegaPRM vs Math-Shepherd on a simulated policy whose true prefix values and first errors are exact.

Both methods run at equal settings (k rollouts per OmegaPRM estimate = N completions per Math-Shepherd prefix =
the number of solutions sampled per problem) against the same deterministic policy (`sim_policy.py`), each
with a fresh request counter. Arms:
- math_shepherd: sample k solutions per problem, label every step of every one of them (Wang et al. 2024).
- math_shepherd_wrong_only: the same samples, but only wrong-answer solutions are labelled; a correct-answer
  solution gets "no error" from its answer alone, as OmegaPRM does.
- omegaprm: screening + binary searches (Luo et al. 2024) within its per-problem budget.

A labelled solution is one the method delivers a first-error verdict for: every sampled solution for
Math-Shepherd; for OmegaPRM every searched wrong rollout (first error located) plus the correct-answer
screening rollouts (no error). Correct rollouts met deeper in OmegaPRM's tree are not counted (conservative).
OmegaPRM's paths share their state's prefix, so the same tokens are also reported per distinct labelled step
prefix (every step up to and including the first error), which counts a shared prefix once.
Metrics: engine calls (batched rounds), requests, generated tokens (total, per labelled solution, per
erroneous solution, per distinct step label), ProcessBench F1 (harmonic mean of first-error accuracy on
erroneous and on correct solutions), and the mean absolute error of soft labels c/n against the exact prefix
values over the distinct prefixes each method estimated. "same_solutions" compares both methods' verdicts on
the identical screening samples.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_policy import ChainProblem, SimPolicy, make_problems

from prefsynth.schemas.process import MathShepherdConfig, OmegaPRMConfig, RolloutRequest, Solution
from prefsynth.tasks.search.math_shepherd import run_math_shepherd
from prefsynth.tasks.search.omegaprm import SearchedPath, run_omegaprm
from prefsynth.tasks.steps import split_steps

Verdicts = dict[tuple[str, str], int | None]  # (problem_id, solution text) -> predicted first error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--problems", type=int, default=200, help="simulated problems (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="problem and policy seed (default 0)")
    parser.add_argument("--k", type=int, default=8,
                        help="rollouts per estimate = Math-Shepherd N = samples per problem (default 8)")
    parser.add_argument("--min-steps", type=int, default=4, help="fewest steps of a problem (default 4)")
    parser.add_argument("--max-steps", type=int, default=16, help="most steps of a problem (default 16)")
    parser.add_argument("--p-min", type=float, default=0.02, help="lowest per-step error rate (default 0.02)")
    parser.add_argument("--p-max", type=float, default=0.15, help="highest per-step error rate (default 0.15)")
    parser.add_argument("--max-searches", type=int, default=OmegaPRMConfig().max_searches,
                        help="OmegaPRM selections per problem (paper's search limit; default %(default)s)")
    parser.add_argument("--max-estimates", type=int, default=OmegaPRMConfig().max_estimates,
                        help="OmegaPRM budget: MC estimates per problem, screening included (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "prm_search.json",
                        help="results JSON (default benchmarks/results/prm_search.json)")
    return parser.parse_args(argv)


def run_omegaprm_arm(problems: list[ChainProblem], args: argparse.Namespace) -> tuple[SimPolicy, Verdicts, dict]:
    policy = SimPolicy(problems, seed=args.seed)
    config = OmegaPRMConfig(k=args.k, max_searches=args.max_searches, max_estimates=args.max_estimates)
    results = run_omegaprm([cp.problem for cp in problems], policy, config, model="sim")
    verdicts: Verdicts = {}
    screening_keys = set()
    for result in results:
        for solution in result.screening:
            if solution.correct:
                verdicts.setdefault((solution.problem_id, solution.text), None)
                screening_keys.add((solution.problem_id, solution.text))
        for path in result.paths:
            if path.status == "located":
                key = (path.solution.problem_id, path.solution.text)
                verdicts.setdefault(key, path.first_error)
                if path.state_prefix == "":
                    screening_keys.add(key)
    stops: dict[str, int] = {}
    for result in results:
        stops[result.stats.stop_reason] = stops.get(result.stats.stop_reason, 0) + 1
    located = [p for r in results for p in r.paths if p.status == "located"]
    extra = {
        "searches": sum(r.stats.searches for r in results),
        "stop_reasons": stops,
        # Paths share their state's prefix: how much of a labelled solution its own binary search covered.
        "mean_path_steps": mean(len(p.steps) for p in located) if located else 0.0,
        "mean_searched_steps": mean(_searched_steps(p) for p in located) if located else 0.0,
        "step_labels": sum(len(p.labels) for r in results for p in r.paths),
        "screening_keys": screening_keys,
    }
    return policy, verdicts, extra


def _searched_steps(path: SearchedPath) -> int:
    """Steps of a path after its state's prefix: the part its own binary search covered."""
    return sum(1 for step in path.steps if step.start >= len(path.state_prefix))


def run_math_shepherd_arm(problems: list[ChainProblem], args: argparse.Namespace,
                          wrong_only: bool) -> tuple[SimPolicy, Verdicts, dict]:
    policy = SimPolicy(problems, seed=args.seed)
    sampled = policy([RolloutRequest(cp.problem.id, "", args.k) for cp in problems])
    solutions = [Solution.create(cp.problem.id, "sim", r.text, r.final_answer, r.check_status)
                 for cp, rollouts in zip(problems, sampled, strict=True) for r in rollouts]
    to_label = [s for s in solutions if not (wrong_only and s.correct)]
    result = run_math_shepherd(to_label, policy, MathShepherdConfig(n=args.k), completer="sim")
    verdicts: Verdicts = {(s.problem_id, s.text): None for s in solutions if s.correct}
    for item in result.labelled:
        verdicts[(item.solution.problem_id, item.solution.text)] = item.first_error
    return policy, verdicts, {"step_labels": sum(len(item.labels) for item in result.labelled)}


def processbench_f1(verdicts: Verdicts, policy: SimPolicy) -> dict:
    """Accuracy on erroneous solutions (exact first-error step) and on correct ones (no error), and their
    harmonic mean, as in ProcessBench (Zheng et al. 2024)."""
    hits_err, hits_ok = [], []
    for (problem_id, text), predicted in verdicts.items():
        truth = policy.true_first_error(problem_id, text)
        (hits_ok if truth is None else hits_err).append(predicted == truth)
    acc_err = mean(hits_err) if hits_err else 0.0
    acc_ok = mean(hits_ok) if hits_ok else 0.0
    f1 = 2 * acc_err * acc_ok / (acc_err + acc_ok) if acc_err + acc_ok else 0.0
    return {"erroneous": len(hits_err), "correct": len(hits_ok), "acc_erroneous": acc_err, "acc_correct": acc_ok,
            "f1": f1}


def distinct_step_labels(verdicts: Verdicts) -> int:
    """Distinct (problem, step prefix) pairs a verdict labels: every step up to and including the first error
    (all steps of a solution judged correct). OmegaPRM paths share their state's prefix, so this counts
    what is new, where the count of labelled solutions counts a shared prefix again in every path."""
    prefixes = set()
    for (problem_id, text), first_error in verdicts.items():
        steps = split_steps(text)
        upto = len(steps) if first_error is None else first_error + 1
        prefixes.update((problem_id, "".join(steps[: i + 1])) for i in range(upto))
    return len(prefixes)


def soft_label_mae(policy: SimPolicy) -> dict:
    """|c/n - exact value| over the distinct non-empty prefixes the method estimated."""
    errors = {}
    for request, rollouts in policy.log:
        if request.prefix and rollouts:
            estimate = sum(r.correct for r in rollouts) / len(rollouts)
            errors[(request.problem_id, request.prefix)] = abs(estimate - policy.true_value(request.problem_id,
                                                                                           request.prefix))
    return {"prefixes": len(errors), "mae": mean(errors.values()) if errors else 0.0}


def summarise(name: str, policy: SimPolicy, verdicts: Verdicts, seconds: float, extra: dict) -> dict:
    quality = processbench_f1(verdicts, policy)
    labelled, distinct = len(verdicts), distinct_step_labels(verdicts)
    return {
        "method": name,
        "engine_calls": policy.calls,
        "requests": policy.requests,
        "rollouts": policy.rollouts,
        "generated_tokens": policy.tokens,
        "labelled_solutions": labelled,
        "tokens_per_labelled_solution": policy.tokens / labelled if labelled else None,
        "tokens_per_erroneous_solution": policy.tokens / quality["erroneous"] if quality["erroneous"] else None,
        "requests_per_labelled_solution": policy.requests / labelled if labelled else None,
        "distinct_step_labels": distinct,
        "tokens_per_distinct_step_label": policy.tokens / distinct if distinct else None,
        **quality,
        "soft_label": soft_label_mae(policy),
        "seconds": round(seconds, 2),
        **{k: v for k, v in extra.items() if k != "screening_keys"},
    }


def common_set(omega: Verdicts, keys: set, shepherd: Verdicts, policy: SimPolicy) -> dict:
    """Both methods on the very same solutions: OmegaPRM's screening rollouts are Math-Shepherd's samples
    (the policy is deterministic in (problem, prefix)), so compare verdicts where both gave one."""
    shared = sorted(k for k in keys if k in shepherd)
    return {"solutions": len(shared),
            "omegaprm": processbench_f1({k: omega[k] for k in shared}, policy),
            "math_shepherd": processbench_f1({k: shepherd[k] for k in shared}, policy)}


def print_table(rows: list[dict]) -> None:
    header = (f"{'method':<26}{'calls':>6}{'requests':>9}{'tokens':>11}{'labelled':>9}{'tok/sol':>9}"
              f"{'tok/err':>9}{'tok/step':>9}{'acc_err':>8}{'acc_ok':>8}{'F1':>7}{'MAE':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['method']:<26}{r['engine_calls']:>6}{r['requests']:>9}{r['generated_tokens']:>11}"
              f"{r['labelled_solutions']:>9}{r['tokens_per_labelled_solution']:>9.0f}"
              f"{r['tokens_per_erroneous_solution']:>9.0f}{r['tokens_per_distinct_step_label']:>9.1f}"
              f"{r['acc_erroneous']:>8.3f}{r['acc_correct']:>8.3f}"
              f"{r['f1']:>7.3f}{r['soft_label']['mae']:>7.3f}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    problems = make_problems(args.problems, args.seed, args.min_steps, args.max_steps, args.p_min, args.p_max)
    rows, arms = [], {}
    for name, run in (
        ("math_shepherd", lambda: run_math_shepherd_arm(problems, args, wrong_only=False)),
        ("math_shepherd_wrong_only", lambda: run_math_shepherd_arm(problems, args, wrong_only=True)),
        ("omegaprm", lambda: run_omegaprm_arm(problems, args)),
    ):
        started = time.perf_counter()
        policy, verdicts, extra = run()
        rows.append(summarise(name, policy, verdicts, time.perf_counter() - started, extra))
        arms[name] = (policy, verdicts, extra)
    by_name = {r["method"]: r for r in rows}
    omega = by_name["omegaprm"]
    report = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "results": rows,
        "omegaprm_token_ratio": {
            name: {per: omega[per] / by_name[name][per]
                   for per in ("tokens_per_labelled_solution", "tokens_per_erroneous_solution",
                               "tokens_per_distinct_step_label")}
            for name in ("math_shepherd", "math_shepherd_wrong_only")
        },
        "same_solutions": common_set(arms["omegaprm"][1], arms["omegaprm"][2]["screening_keys"],
                                     arms["math_shepherd"][1], arms["omegaprm"][0]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(rows)
    for name, ratio in report["omegaprm_token_ratio"].items():
        print(f"OmegaPRM / {name} generated tokens: per labelled solution "
              f"{ratio['tokens_per_labelled_solution']:.3f}, per erroneous solution "
              f"{ratio['tokens_per_erroneous_solution']:.3f}, per distinct step label "
              f"{ratio['tokens_per_distinct_step_label']:.3f}")
    print(f"OmegaPRM paths: {omega['mean_path_steps']:.1f} steps on average, of which "
          f"{omega['mean_searched_steps']:.1f} in the searched rollout (the rest is its state's prefix)")
    same = report["same_solutions"]
    print(f"same {same['solutions']} screening solutions: F1 omegaprm {same['omegaprm']['f1']:.3f}, "
          f"math_shepherd {same['math_shepherd']['f1']:.3f}")
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
