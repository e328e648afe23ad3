"""The version summary attached to the flow run as Prefect artifacts: a Markdown summary and a table.

Called at the end of each build flow, after the version is committed. The numbers are the report's
(reports/summary.py); a preference version's come from counts aggregated in DuckDB (`preference_brief`), so
publishing them holds no row of the version in Python, whatever its size. An artifact is a courtesy: if Prefect
cannot store it, the build still succeeds and a warning is logged.
"""

from __future__ import annotations

import logging
import re

from ..schemas.dataset import DatasetVersion
from ..storage.catalog import Catalog

log = logging.getLogger(__name__)


def artifact_key(name: str, suffix: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "dataset"
    return f"{slug}-{suffix}"


def publish_version_artifacts(catalog: Catalog, version: DatasetVersion) -> dict | None:
    """Create the run's `NAME-summary` (Markdown) and `NAME-stats` (table) artifacts; returns the summary."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from .summary import markdown

    try:
        summary = artifact_summary(catalog, version)
        description = f"{version.name} v{version.version} ({version.kind})"
        create_markdown_artifact(markdown(summary), key=artifact_key(version.name, "summary"), description=description)
        create_table_artifact([{"metric": k, "value": v} for k, v in summary["headline"]],
                              key=artifact_key(version.name, "stats"), description=description)
        return summary
    except Exception as exc:  # noqa: BLE001 — never fail a committed build over its artifacts
        log.warning("could not attach the summary artifacts of %s v%s: %s", version.name, version.version, exc)
        return None


def artifact_summary(catalog: Catalog, version: DatasetVersion) -> dict:
    """The summary the artifacts show: for a preference version `preference_brief` (DuckDB aggregates), for the
    other kinds the report's `build_summary`."""
    if version.kind == "preference":
        from ..storage.report_data import preference_counts
        from .summary import preference_brief

        return preference_brief(version, preference_counts(catalog, version))
    from .page import build_summary

    return build_summary(catalog, version)
