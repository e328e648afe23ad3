"""Dataset cards: README.md with YAML metadata (the Hub's format) stating how a version was made and the
registry's table format it is written in (name and task tag)."""

from __future__ import annotations

import json

import yaml

from ... import __version__
from ...schemas.dataset import DatasetVersion
from ...schemas.stats import Funnel, PreferenceStats, load_stats
from .base import TableFormat

# What each method is, as cited in the card when the version's config used it.
CITATIONS = {
    "pairwise": "Zheng et al. 2023, *Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena* (pairwise judging, both orders)",
    "position_swap": "Wang et al. 2023, *Large Language Models are not Fair Evaluators* (position-swap consistency)",
    "pointwise": "Kim et al. 2024, *Prometheus 2* (rubric-based pointwise scoring)",
    "jury": "Verga et al. 2024, *Replacing Judges with Juries* (panels of LLM evaluators)",
    "debate": "Chan et al. 2023, *ChatEval* (multi-agent debate)",
    "verifier": "Pang et al. 2024, *Iterative Reasoning Preference Optimization* (a correct against an incorrect "
                "answer, checked against the reference, as a preference pair)",
    "strength": "Wang et al. 2024, *Secrets of RLHF in Large Language Models Part II* (preference strength)",
    "length_bias": "Lin et al. 2024, *WildBench* (length-bias rule, K = 500 characters)",
    "rank_consistency": "Wang et al. 2024, *CREAM* (ranking consistency across versions; C = (τ+1)/2 in the "
                        "`consistency` column)",
    "cross_version": "Wang et al. 2024, *CREAM* (cross-iteration consistency)",  # versions built before the rename
    "omegaprm": "Luo et al. 2024, *Improve Mathematical Reasoning in Language Models by Automated Process Supervision* (OmegaPRM)",
    "math_shepherd": "Wang et al. 2024, *Math-Shepherd* (Monte Carlo step labels)",
}

# The build figures a card shows (schemas/stats.py field names), in this order, where the version's kind has them.
CARD_COUNTS = ("prompts", "samples", "judgments", "pairs", "problems", "solutions", "labelled_solutions",
               "labelled_steps", "engine_calls", "cache_hits", "prompt_tokens", "completion_tokens")
CARD_AGREEMENT = ("agreement", "agreement_with_reference")  # PreferenceStats, RationaleStats


def size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return label
    return "n>1M"


def methods_used(version: DatasetVersion) -> list[str]:
    """Keys of CITATIONS that appear in the version's config (protocols, filters, labelling method)."""
    blob = json.dumps(version.config)
    found = [key for key in CITATIONS if f'"{key}"' in blob]
    if version.kind == "preference" and "pairwise" not in found and '"protocol"' not in blob:
        found.insert(0, "pairwise")  # the default judge protocol
    return found


def dataset_card(version: DatasetVersion, table_format: TableFormat, license: str = "other") -> str:
    """The README.md of `version` exported in `table_format`: metadata, models, counts, the filter funnel
    (preference), agreement, methods and the build config. Build figures come from the typed stats
    (`load_stats`), so format-0 and current versions read alike."""
    meta = {
        "license": license,
        "task_categories": ["text-generation"],
        "tags": ["prefsynth", "synthetic", table_format.card_tag],
        "size_categories": [size_category(version.row_count)],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
    }
    stats = load_stats(version.kind, version.stats)
    shown = dict(stats.display_items())
    lines = [
        "---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", "",
        f"# {version.name} v{version.version}", "",
        f"A {version.kind} dataset in TRL's `{table_format.format}` format, built by prefsynth {__version__} "
        f"on {version.created_at:%Y-%m-%d}. {version.row_count} rows; content hash `{version.content_hash}`"
        + (f"; parent version v{version.parent_version}." if version.parent_version else "."),
        "", "## Models", "",
        *[f"- `{name}`: {cfg.get('kind')} {cfg.get('model') or cfg.get('model_path') or ''}".rstrip()
          for name, cfg in version.config.get("engines", {}).items()],
        "", "## Counts", "", "```json", _json({k: shown[k] for k in CARD_COUNTS if k in shown}), "```",
    ]
    if isinstance(stats, PreferenceStats):
        lines += _funnel(stats.funnel)
    agreement = {k: shown[k] for k in CARD_AGREEMENT if k in shown}
    if agreement:
        lines += ["", "## Agreement", "", "```json", _json(agreement), "```"]
    lines += ["", "## Methods", "", *[f"- {CITATIONS[m]}" for m in methods_used(version)]]
    lines += ["", "## Build config", "", "```yaml", yaml.safe_dump(version.config, sort_keys=False).strip(), "```", ""]
    return "\n".join(lines)


def _funnel(funnel: Funnel) -> list[str]:
    lines = ["", "## Filter funnel", "", "| filter | in | dropped | reasons |", "| --- | --- | --- | --- |"]
    for step in funnel.steps:
        reasons = "; ".join(f"{r}: {c}" for r, c in sorted(step.reasons.items())) or "–"
        lines.append(f"| {step.filter} | {step.in_} | {step.dropped} | {reasons} |")
    lines.append(f"\n{funnel.pairs_in} pairs in, {funnel.pairs_out} out.")
    return lines


def _json(figures: dict) -> str:
    """The figures in card order, each nested object with sorted keys: how the catalog stores build stats
    (storage/versions.py), so a card reads the same whichever way its version was loaded."""
    return json.dumps({k: json.loads(json.dumps(v, sort_keys=True)) for k, v in figures.items()}, indent=2)
