"""Self-rationalization: pick which of K sampled judgments are right, and pair right with wrong rationales.

After Trivedi et al. 2024, "Self-rationalization improves LLM as a fine-grained judge" (arXiv:2410.05495): the
judge samples K judgments with rationales per item; judgments that agree with a reference (gold label, an
outcome verifier, or the consensus) become `chosen`, those that disagree `rejected`, giving preference data
(DPO) to train the judge on its own rationales. Pure: no engine, no storage.

Every one of the K samples is a vote (identical replies included: they are stored once, counted each time).
A reply cut at max_tokens or read only through the re-ask is *incomplete*: it still votes, but it is never a
chosen rationale nor the SFT target — its quality is unknown, and unknown is not good enough to train on. An
item whose agreeing judgments are all incomplete gets no chosen rationale and no SFT target (`target_problem`
says why). Training text is always the rationale
plus a rebuilt `Verdict: [[X]]` line (`training_reply`), never the raw reply with its re-ask.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import product
from typing import TypeVar

from ..schemas.ids import content_id
from ..schemas.preference import Judgment
from ..schemas.rationale import RationalePair, ReferenceSource

T = TypeVar("T")


@dataclass(frozen=True)
class Reference:
    winner: str | None  # "A", "B" or None
    source: ReferenceSource


def side(judgment: Judgment) -> str | None:
    """Which side the judgment prefers ("A", "B", "=" for a tie), None without a verdict. A = shown first."""
    if judgment.status != "ok" or judgment.verdict is None:
        return None
    return "A" if judgment.verdict.startswith("A>") else "B" if judgment.verdict.startswith("B>") else "="


def presentation_order(known: list[str | None], order: str) -> list[bool]:
    """Which items are shown swapped (response B first), given each item's known reference side in the input's
    order ("A", "B" from a gold label or the verifier; None when the judgments will decide, by consensus).

    "balanced": within each group of items with the same known side, every second one is swapped, so each side
    is shown as A for half its items and as B for the other half whatever the file's order (alternating items
    alone would show an alternating A>B, B>A file as all A) and a judge's position bias cannot pass for
    agreement with the reference (issue 12 item 19). "as_given": none.
    """
    seen: Counter = Counter()
    swapped = []
    for side_ in known:
        swapped.append(order == "balanced" and seen[side_] % 2 == 1)
        seen[side_] += 1
    return swapped


def as_shown(reference: Reference, swapped: bool) -> Reference:
    """A reference about the input's (response_a, response_b), restated for the order the judge saw."""
    if not swapped or reference.winner is None:
        return reference
    return Reference("B" if reference.winner == "A" else "A", reference.source)


def distinct(records: list[T]) -> list[T]:
    """The records once each by id (identical samples share a content id), in first-seen order."""
    return list({r.id: r for r in records}.values())


def training_reply(rationale: str | None, verdict: str) -> str:
    """The assistant turn a judge is trained on: its rationale, then the verdict line the template asks for."""
    line, rationale = f"Verdict: [[{verdict}]]", (rationale or "").strip()
    return f"{rationale}\n{line}" if rationale else line


def consensus(judgments: list[Judgment], min_margin: float) -> Reference:
    """The majority side of the parsed judgments, if it leads the runner-up by at least `min_margin` of them.

    `judgments` has one entry per sample (repeats included: three identical A replies are three votes).
    A tie majority is no reference: it cannot tell a right rationale from a wrong one.
    """
    votes = Counter(s for j in judgments if (s := side(j)) is not None)
    parsed = sum(votes.values())
    if not parsed:
        return Reference(None, "none")
    (top, n_top), *rest = votes.most_common() + [("", 0)]
    lead = (n_top - rest[0][1]) / parsed
    if top == "=" or lead < min_margin or (rest[0][1] == n_top and rest[0][0]):
        return Reference(None, "none")
    return Reference(top, "consensus")


def verifier_reference(a_correct: bool | None, b_correct: bool | None) -> Reference:
    """Math items: A is better iff A's final answer is correct and B's is not (and vice versa)."""
    if a_correct is True and b_correct is False:
        return Reference("A", "verifier")
    if b_correct is True and a_correct is False:
        return Reference("B", "verifier")
    return Reference(None, "none")


def split_right_wrong(judgments: list[Judgment], reference: Reference) -> tuple[list[Judgment], list[Judgment]]:
    """Parsed judgments that agree with the reference, and parsed ones that do not (ties included)."""
    if reference.winner is None:
        return [], []
    parsed = [j for j in judgments if side(j) is not None]
    return [j for j in parsed if side(j) == reference.winner], [j for j in parsed if side(j) != reference.winner]


def _text_len(j: Judgment) -> int:
    return len(training_reply(j.rationale, j.verdict or ""))


def complete(judgments: list[Judgment], incomplete: set[str]) -> list[Judgment]:
    """The complete judgments (neither cut at max_tokens nor re-asked), each once."""
    return [j for j in distinct(judgments) if j.id not in incomplete]


ONLY_INCOMPLETE = "only incomplete judgments agree"


def target_problem(right: list[Judgment], incomplete: set[str]) -> str | None:
    """Why an item with agreeing judgments has no chosen rationale and no SFT target (None: it has them, or
    nothing agreed): every agreeing judgment was cut or re-asked."""
    return ONLY_INCOMPLETE if right and not complete(right, incomplete) else None


def rationale_pairs(item_id: str, right: list[Judgment], wrong: list[Judgment], max_pairs: int,
                    incomplete: set[str] = frozenset()) -> list[RationalePair]:
    """At most `max_pairs` (right, wrong) pairs of distinct judgments, most informative first.

    Chosen: complete right judgments only (`incomplete`: ids cut at max_tokens or re-asked; none complete → no
    pair). Ranking: complete rejected first, opposite verdicts before ties, then similar lengths of the
    training text (so length is not what separates chosen from rejected); each judgment used once if possible.
    """

    def informativeness(pair: tuple[Judgment, Judgment]) -> tuple:
        c, r = pair
        return (r.id in incomplete, side(r) == "=", abs(_text_len(c) - _text_len(r)), c.id, r.id)

    ranked = sorted(product(complete(right, incomplete), distinct(wrong)), key=informativeness)
    chosen: list[tuple[Judgment, Judgment]] = []
    used: set[str] = set()
    for pair in ranked:  # first pass: disjoint pairs; second pass fills up with reuse
        if len(chosen) < max_pairs and not ({pair[0].id, pair[1].id} & used):
            chosen.append(pair)
            used |= {pair[0].id, pair[1].id}
    for pair in ranked:
        if len(chosen) < max_pairs and pair not in chosen:
            chosen.append(pair)
    return [
        RationalePair(id=content_id("rationale-pair", item_id, c.id, r.id), item_id=item_id, chosen_id=c.id,
                      rejected_id=r.id, rank=rank)
        for rank, (c, r) in enumerate(chosen)
    ]


def best_rationale(right: list[Judgment], incomplete: set[str] = frozenset()) -> Judgment | None:
    """The agreed judgment kept for SFT: the fullest (longest) complete rationale, ties broken by id for
    determinism; None when no complete one agrees."""
    return max(complete(right, incomplete), key=lambda j: (len(j.rationale), j.id), default=None)
