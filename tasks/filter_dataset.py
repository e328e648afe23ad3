"""Pair filters that look at texts and at the whole dataset: near-duplicates and ranking consistency with the
parent version.

Dataset-level filters have a `prepare` step that sees every pair entering the filter (and the parent version's
pairs, passed in by the flow through the context) and a per-pair decision that reads what it prepared.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from rapidfuzz import fuzz, process

from ..schemas.preference import PreferencePair
from ..schemas.stages import NearDuplicatePairFilter, NearDuplicatePromptFilter, RankConsistencyFilter
from .filter_rules import FilterContext, Outcome, derive
from .judge.agreement import kendall_tau_b

_CHUNK = 256  # rows of the similarity matrix computed at once: bounds memory on large datasets


def near_duplicate_pair(cfg: NearDuplicatePairFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Drop pairs whose chosen and rejected texts are near-identical (rapidfuzz `ratio` ≥ threshold): whatever
    tells them apart is too small to be the preference a model should learn. No paper of its own: it is the
    pair-level form of near-duplicate removal (Lee et al. 2022, "Deduplicating Training Data Makes Language
    Models Better").
    """
    chosen, rejected = ctx.samples[pair.chosen_id].text, ctx.samples[pair.rejected_id].text
    if fuzz.ratio(chosen, rejected) >= cfg.threshold:
        return False, f"chosen and rejected are near-duplicates (ratio ≥ {cfg.threshold:g})"
    return True, "responses differ"


def near_duplicate_prompts(texts: list[str], threshold: float) -> set[int]:
    """Indices of texts that are near-copies (ratio ≥ threshold) of an earlier text that is itself kept."""
    dropped: set[int] = set()
    for start in range(0, len(texts), _CHUNK):
        rows = process.cdist(texts[start : start + _CHUNK], texts[: start + _CHUNK], scorer=fuzz.ratio,
                             score_cutoff=threshold, workers=-1)
        for offset, row in enumerate(rows):
            i = start + offset
            similar = (row[:i] >= threshold).nonzero()[0]  # cdist gives a numpy row: no Python loop over it
            if any(int(j) not in dropped for j in similar):
                dropped.add(i)
    return dropped


def prepare_near_duplicate_prompts(
    cfg: NearDuplicatePromptFilter, pairs: list[PreferencePair], ctx: FilterContext
) -> FilterContext:
    """The prompts (among those of the pairs entering the filter, in order) that repeat an earlier one."""
    order = list(dict.fromkeys(p.prompt_id for p in pairs))
    texts = [ctx.prompts[pid].display_text() for pid in order]
    dup = near_duplicate_prompts(texts, cfg.threshold) if texts else set()
    return replace(ctx, duplicate_prompts=frozenset(order[i] for i in dup))


def near_duplicate_prompt(cfg: NearDuplicatePromptFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Keep only the pairs of the first of near-identical prompts across the dataset (rapidfuzz `ratio`), so no
    prompt is over-weighted (near-duplicate removal: Lee et al. 2022, "Deduplicating Training Data Makes Language
    Models Better"; exact character ratio here instead of their MinHash, which suits prompt-sized texts).
    """
    if pair.prompt_id in ctx.duplicate_prompts:
        return False, f"prompt is a near-duplicate of an earlier prompt (ratio ≥ {cfg.threshold:g})"
    return True, "prompt is distinct"


def sample_scores(pairs: list[PreferencePair]) -> dict[str, dict[str, float]]:
    """Prompt → sample → net preference: the sum of its signed margins over the prompt's pairs (the ranking)."""
    scores: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in pairs:
        scores[p.prompt_id][p.chosen_id] += p.margin
        scores[p.prompt_id][p.rejected_id] -= p.margin
    return scores


def ranking_taus(current: list[PreferencePair], parent: list[PreferencePair]) -> dict[str, float | None]:
    """Prompt → Kendall τ-b between this version's and the parent's rankings of the samples both ranked.

    None when fewer than two samples are shared or either ranking is flat (τ is undefined).
    """
    now, before = sample_scores(current), sample_scores(parent)
    taus: dict[str, float | None] = {}
    for prompt_id, ranked in now.items():
        common = sorted(set(ranked) & set(before.get(prompt_id, {})))
        taus[prompt_id] = (
            kendall_tau_b([ranked[s] for s in common], [before[prompt_id][s] for s in common]) if len(common) > 1 else None
        )
    return taus


def prepare_rank_consistency(cfg: RankConsistencyFilter, pairs: list[PreferencePair],
                             ctx: FilterContext) -> FilterContext:
    if ctx.parent_pairs is None:
        return ctx
    return replace(ctx, taus=ranking_taus(list(ctx.all_pairs or pairs), list(ctx.parent_pairs)))


def consistency(tau: float) -> float:
    """CREAM's consistency rate C = (τ + 1)/2 ∈ [0, 1] (Wang et al. 2024)."""
    return (tau + 1) / 2


def rank_consistency(cfg: RankConsistencyFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str] | Outcome:
    """Rank a prompt's samples by this version's pairs and by the parent version's (net margin per sample) and
    compare the rankings with Kendall τ-b: the consistency measure of CREAM (Wang et al. 2024, "CREAM:
    Consistency Regularized Self-Rewarding Language Models"). Every pair of a prompt with a τ is kept as a new
    record carrying C = (τ + 1)/2 in `consistency`; below `min_tau` the pair is dropped (`drop`) or its weight
    is multiplied by C (`downweight`). No parent version, or no ranking shared with it: kept unchanged.

    CREAM itself uses C as a soft label inside the DPO loss (C·ℓ(chosen ≻ rejected) + (1 − C)·ℓ(rejected ≻
    chosen)); that happens in training, from the exported `consistency` column (docs/judging.md).
    """
    if ctx.parent_pairs is None:
        return True, "no parent version"
    tau = ctx.taus.get(pair.prompt_id)
    if tau is None:
        return True, "no ranking shared with the parent version"
    c = consistency(tau)
    if tau >= cfg.min_tau:
        return Outcome(True, "consistent with the parent version", derive(pair, "consistency", consistency=c))
    if cfg.action == "drop":
        return False, f"ranking disagrees with the parent version (τ below {cfg.min_tau:g})"
    weighted = derive(pair, "weight", weight=pair.weight * c, consistency=c)
    return Outcome(True, f"down-weighted: ranking disagrees with the parent version (τ below {cfg.min_tau:g})", weighted)
