"""The report's confidence section (issue 17): the jury's precision/coverage frontier and this version's pairs.

- `frontier`: for a build whose `aggregation` is `fitted`, the k-fold cross-validated frontier `eval-judge --fit`
  measured on gold (stored in the config's `aggregation.fit`); none for majority / Dawid–Skene builds, whose
  precision needs gold labels (`eval-judge` reports it).
- `coverage`: for thresholds 0.5 … 0.99, the share of the jury's pairs of this build (before filters) whose
  confidence is ≥ the threshold — what a `confidence` filter at that threshold would keep here.
- `threshold`: the `min_confidence` of the build's `confidence` filter, if it has one.
"""

from __future__ import annotations

from ..schemas.dataset import DatasetVersion
from ..storage.catalog import Catalog
from ..storage.records import version_pairs
from ..tasks.judge.frontier import THRESHOLDS

def confidence_summary(catalog: Catalog, version: DatasetVersion) -> dict | None:
    """None when the version's pairs carry no confidence (built before migration m008)."""
    pairs = version_pairs(catalog, version.name, version.version)  # the jury's own pairs of the build
    values = [p.confidence for p in pairs if p.confidence is not None]
    if not values:
        return None
    aggregation = (version.config or {}).get("aggregation") or {"kind": "majority"}
    fit = aggregation.get("fit") or {}
    threshold = next((f.get("min_confidence", 0.8) for f in (version.config or {}).get("filters") or []
                      if isinstance(f, dict) and f.get("kind") == "confidence"), None)
    return {
        "aggregation": aggregation.get("kind", "majority"),
        "pairs": len(pairs),
        "with_confidence": len(values),
        "coverage": [{"threshold": t, "share": round(sum(v >= t and v > 0.5 for v in values) / len(pairs), 4)}
                     for t in THRESHOLDS],
        "frontier": fit.get("frontier"),
        "frontier_how": f"{fit['folds']}-fold cross-validated on {fit.get('items')} gold items" if fit else None,
        "threshold": threshold,
    }
