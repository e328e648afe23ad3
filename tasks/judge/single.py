"""A single pairwise judge asked in both orders: request building, and replies → `Judgment` records.

Protocol after Zheng et al. 2023 ("Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena"): rationale first,
then a verdict; each pair is judged as (A, B) and (B, A) to expose position bias. The 5-level scale follows
Arena-Hard (Li et al. 2024). Request building and reading are pure; `PairwiseJudge` (the registry's
"pairwise") sends them through the runtime's `Calls`, no storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ...schemas.engine import GenRequest, GenResult
from ...schemas.ids import content_id
from ...schemas.preference import Judgment, Prompt, Sample
from ...schemas.judges import JudgeConfig
from .base import Calls, PairJudge, Pair
from .parse import parse_choice, parse_pairwise
from .prompts import PAIRWISE_TEMPLATE_VERSION, VERDICT_CHOICES, pairwise_messages, reask_messages


@dataclass(frozen=True)
class PairwiseItem:
    """One judging call: `first` is shown as Response A, `second` as Response B."""

    prompt: Prompt
    first: Sample
    second: Sample


def both_orders(prompt: Prompt, x: Sample, y: Sample) -> list[PairwiseItem]:
    return [PairwiseItem(prompt, x, y), PairwiseItem(prompt, y, x)]


def clip(text: str, limit: int) -> str:
    """The response as shown to a judge: cut (and marked) beyond `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "\n[… response cut for judging …]"


def first_request(cfg: JudgeConfig, item: PairwiseItem) -> GenRequest:
    messages = pairwise_messages(
        item.prompt.display_text(),
        clip(item.first.text, cfg.max_response_chars),
        clip(item.second.text, cfg.max_response_chars),
    )
    return GenRequest(messages=messages, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)


def reask_request(cfg: JudgeConfig, first: GenRequest, reply: str) -> GenRequest:
    """A short follow-up constrained to the verdict labels (a tiny grammar decodes at near free-text speed)."""
    return GenRequest(
        messages=reask_messages(first.messages or (), reply),
        temperature=0.0,
        max_tokens=12,
        seed=cfg.seed,
        choices=VERDICT_CHOICES,
    )


def reask_for(cfg: JudgeConfig, first: GenRequest, result: GenResult) -> GenRequest | None:
    """The follow-up for a reply without a readable verdict (None when the reply parsed or the call failed)."""
    if not result.ok or not result.completions:
        return None
    reply = result.completions[0].text
    return reask_request(cfg, first, reply) if parse_pairwise(reply).verdict is None else None


def to_judgment(judge: str, item: PairwiseItem, result: GenResult, reask: GenResult | None = None) -> Judgment:
    """Build the record. Errors and unreadable replies stay visible as `error` / `parse_error`, with the raw text."""
    base = dict(prompt_id=item.prompt.id, judge=judge, first_id=item.first.id, second_id=item.second.id)
    if not result.ok or not result.completions:
        return _make(base, status="error", error=result.error or "no completion returned")
    reply = result.completions[0].text
    tokens = result.completion_tokens
    parsed = parse_pairwise(reply)
    if parsed.verdict is not None:
        return _make(base, status="ok", verdict=parsed.verdict, rationale=parsed.rationale, raw=reply, completion_tokens=tokens)
    if reask is None:
        return _make(base, status="parse_error", raw=reply, completion_tokens=tokens)
    if not reask.ok or not reask.completions:
        return _make(base, status="error", raw=reply, reasked=True, error=f"re-ask failed: {reask.error}", completion_tokens=tokens)
    second = reask.completions[0].text
    raw = f"{reply}\n\n[re-ask]\n{second}"
    verdict = parse_choice(second)
    tokens += reask.completion_tokens
    if verdict is None:
        return _make(base, status="parse_error", raw=raw, reasked=True, completion_tokens=tokens)
    return _make(base, status="ok", verdict=verdict, rationale=reply.strip(), raw=raw, reasked=True, completion_tokens=tokens)


def _make(base: dict, **fields) -> Judgment:
    jid = content_id(PAIRWISE_TEMPLATE_VERSION, base, fields.get("status"), fields.get("raw", ""), fields.get("error"))
    return Judgment(id=jid, **base, **fields)


def judge_name(engine_name: str, cfg: JudgeConfig) -> str:
    """A judge's identity: engine/model plus the settings that change its verdicts."""
    return f"{engine_name}|{PAIRWISE_TEMPLATE_VERSION}|t={cfg.temperature}|seed={cfg.seed}"


CHUNK_REQUESTS = 8192  # judging requests built and held at once (~9 KB each with their replies, in memory)


class PairwiseJudge(PairJudge):
    """Every pair judged in both orders (x, y) and (y, x), one constrained re-ask for an unreadable verdict."""

    def name(self, cfg: JudgeConfig, calls: Calls | None) -> str:
        return judge_name(calls.engine_name(cfg.engine), cfg)

    def judge_pairs(self, cfg: JudgeConfig, name: str, prompts: dict[str, Prompt], pairs: list[Pair], calls: Calls,
                    imported=None) -> list[list[Judgment]]:
        """Both orders of every pair. In chunks of whole batches: 120,000 requests and their replies held at
        once would need ~1 GB (benchmarks/throughput.py); a chunk's are dropped once its judgments are made."""
        followup = partial(reask_for, cfg) if cfg.reask else None
        per_chunk = max(1, calls.batch_size * max(1, CHUNK_REQUESTS // calls.batch_size) // 2)  # pairs
        judgments: list[Judgment] = []
        for start in range(0, len(pairs), per_chunk):
            items = [it for x, y in pairs[start : start + per_chunk] for it in both_orders(prompts[x.prompt_id], x, y)]
            firsts = [first_request(cfg, it) for it in items]
            answers = calls.run_with_followup(cfg.engine, firsts, "judge (pairwise)", followup)
            judgments += [to_judgment(name, it, *answers[i]) for i, it in enumerate(items)]
        return [judgments[2 * k : 2 * k + 2] for k in range(len(pairs))]


JUDGE = PairwiseJudge()
