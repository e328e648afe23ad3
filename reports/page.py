"""`prefsynth report NAME[@V] --out DIR`: one version's summary as `DIR/index.html` with PNG plots.

Data access is in storage/report_data.py, the numbers in reports/summary.py (build stats read as the typed
records of schemas/stats.py), the plots in reports/plots.py; this module picks them by dataset kind and writes the page.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..schemas.dataset import DatasetVersion
from ..storage.catalog import Catalog
from ..storage.report_data import preference_data, rationale_data, stepwise_data
from .summary import preference_summary, rationale_summary, stepwise_summary, summary_funnel


def build_summary(catalog: Catalog, version: DatasetVersion, threshold: float = 0.0) -> dict[str, Any]:
    """The report's numbers for any kind of version (JSON-able)."""
    if version.kind == "preference":
        from .confidence import confidence_summary

        summary = preference_summary(version, preference_data(catalog, version))
        return {**summary, "confidence": confidence_summary(catalog, version)}
    if version.kind == "stepwise":
        return stepwise_summary(version, stepwise_data(catalog, version), threshold)
    if version.kind == "rationale":
        return rationale_summary(version, rationale_data(catalog, version))
    raise ValueError(f"no report for {version.kind} datasets")


def write_report(catalog: Catalog, version: DatasetVersion, out_dir: Path, threshold: float = 0.0) -> tuple[Path, dict]:
    """Write index.html, the PNGs and summary.json into `out_dir`; returns (index.html, summary)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .plots import PLOTS  # matplotlib: imported only when a report is drawn

    summary = build_summary(catalog, version, threshold)
    plots = [p for plot in PLOTS[version.kind] if (p := plot(summary, out_dir))]
    summary["plots"] = [name for name, _ in plots]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    index = out_dir / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(page(summary, plots), encoding="utf-8")
    tmp.replace(index)
    return index, summary


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
figure { margin: 1.5em 0; }
figcaption { color: #555; font-size: 0.9em; }
code { font-size: 0.9em; }
"""


def page(s: dict, plots: list[tuple[str, str]]) -> str:
    e = html.escape
    parts = [
        "<!doctype html>", "<html><head><meta charset='utf-8'>",
        f"<title>{e(s['name'])} v{s['version']} report</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(s['name'])} v{s['version']} <small>({e(s['kind'])})</small></h1>",
        f"<p>content hash <code>{e(s['content_hash'])}</code>; parent "
        f"{'v' + str(s['parent_version']) if s['parent_version'] else 'none'}; created {e(s['created_at'])}"
        + (f"; flow run <code>{e(s['flow_run_id'])}</code>" if s.get("flow_run_id") else "") + "</p>",
        _table(["metric", "value"], s["headline"]),
    ]
    if s.get("judges"):
        from .plots import judge_labels

        short = judge_labels(s["judges"])
        parts.append("<h2>Judges</h2>" + _table(["label", "judge"], [[short[j], j] for j in s["judges"]]))
    funnel = summary_funnel(s)
    if funnel:
        rows = [[st.filter, st.in_, st.dropped, ", ".join(f"{k} {v}" for k, v in st.reasons.items())]
                for st in funnel.steps] + [["kept", funnel.pairs_out, "", ""]]
        parts.append("<h2>Filter funnel</h2>" + _table(["filter", "in", "dropped", "reasons"], rows))
    if plots:
        parts.append("<h2>Plots</h2>")
    for name, caption in plots:
        parts.append(f"<figure><img src='{e(name)}' alt='{e(caption)}'><figcaption>{e(caption)}</figcaption></figure>")
    if s["kind"] == "preference" and not s.get("juror_kappa"):
        parts.append("<p>One judge: no juror agreement heatmap (it needs a jury of several judges).</p>")
    parts.append("<p>Numbers: <a href='summary.json'>summary.json</a>.</p></body></html>")
    return "\n".join(parts) + "\n"


def _table(header: list[str], rows: list[list]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
