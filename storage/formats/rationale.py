"""The formats of rationale datasets (the judge's own training data): `trl-preference` (DPO on judge replies) and
`trl-sft` (SFT on the best agreed judgment). Both conversational; neither carries a format version.

Exported replies are each judgment's rationale plus a rebuilt `Verdict: [[X]]` line (tasks.rationalize.
training_reply), not the stored raw text: a re-asked judgment's raw text is the cut reply, a `[re-ask]` marker
and the bare verdict, which is no reply a judge should learn to write."""

from __future__ import annotations

import json

import pyarrow as pa

from ...schemas.dataset import DatasetVersion
from ...tasks.rationalize import training_reply
from ..catalog import Catalog
from .base import MESSAGES, ExportOptions, TableFormat

_PAIRS = """
SELECT i.judging_messages, c.rationale AS chosen, c.verdict AS chosen_verdict, r.rationale AS rejected,
       r.verdict AS rejected_verdict, i.id AS item_id, i.judge, i.reference, i.reference_source, p.rank
FROM dataset_rows d
JOIN rationale_items i ON i.id = d.row_id
JOIN rationale_pairs p ON p.item_id = i.id
JOIN judgments c ON c.id = p.chosen_id
JOIN judgments r ON r.id = p.rejected_id
WHERE d.name = ? AND d.version = ?
ORDER BY d.ord, p.rank
"""
_SFT = """
SELECT i.judging_messages, b.rationale AS reply, b.verdict, i.id AS item_id, i.judge, i.reference_source
FROM dataset_rows d
JOIN rationale_items i ON i.id = d.row_id
JOIN judgments b ON b.id = i.best_id
WHERE d.name = ? AND d.version = ?
ORDER BY d.ord
"""
_PAIR_SCHEMA = pa.schema([
    ("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES), ("item_id", pa.string()),
    ("judge", pa.string()), ("reference", pa.string()), ("reference_source", pa.string()), ("rank", pa.int64()),
])
_SFT_SCHEMA = pa.schema([("messages", MESSAGES), ("item_id", pa.string()), ("judge", pa.string()),
                         ("reference_source", pa.string())])


def pair_query(catalog: Catalog, version: DatasetVersion) -> list[dict]:
    return catalog.query_dicts(_PAIRS, [version.name, version.version])


def pair_rows(rows: list[dict], options: ExportOptions) -> list[dict]:
    """TRL preference rows, conversational: prompt = the judging messages (responses in the order shown),
    chosen/rejected = judge replies (rationale + verdict line)."""
    return [
        {
            "prompt": json.loads(r["judging_messages"]),
            "chosen": _reply(training_reply(r["chosen"], r["chosen_verdict"])),
            "rejected": _reply(training_reply(r["rejected"], r["rejected_verdict"])),
            "item_id": r["item_id"], "judge": r["judge"], "reference": r["reference"],
            "reference_source": r["reference_source"], "rank": r["rank"],
        }
        for r in rows
    ]


def sft_query(catalog: Catalog, version: DatasetVersion) -> list[dict]:
    return catalog.query_dicts(_SFT, [version.name, version.version])


def sft_rows(rows: list[dict], options: ExportOptions) -> list[dict]:
    """TRL SFT rows (`messages`): the judging prompt, then the best agreed judgment (rationale + verdict line) as
    the assistant turn."""
    return [
        {
            "messages": [*json.loads(r["judging_messages"]), *_reply(training_reply(r["reply"], r["verdict"]))],
            "item_id": r["item_id"], "judge": r["judge"], "reference_source": r["reference_source"],
        }
        for r in rows
    ]


def _reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


# The card tag is the one these exports always had (the card tags every non-preference kind so).
JUDGE_PREFERENCE = TableFormat(format="trl-preference", kind="rationale", version=None, query=pair_query,
                               derive=pair_rows, schema=lambda records: _PAIR_SCHEMA, card_tag="process-reward-model")
JUDGE_SFT = TableFormat(format="trl-sft", kind="rationale", version=None, query=sft_query, derive=sft_rows,
                        schema=lambda records: _SFT_SCHEMA, card_tag="process-reward-model")
