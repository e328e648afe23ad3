"""The `trl-preference` format of preference datasets (DESIGN.md §7): TRL's preference columns plus provenance.

Format version 2 (`PREFERENCE_FORMAT`, in the Parquet schema metadata): `margin` is what TRL's
`RewardTrainer` reads as its Bradley–Terry margin, so it is never negative: max(μ, 0) on 0..2, where μ is the
jury's mean vote (−2..2) for the chosen response; null for pairs stored before the vote scale (their μ is in
mixed units). The signed μ is `strength`; `consistency` is the rank-consistency filter's C = (τ + 1)/2;
`confidence` is the jury's P(chosen better) and `aggregation` the rule that gave it (issue 17).
Format 1 (before) exported the signed mean margin in each protocol's units as `margin`.
"""

from __future__ import annotations

import json

import pyarrow as pa

from ...schemas.dataset import DatasetVersion
from ..catalog import Catalog
from .base import MESSAGES, ExportOptions, TableFormat, format_metadata

PREFERENCE_FORMAT = "trl-preference/2"
MARGIN_SCALE = ("max(μ, 0) on 0..2: the jury's mean vote (−2..2, one vote per juror) for the chosen response, "
                "clipped at 0; null when the pair predates the vote scale")

_PREFERENCE_ROWS = """
SELECT p.id AS pair_id, p.prompt_id, pr.text AS prompt_text, pr.messages AS prompt_messages,
       c.text AS chosen, r.text AS rejected, c.model AS chosen_model, r.model AS rejected_model,
       p.margin, p.agreement, p.judgment_ids, p.chosen_score, p.rejected_score, p.weight, p.vote_scale,
       p.consistency, p.confidence, p.aggregation
FROM dataset_rows d
JOIN pairs p ON p.id = d.row_id
JOIN prompts pr ON pr.id = p.prompt_id
JOIN samples c ON c.id = p.chosen_id
JOIN samples r ON r.id = p.rejected_id
WHERE d.name = ? AND d.version = ?
ORDER BY d.ord
"""


def query(catalog: Catalog, version: DatasetVersion) -> list[dict]:
    """The version's pairs in row order, with their texts and `judges` (the names of the judges behind each)."""
    rows = catalog.query_dicts(_PREFERENCE_ROWS, [version.name, version.version])
    judges = _judges_by_id(catalog, [j for r in rows for j in json.loads(r["judgment_ids"])])
    for r in rows:
        r["judges"] = sorted({judges[j] for j in json.loads(r["judgment_ids"]) if j in judges})
    return rows


def derive(rows: list[dict], options: ExportOptions) -> list[dict]:
    """TRL preference rows. Conversational form (message lists) when any prompt of the version is a chat."""
    conversational = any(r["prompt_messages"] for r in rows)
    return [_trl_row(r, conversational) for r in rows]


def _judges_by_id(catalog: Catalog, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    catalog.con.register("_jids", pa.table({"id": ids}))
    try:
        return dict(catalog.query("SELECT j.id, j.judge FROM judgments j JOIN _jids USING (id)"))
    finally:
        catalog.con.unregister("_jids")


def _trl_row(r: dict, conversational: bool) -> dict:
    if conversational:
        messages = json.loads(r["prompt_messages"]) if r["prompt_messages"] else [{"role": "user", "content": r["prompt_text"]}]
        prompt, chosen, rejected = messages, _assistant(r["chosen"]), _assistant(r["rejected"])
    else:
        prompt, chosen, rejected = r["prompt_text"], r["chosen"], r["rejected"]
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "prompt_id": r["prompt_id"],
        "chosen_model": r["chosen_model"],
        "rejected_model": r["rejected_model"],
        # Mean of the scoring jurors' scores in their own units (a verifier's 1/0 included; mixed scales are
        # averaged as they are: see docs/judging.md); pairwise verdicts alone give no absolute rating.
        "chosen_rating": r["chosen_score"],
        "rejected_rating": r["rejected_score"],
        "margin": _reward_margin(r["margin"], r["vote_scale"]),
        "strength": r["margin"],  # the jury's mean vote μ for the chosen response (signed; units: vote_scale)
        "vote_scale": r["vote_scale"],
        "judges": r["judges"],
        "agreement": r["agreement"],
        "weight": 1.0 if r["weight"] is None else r["weight"],  # < 1 when a filter down-weighted the pair
        "consistency": r["consistency"],  # C = (τ + 1)/2 against the parent version; null when not computed
        "confidence": r["confidence"],  # P(chosen better) from the jury's aggregation; null before m008 / no vote
        "aggregation": r["aggregation"],  # majority, dawid_skene or fitted
    }


def _reward_margin(mu: float, vote_scale: str | None) -> float | None:
    """A Bradley–Terry margin for TRL's RewardTrainer: never negative (a negative margin would let the reward
    model rank chosen below rejected at no loss); unknown (null) on the mixed units of pairs without a scale."""
    return None if vote_scale is None else max(mu, 0.0)


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


_PREFERENCE_SCHEMA_FIELDS = [
    ("prompt_id", pa.string()), ("chosen_model", pa.string()), ("rejected_model", pa.string()),
    ("chosen_rating", pa.float64()), ("rejected_rating", pa.float64()), ("margin", pa.float64()),
    ("strength", pa.float64()), ("vote_scale", pa.string()), ("judges", pa.list_(pa.string())),
    ("agreement", pa.float64()), ("weight", pa.float64()), ("consistency", pa.float64()),
    ("confidence", pa.float64()), ("aggregation", pa.string()),
]


def schema(records: list[dict]) -> pa.Schema:
    """Text columns are message lists when the records are conversational, else strings."""
    text = MESSAGES if records and isinstance(records[0]["prompt"], list) else pa.string()
    return pa.schema([("prompt", text), ("chosen", text), ("rejected", text), *_PREFERENCE_SCHEMA_FIELDS],
                     metadata=format_metadata(PREFERENCE_FORMAT, margin=MARGIN_SCALE))


TRL_PREFERENCE = TableFormat(format="trl-preference", kind="preference", version=PREFERENCE_FORMAT, query=query,
                             derive=derive, schema=schema, card_tag="dpo")
