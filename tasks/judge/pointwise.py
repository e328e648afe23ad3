"""A pointwise rubric judge: one sample at a time → feedback, then a bounded integer score.

Protocol after Prometheus (Kim et al. 2023, "Prometheus: Inducing Fine-grained Evaluation Capability in Language
Models"; Prometheus 2, 2024): a score rubric with one description per score, an optional reference answer,
feedback (the rationale) before the score. A reply without a readable in-range score on its last line gets one
re-ask constrained to the score lines; if that fails too it is a parse error, never a default score.
Request building and reading are pure; `PointwiseJudge` (the registry's "pointwise") sends them through the
runtime's `Calls`, no storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ...schemas.engine import GenRequest, GenResult
from ...schemas.ids import content_id
from ...schemas.judges import PointwiseJudgeConfig
from ...schemas.preference import Judgment, Prompt, Sample
from .base import Calls
from .parse import parse_score, parse_score_choice
from .prompts import POINTWISE_TEMPLATE_VERSION, pointwise_messages, score_choices, score_reask_messages
from .single import clip


@dataclass(frozen=True)
class PointwiseItem:
    prompt: Prompt
    sample: Sample


def first_request(cfg: PointwiseJudgeConfig, item: PointwiseItem) -> GenRequest:
    messages = pointwise_messages(
        item.prompt.display_text(),
        clip(item.sample.text, cfg.max_response_chars),
        cfg.rubric.criteria,
        cfg.rubric.scores,
        item.prompt.reference,
    )
    return GenRequest(messages=messages, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)


def reask_for(cfg: PointwiseJudgeConfig, first: GenRequest, result: GenResult) -> GenRequest | None:
    """The constrained follow-up for a reply without a readable score (None when it parsed or the call failed)."""
    if not result.ok or not result.completions:
        return None
    reply = result.completions[0].text
    if parse_score(reply, cfg.rubric.low, cfg.rubric.high).score is not None:
        return None
    choices = score_choices(cfg.rubric.low, cfg.rubric.high)
    return GenRequest(
        messages=score_reask_messages(first.messages or (), reply, choices),
        temperature=0.0,
        max_tokens=8,
        seed=cfg.seed,
        choices=choices,
    )


def to_judgment(judge: str, cfg: PointwiseJudgeConfig, item: PointwiseItem, result: GenResult,
                reask: GenResult | None = None) -> Judgment:
    """A rating of `item.sample` (`first_id`, no `second_id`, the score in `score_a`); failures stay visible."""
    low, high = cfg.rubric.low, cfg.rubric.high
    base = dict(prompt_id=item.prompt.id, judge=judge, protocol="pointwise", first_id=item.sample.id, second_id=None)
    if not result.ok or not result.completions:
        return _make(base, status="error", error=result.error or "no completion returned")
    reply = result.completions[0].text
    tokens = result.completion_tokens
    parsed = parse_score(reply, low, high)
    if parsed.score is not None:
        return _make(base, status="ok", score_a=float(parsed.score), rationale=parsed.rationale, raw=reply,
                     completion_tokens=tokens)
    if reask is None:
        return _make(base, status="parse_error", raw=reply, completion_tokens=tokens)
    if not reask.ok or not reask.completions:
        return _make(base, status="error", raw=reply, reasked=True, error=f"re-ask failed: {reask.error}",
                     completion_tokens=tokens)
    second = reask.completions[0].text
    raw = f"{reply}\n\n[re-ask]\n{second}"
    score = parse_score_choice(second, low, high)
    tokens += reask.completion_tokens
    if score is None:
        return _make(base, status="parse_error", raw=raw, reasked=True, completion_tokens=tokens)
    return _make(base, status="ok", score_a=float(score), rationale=reply.strip(), raw=raw, reasked=True,
                 completion_tokens=tokens)


def _make(base: dict, **fields) -> Judgment:
    jid = content_id(POINTWISE_TEMPLATE_VERSION, base, fields.get("status"), fields.get("raw", ""), fields.get("error"))
    return Judgment(id=jid, **base, **fields)


def judge_name(engine_name: str, cfg: PointwiseJudgeConfig) -> str:
    """Engine/model, template, rubric (hashed: it changes every score) and sampling settings."""
    rubric = content_id(cfg.rubric, length=8)
    return f"{engine_name}|{POINTWISE_TEMPLATE_VERSION}|rubric={rubric}|t={cfg.temperature}|seed={cfg.seed}"


class PointwiseJudge:
    """A rating judge: every given sample rated once (feedback, then a rubric score; one constrained re-ask)."""

    def name(self, cfg: PointwiseJudgeConfig, calls: Calls | None) -> str:
        return judge_name(calls.engine_name(cfg.engine), cfg)

    def rate(self, cfg: PointwiseJudgeConfig, name: str, prompts: dict[str, Prompt], samples: list[Sample],
             calls: Calls) -> list[Judgment]:
        items = [PointwiseItem(prompts[s.prompt_id], s) for s in samples]
        followup = partial(reask_for, cfg) if cfg.reask else None
        answers = calls.run_with_followup(cfg.engine, [first_request(cfg, it) for it in items], "rate (pointwise)",
                                          followup)
        return [to_judgment(name, cfg, it, *a) for it, a in zip(items, answers, strict=True)]

    def judge_pairs(self, cfg, name, prompts, pairs, calls, imported=None) -> list[list[Judgment]]:
        return [[] for _ in pairs]  # its ratings reach the pairs as the jury reads them (tasks/judge/votes.py)


JUDGE = PointwiseJudge()
