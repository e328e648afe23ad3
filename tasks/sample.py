"""Sampling: one request per (prompt, policy) with `n` completions, and results → `Sample` records.

Also collapses near-duplicate responses of a prompt (rapidfuzz ratio), so the judge is not asked to compare
a response with itself.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from ..schemas.engine import GenRequest, GenResult, Message
from ..schemas.ids import content_id
from ..schemas.preference import Prompt, Sample
from ..schemas.stages import DedupeConfig, PolicyConfig


def sample_request(policy: PolicyConfig, prompt: Prompt) -> GenRequest:
    messages = prompt.as_messages()
    if policy.system_prompt and messages[0].role != "system":
        messages = (Message(role="system", content=policy.system_prompt),) + messages
    return GenRequest(
        messages=messages,
        n=policy.n,
        temperature=policy.temperature,
        top_p=policy.top_p,
        max_tokens=policy.max_tokens,
        seed=policy.seed,
    )


def to_samples(policy_name: str, model: str, prompt: Prompt, n: int, result: GenResult) -> list[Sample]:
    """`n` samples; a failed call gives `n` error samples, an empty reply an error sample, a cut one `truncated`."""
    if not result.ok:
        return [_sample(policy_name, model, prompt, i, "", "error", None, 0, result.error) for i in range(n)]
    out = []
    for i, c in enumerate(result.completions):
        if not c.text.strip():
            out.append(_sample(policy_name, model, prompt, i, c.text, "error", c.finish_reason, c.completion_tokens, "empty response"))
            continue
        status = "truncated" if c.finish_reason == "length" else "ok"
        out.append(_sample(policy_name, model, prompt, i, c.text, status, c.finish_reason, c.completion_tokens, None))
    return out


def _sample(policy, model, prompt, index, text, status, finish, tokens, error) -> Sample:
    sid = content_id(prompt.id, policy, model, index, text, status, error)
    return Sample(
        id=sid, prompt_id=prompt.id, policy=policy, model=model, index=index, text=text, status=status,
        finish_reason=finish, completion_tokens=tokens, error=error,
    )


def judgeable(sample: Sample) -> bool:
    return sample.status in ("ok", "truncated")


def collapse_duplicates(samples: list[Sample], cfg: DedupeConfig) -> list[Sample]:
    """Mark a response `duplicate` (with `duplicate_of`) when it is a near-copy of an earlier one of its prompt."""
    if not cfg.enabled:
        return samples
    kept_by_prompt: dict[str, list[Sample]] = {}
    out = []
    for s in samples:
        if not judgeable(s):
            out.append(s)
            continue
        kept = kept_by_prompt.setdefault(s.prompt_id, [])
        twin = next((k for k in kept if fuzz.ratio(k.text, s.text) >= cfg.threshold), None)
        if twin is None:
            kept.append(s)
            out.append(s)
        else:
            out.append(s.model_copy(update={"status": "duplicate", "duplicate_of": twin.id}))
    return out
