"""A simulated jury with known truth (issue 17), for tests and benchmarks/jury_calibration.py.

Every item is a prompt with two responses; a fair coin says which is better. The jurors:
- `strong`: an LLM judge asked in both orders. With probability `p_sure` it is sure and names the same winner in
  both orders, right with probability `sure_accuracy`; otherwise it has a position bias and names whichever
  response it was shown first, in both orders (so its verdicts flip with the order and say nothing).
- `rm1`…`rmK`: reward models scoring each response once (order AB). Their score differences share one
  per-item error z (mutually correlated mistakes: they fail on the same items): d_i = s·t + z + ε_i with
  t = ±1 the truth, z ~ N(0, 1), ε_i ~ N(0, σ_e²); two reward models' errors correlate 1 / (1 + σ_e²).
- `shy`: a pairwise judge asked once (random order) that says `A=B` (abstains) with probability `p_abstain`,
  and is otherwise right with probability `shy_accuracy`.
The Bayes-optimal rule is known in closed form (`bayes_log_odds`): the strong judge's consistent verdict with
log-odds log(a/(1−a)), the reward models through their mean difference d̄ (sufficient: z is shared) with
log-odds 2·s·d̄ / (1 + σ_e²/K), and the shy judge's vote with log(b/(1−b)).
Rows are in the `import-judgments` and gold file formats, so the benchmark can go through the real commands.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class SimJury:
    p_sure: float = 0.68
    sure_accuracy: float = 0.93
    n_rm: int = 3
    rm_signal: float = 0.45  # each reward model alone is right ~61 % of the time
    rm_noise: float = 1.2  # error correlation between two reward models 1 / (1 + 1.2²) ≈ 0.41
    p_abstain: float = 0.5
    shy_accuracy: float = 0.72


@dataclass(frozen=True)
class SimItem:
    k: int
    a_better: bool
    strong_winner_a: bool | None  # the strong judge's winner when it was consistent (True: a), None when it flipped
    rm_mean_diff: float  # mean over reward models of score_a − score_b
    shy_vote: int  # +1 for a, −1 for b, 0 abstained


def simulate(n: int, seed: int = 0, sim: SimJury = SimJury(), tag: str = "") -> tuple[list[dict], list[dict],
                                                                                   list[SimItem]]:
    """(import-judgments rows, gold rows, what really happened per item) for n items; `tag` makes the texts
    distinct from another simulated set's (imports are matched by text)."""
    rng = random.Random(seed)
    judgments, gold, truth = [], [], []
    for k in range(n):
        a_better = rng.random() < 0.5
        t = 1 if a_better else -1
        base = {"prompt": f"Simulated question {tag}{k}: which answer is better?",
                "response_a": f"Answer A to question {k}.", "response_b": f"Answer B to question {k}, longer."}
        gold.append({**base, "label": "A>B" if a_better else "B>A", "source": "sim", "pair_id": f"q{tag}{k}"})
        sure = rng.random() < sim.p_sure
        level = rng.choice([">", ">>"])
        a_wins = None
        if sure:
            a_wins = a_better if rng.random() < sim.sure_accuracy else not a_better
            verdict = f"A{level}B" if a_wins else f"B{level}A"
            judgments += [{**base, "judge": "strong", "verdict": verdict, "order": o} for o in ("AB", "BA")]
        else:  # position bias: the response shown first wins, in both orders
            judgments += [{**base, "judge": "strong", "verdict": "A>B", "order": "AB"},
                          {**base, "judge": "strong", "verdict": "B>A", "order": "BA"}]
        z = rng.gauss(0, 1)
        diffs = [sim.rm_signal * t + z + rng.gauss(0, sim.rm_noise) for _ in range(sim.n_rm)]
        for i, d in enumerate(diffs, start=1):
            judgments.append({**base, "judge": f"rm{i}", "score_a": round(d / 2, 6), "score_b": round(-d / 2, 6)})
        shy = 0
        if rng.random() >= sim.p_abstain:
            shy = t if rng.random() < sim.shy_accuracy else -t
        order = rng.choice(["AB", "BA"])
        judgments.append({**base, "judge": "shy", "verdict": {1: "A>B", -1: "B>A", 0: "A=B"}[shy], "order": order})
        truth.append(SimItem(k, a_better, a_wins, sum(diffs) / len(diffs), shy))
    return judgments, gold, truth


def bayes_log_odds(item: SimItem, sim: SimJury = SimJury()) -> float:
    """log P(a better | what the jurors said) / P(b better | …) under the simulation's own model."""
    z = 0.0
    if item.strong_winner_a is not None:  # consistent in both orders
        z += (1 if item.strong_winner_a else -1) * math.log(sim.sure_accuracy / (1 - sim.sure_accuracy))
    z += 2 * sim.rm_signal * item.rm_mean_diff / (1 + sim.rm_noise ** 2 / sim.n_rm)
    z += item.shy_vote * math.log(sim.shy_accuracy / (1 - sim.shy_accuracy))
    return z


JURY_YAML = """# The simulated jury of benchmarks/sim_jury.py, as imported jurors (reward-model scores on about −3..3).
jury:
  - {kind: imported, judge: strong}
  - {kind: imported, judge: rm1, score_min: -3, score_max: 3}
  - {kind: imported, judge: rm2, score_min: -3, score_max: 3}
  - {kind: imported, judge: rm3, score_min: -3, score_max: 3}
  - {kind: imported, judge: shy}
filters: []
"""
