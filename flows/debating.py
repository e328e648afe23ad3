"""Running debates: every debate of a batch advances one turn per engine round trip (see tasks/judge/debate.py)."""

from __future__ import annotations

from functools import partial

from ..schemas.judges import DebateJudgeConfig
from ..schemas.preference import Judgment, Prompt, Sample
from ..tasks.judge import debate
from ..runtime.calls import CallRunner

Pair = tuple[Sample, Sample]


def run_debates(cfg: DebateJudgeConfig, judge: str, prompts: dict[str, Prompt], pairs: list[Pair],
                runner: CallRunner) -> list[list[Judgment]]:
    """One debate per pair and order (both orders unless `both_orders` is off); judgments grouped by pair."""
    per_pair = 2 if cfg.both_orders else 1
    states = [
        debate.DebateState(prompts[x.prompt_id], a, b)
        for x, y in pairs
        for a, b in [(x, y), (y, x)][:per_pair]
    ]
    turns = debate.schedule(cfg)
    for step, (round_, agent) in enumerate(turns, start=1):
        live = [i for i, st in enumerate(states) if st.error is None]
        requests = [debate.turn_request(cfg, states[i], round_, agent) for i in live]
        results = runner.run(cfg.engine, requests, f"debate · turn {step}/{len(turns)}")
        for i, result in zip(live, results, strict=True):
            states[i] = debate.add_turn(states[i], cfg, round_, agent, result)
    closing = _closing(cfg, states, runner)
    finals = _finals(cfg, states, runner) if cfg.verdict == "final_judge" else [None] * len(states)
    judgments = [debate.to_judgment(judge, cfg, st, closing[i], finals[i]) for i, st in enumerate(states)]
    return [judgments[k * per_pair : (k + 1) * per_pair] for k in range(len(pairs))]


def _closing(cfg: DebateJudgeConfig, states: list[debate.DebateState], runner: CallRunner) -> list[list]:
    """Each agent's closing scores for every debate that did not fail ([] for those that did)."""
    live = [i for i, st in enumerate(states) if st.error is None]
    out: list[list] = [[] for _ in states]
    followup = partial(debate.scores_reask_for, cfg) if cfg.reask else None
    for agent in range(len(cfg.agents)):
        requests = [debate.scores_request(cfg, states[i], agent) for i in live]
        answers = runner.run_with_followup(cfg.engine, requests, "debate · closing scores", followup)
        for i, answer in zip(live, answers, strict=True):
            out[i].append(answer)
    return out


def _finals(cfg: DebateJudgeConfig, states: list[debate.DebateState], runner: CallRunner) -> list:
    live = [i for i, st in enumerate(states) if st.error is None]
    requests = [debate.final_request(cfg, states[i]) for i in live]
    followup = partial(debate.final_reask_for, cfg) if cfg.reask else None
    answers = runner.run_with_followup(cfg.engine, requests, "debate · final judge", followup)
    out: list = [None] * len(states)
    for i, answer in zip(live, answers, strict=True):
        out[i] = answer
    return out
