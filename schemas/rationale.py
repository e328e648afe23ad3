"""Records of the self-rationalization flow: items judged K times, and the rationale pairs built from them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .engine import Message

ReferenceSource = Literal["gold", "verifier", "consensus", "none"]
_RECORD = ConfigDict(extra="forbid", frozen=True)


class RationaleItem(BaseModel):
    """One comparison (prompt, response A, response B) judged K times by the same judge.

    `response_a_id` / `response_b_id` are the responses as the judge saw them (A first); `swapped` is True when
    that is the input's response_b first (half the items are shown swapped, so position bias is no signal).
    `reference` is the side that should win in that shown order ("A" or "B"), from a gold label, a verifier
    (outcome-checked answers) or the consensus of the K judgments; None when there is none (no pair then).
    `sample_ids` has one judgment id per sample (K, repeats when samples were identical: each is a vote; None in
    versions written before migration m007, whose votes were counted once per distinct reply); `judgment_ids`
    the same, each once. `right_ids` are the distinct parsed judgments whose verdict agrees with the reference;
    `incomplete_ids` the judgments cut at max_tokens or read through the re-ask (never chosen nor the SFT target;
    None before m007); `best_id` the one kept for SFT — None when no complete judgment agrees (then the item's
    id also carries "only incomplete judgments agree"; versions before this rule could pick an incomplete one).
    """

    model_config = _RECORD
    id: str
    prompt_id: str
    response_a_id: str
    response_b_id: str
    judge: str
    judging_messages: tuple[Message, ...]
    reference: Literal["A", "B"] | None
    reference_source: ReferenceSource
    judgment_ids: tuple[str, ...]
    right_ids: tuple[str, ...]
    best_id: str | None
    swapped: bool = False
    sample_ids: tuple[str, ...] | None = None
    incomplete_ids: tuple[str, ...] | None = None


class RationalePair(BaseModel):
    """Chosen = a judgment that agrees with the reference, rejected = a parsed one that does not."""

    model_config = _RECORD
    id: str
    item_id: str
    chosen_id: str
    rejected_id: str
    rank: int  # 0 = most informative pair of its item


class RationaleInput(BaseModel):
    """One input line: a prompt, two responses, and optionally a gold label and/or a gold final answer."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    prompt_id: str
    prompt_text: str
    response_a: str
    response_b: str
    label: Literal["A>B", "B>A"] | None = None
    gold_answer: str | None = None
    source: str = ""
