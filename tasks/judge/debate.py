"""A multi-agent debate judge over one ordered pair: turns → closing scores → (optional) final judge → `Judgment`.

Protocol after ChatEval (Chan et al. 2023, "ChatEval: Towards Better LLM-based Evaluators through Multi-Agent
Debate"): referees with distinct personas speak one by one over a shared transcript for R rounds (their
"one-by-one" strategy), then each gives a score to both responses; the verdict is the mean of the agents'
scores, or the verdict of a final judge that reads the discussion (the "final judge" variant of multi-agent
evaluation workflows). Pure: a `DebateState` advances one turn per call. `DebateJudge` (the registry's
"debate") sends the requests through the runtime's `Calls`, all debates advancing together one turn per round
trip, so every engine call carries a full batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from statistics import mean

from ...schemas.engine import GenRequest, GenResult
from ...schemas.ids import content_id
from ...schemas.judges import DebateAgent, DebateJudgeConfig
from ...schemas.preference import DebateTurn, Judgment, Prompt, Sample
from .base import Calls, Pair, PairJudge
from .parse import parse_choice, parse_pairwise, parse_scores
from .prompts import (
    DEBATE_TEMPLATE_VERSION, VERDICT_CHOICES, debate_final_messages, debate_material, debate_scores_messages,
    debate_turn_messages, reask_messages, score_reask_messages, scores_choices,
)
from .single import clip

Answer = tuple[GenResult, "GenResult | None"]


@dataclass(frozen=True)
class DebateState:
    """One debate of `first` (shown as A) against `second` (B): the transcript so far, or the error that ended it."""

    prompt: Prompt
    first: Sample
    second: Sample
    turns: tuple[DebateTurn, ...] = ()
    error: str | None = None
    tokens: int = 0


def schedule(cfg: DebateJudgeConfig) -> list[tuple[int, int]]:
    """(round, agent index) of every turn, in speaking order: each round, every agent once, one by one."""
    return [(r, a) for r in range(1, cfg.rounds + 1) for a in range(len(cfg.agents))]


def _material(cfg: DebateJudgeConfig, state: DebateState) -> str:
    discussion = "\n\n".join(f"{t.agent} (round {t.round}): {t.text.strip()}" for t in state.turns)
    return debate_material(
        state.prompt.display_text(),
        clip(state.first.text, cfg.max_response_chars),
        clip(state.second.text, cfg.max_response_chars),
        discussion,
    )


def _seed(cfg: DebateJudgeConfig, round_: int, agent: int) -> int:
    """Distinct per turn, so agents sampled at a temperature do not echo one another's draws."""
    return cfg.seed + 100 * round_ + agent


def turn_request(cfg: DebateJudgeConfig, state: DebateState, round_: int, agent: int) -> GenRequest:
    a: DebateAgent = cfg.agents[agent]
    messages = debate_turn_messages(a.persona, a.name, _material(cfg, state), round_, cfg.rounds)
    return GenRequest(messages=messages, temperature=cfg.temperature, max_tokens=cfg.turn_max_tokens,
                      seed=_seed(cfg, round_, agent))


def add_turn(state: DebateState, cfg: DebateJudgeConfig, round_: int, agent: int, result: GenResult) -> DebateState:
    """The state after one turn; a failed call or an empty reply ends the debate (its error is recorded)."""
    if state.error is not None:
        return state
    if not result.ok or not result.completions or not result.completions[0].text.strip():
        what = result.error or "empty reply"
        return replace(state, error=f"round {round_}, {cfg.agents[agent].name}: {what}")
    turn = DebateTurn(agent=cfg.agents[agent].name, round=round_, kind="argument", text=result.completions[0].text)
    return replace(state, turns=state.turns + (turn,), tokens=state.tokens + result.completion_tokens)


def scores_request(cfg: DebateJudgeConfig, state: DebateState, agent: int) -> GenRequest:
    a = cfg.agents[agent]
    messages = debate_scores_messages(a.persona, a.name, _material(cfg, state), cfg.score_min, cfg.score_max)
    return GenRequest(messages=messages, temperature=cfg.temperature, max_tokens=cfg.max_tokens,
                      seed=_seed(cfg, cfg.rounds + 1, agent))


def scores_reask_for(cfg: DebateJudgeConfig, first: GenRequest, result: GenResult) -> GenRequest | None:
    if not cfg.reask or not result.ok or not result.completions:
        return None
    reply = result.completions[0].text
    if parse_scores(reply, cfg.score_min, cfg.score_max) is not None:
        return None
    choices = scores_choices(cfg.score_min, cfg.score_max)
    return GenRequest(messages=score_reask_messages(first.messages or (), reply, choices), temperature=0.0,
                      max_tokens=12, seed=first.seed, choices=choices)


def final_request(cfg: DebateJudgeConfig, state: DebateState) -> GenRequest:
    return GenRequest(messages=debate_final_messages(_material(cfg, state)), temperature=0.0,
                      max_tokens=cfg.max_tokens, seed=cfg.seed)


def final_reask_for(cfg: DebateJudgeConfig, first: GenRequest, result: GenResult) -> GenRequest | None:
    if not cfg.reask or not result.ok or not result.completions:
        return None
    reply = result.completions[0].text
    if parse_pairwise(reply).verdict is not None:
        return None
    return GenRequest(messages=reask_messages(first.messages or (), reply), temperature=0.0, max_tokens=12,
                      seed=first.seed, choices=VERDICT_CHOICES)


@dataclass(frozen=True)
class _Reading:
    text: str  # the reply, and the re-ask's reply when there was one
    value: object  # parsed (a, b) scores or verdict; None when unreadable
    error: str | None
    reasked: bool
    tokens: int


def _read(answer: Answer, first_parse, choice_parse) -> _Reading:
    result, reask = answer
    if not result.ok or not result.completions:
        return _Reading("", None, result.error or "no completion returned", False, 0)
    reply, tokens = result.completions[0].text, result.completion_tokens
    value = first_parse(reply)
    if value is not None or reask is None:
        return _Reading(reply, value, None, False, tokens)
    if not reask.ok or not reask.completions:
        return _Reading(reply, None, f"re-ask failed: {reask.error}", True, tokens)
    second = reask.completions[0].text
    return _Reading(f"{reply}\n\n[re-ask]\n{second}", choice_parse(second), None, True, tokens + reask.completion_tokens)


def to_judgment(judge: str, cfg: DebateJudgeConfig, state: DebateState, closing: list[Answer],
                final: Answer | None = None) -> Judgment:
    """The debate's record: transcript (arguments, closing scores, final verdict), mean scores, status."""
    base = dict(prompt_id=state.prompt.id, judge=judge, protocol="debate", first_id=state.first.id,
                second_id=state.second.id)
    if state.error is not None:
        return _make(base, status="error", error=state.error, transcript=state.turns, completion_tokens=state.tokens)
    lo, hi = cfg.score_min, cfg.score_max
    scores = [_read(a, lambda t: parse_scores(t, lo, hi), lambda t: _choice_scores(t, lo, hi)) for a in closing]
    turns = state.turns + tuple(
        DebateTurn(agent=ag.name, round=cfg.rounds + 1, kind="scores", text=r.text or f"[error] {r.error}")
        for ag, r in zip(cfg.agents, scores, strict=True)
    )
    parsed = [r.value for r in scores if r.value is not None]
    fields = dict(
        score_a=mean(a for a, _ in parsed) if parsed else None,
        score_b=mean(b for _, b in parsed) if parsed else None,
        reasked=any(r.reasked for r in scores),
        completion_tokens=state.tokens + sum(r.tokens for r in scores),
    )
    readings = scores
    if final is not None:
        verdict = _read(final, lambda t: parse_pairwise(t).verdict, parse_choice)
        turns += (DebateTurn(agent="final judge", round=0, kind="final", text=verdict.text or f"[error] {verdict.error}"),)
        fields.update(verdict=verdict.value, reasked=fields["reasked"] or verdict.reasked,
                      completion_tokens=fields["completion_tokens"] + verdict.tokens,
                      rationale=parse_pairwise(verdict.text).rationale if verdict.value else "")
        readings = [verdict]
        decided = verdict.value is not None
    else:
        decided = bool(parsed)
    raw = "\n\n".join(t.text for t in turns if t.kind != "argument")
    if not decided:
        errors = [r.error for r in readings if r.error]
        status = "error" if errors and len(errors) == len(readings) else "parse_error"
        return _make(base, status=status, error="; ".join(errors) or None, raw=raw, transcript=turns,
                     **{k: v for k, v in fields.items() if k in ("reasked", "completion_tokens")})
    return _make(base, status="ok", raw=raw, transcript=turns, **fields)


def _choice_scores(text: str, low: int, high: int) -> tuple[int, int] | None:
    return parse_scores(text, low, high) if text.strip() in scores_choices(low, high) else None


def _make(base: dict, **fields) -> Judgment:
    jid = content_id(DEBATE_TEMPLATE_VERSION, base, fields.get("status"), fields.get("raw", ""), fields.get("error"),
                     [t.model_dump() for t in fields.get("transcript") or ()])
    return Judgment(id=jid, **base, **fields)


def judge_name(engine_name: str, cfg: DebateJudgeConfig) -> str:
    """Engine/model, template, panel (hashed personas), rounds, verdict rule and sampling settings."""
    panel = content_id([a.model_dump() for a in cfg.agents], cfg.score_min, cfg.score_max, length=8)
    return (f"{engine_name}|{DEBATE_TEMPLATE_VERSION}|panel={panel}|rounds={cfg.rounds}|{cfg.verdict}"
            f"|t={cfg.temperature}|seed={cfg.seed}")


class DebateJudge(PairJudge):
    """One debate per pair and order (both orders unless `both_orders` is off): turns, closing scores, and the
    final judge's verdict when `verdict: final_judge`."""

    def name(self, cfg: DebateJudgeConfig, calls: Calls | None) -> str:
        return judge_name(calls.engine_name(cfg.engine), cfg)

    def judge_pairs(self, cfg: DebateJudgeConfig, name: str, prompts: dict[str, Prompt], pairs: list[Pair],
                    calls: Calls, imported=None) -> list[list[Judgment]]:
        per_pair = 2 if cfg.both_orders else 1
        states = [DebateState(prompts[x.prompt_id], a, b) for x, y in pairs for a, b in [(x, y), (y, x)][:per_pair]]
        turns = schedule(cfg)
        for step, (round_, agent) in enumerate(turns, start=1):
            live = [i for i, st in enumerate(states) if st.error is None]
            results = calls.run(cfg.engine, [turn_request(cfg, states[i], round_, agent) for i in live],
                                f"debate · turn {step}/{len(turns)}")
            for i, result in zip(live, results, strict=True):
                states[i] = add_turn(states[i], cfg, round_, agent, result)
        closing = _closing(cfg, states, calls)
        finals = _finals(cfg, states, calls) if cfg.verdict == "final_judge" else [None] * len(states)
        judgments = [to_judgment(name, cfg, st, closing[i], finals[i]) for i, st in enumerate(states)]
        return [judgments[k * per_pair : (k + 1) * per_pair] for k in range(len(pairs))]


def _closing(cfg: DebateJudgeConfig, states: list[DebateState], calls: Calls) -> list[list[Answer]]:
    """Each agent's closing scores for every debate that did not fail ([] for those that did)."""
    live = [i for i, st in enumerate(states) if st.error is None]
    out: list[list[Answer]] = [[] for _ in states]
    followup = partial(scores_reask_for, cfg) if cfg.reask else None
    for agent in range(len(cfg.agents)):
        requests = [scores_request(cfg, states[i], agent) for i in live]
        answers = calls.run_with_followup(cfg.engine, requests, "debate · closing scores", followup)
        for i, answer in zip(live, answers, strict=True):
            out[i].append(answer)
    return out


def _finals(cfg: DebateJudgeConfig, states: list[DebateState], calls: Calls) -> list[Answer | None]:
    """The final judge's verdict on every debate that did not fail (None for those that did)."""
    live = [i for i, st in enumerate(states) if st.error is None]
    followup = partial(final_reask_for, cfg) if cfg.reask else None
    answers = calls.run_with_followup(cfg.engine, [final_request(cfg, states[i]) for i in live],
                                      "debate · final judge", followup)
    out: list[Answer | None] = [None] * len(states)
    for i, answer in zip(live, answers, strict=True):
        out[i] = answer
    return out


JUDGE = DebateJudge()
