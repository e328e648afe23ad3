"""Immutable dataset versions: written in one transaction at the end of a build, numbered per name.

A build stages its records as it goes (storage/staging.py); `write_version` turns them into a version inside
the caller's transaction. The content hash is the SHA-256 of the sorted distinct row ids (`content_hash`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import BaseModel

from .. import __version__
from ..schemas.dataset import DatasetKind, DatasetVersion
from ..schemas.preference import FilterDecision
from .catalog import Catalog
from .staging import Staging


class VersionNotFound(LookupError):
    pass


def content_hash(row_ids: Iterable[str]) -> str:
    """Hash of a version's rows. Row ids are content hashes themselves, so equal content ⇔ equal hash."""
    h = hashlib.sha256()
    for rid in sorted(row_ids):
        h.update(rid.encode())
        h.update(b"\n")
    return h.hexdigest()


def config_hash(config: dict[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def commit_version(
    catalog: Catalog,
    *,
    name: str,
    kind: DatasetKind,
    config: dict[str, Any],
    records: dict[str, list[BaseModel]],
    row_ids: list[str],
    rows: dict[str, list[dict[str, Any]]] | None = None,
    decisions: list[FilterDecision],
    stats: dict[str, Any],
    flow_run_id: str | None = None,
) -> DatasetVersion:
    """Write records held in memory and a new version of `name` atomically; returns the version written.

    `records` maps table name → records (inserted by content id); `rows` the same for plain column dicts;
    `row_ids` are the version's rows in order. For small writes (tests, imports): builds stage their records
    as they go and commit through `runtime.build.BuildContext`.
    """
    staging = Staging(catalog)
    try:
        for table, recs in records.items():
            staging.add_records(table, recs)
        for table, plain in (rows or {}).items():
            staging.add_rows(table, plain)
        staging.add_row_ids(row_ids)
        staging.add_decisions(decisions)
        with catalog.transaction():  # small writes: records and version in one transaction, as before staging
            staging.move_records()
            return write_version(catalog, staging, name=name, kind=kind, config=config, stats=stats,
                                 flow_run_id=flow_run_id)
    finally:
        staging.drop()
        staging.close()


def write_version(catalog: Catalog, staging: Staging, *, name: str, kind: DatasetKind, config: dict[str, Any],
                  stats: dict[str, Any], flow_run_id: str | None = None) -> DatasetVersion:
    """Inside the caller's transaction, after `staging.move_records()`: the next version of `name` with the
    staged rows (count and content hash from them), its rows and decisions. Returns the version written."""
    latest = catalog.query("SELECT max(version) FROM dataset_versions WHERE name = ?", [name])[0][0]
    now = datetime.now(timezone.utc)
    if latest is None:
        catalog.query("INSERT INTO datasets VALUES (?, ?, ?)", [name, kind, now])
    version = DatasetVersion(
        name=name,
        version=(latest or 0) + 1,
        kind=kind,
        config=config,
        config_hash=config_hash(config),
        code_version=__version__,
        parent_version=latest,
        row_count=staging.row_count(),
        content_hash=staging.content_hash(),
        stats=stats,
        created_at=now,
        flow_run_id=flow_run_id,
    )
    catalog.insert_rows("dataset_versions", [{
        **version.model_dump(exclude={"config", "stats"}),
        "config": json.dumps(version.config, sort_keys=True),
        "stats": json.dumps(version.stats, sort_keys=True),
    }])
    staging.publish(name, version.version)
    return version


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`NAME` or `NAME@VERSION` (VERSION may be written vN)."""
    name, sep, ver = ref.partition("@")
    if not sep:
        return name, None
    ver = ver.lstrip("vV")
    if not ver.isdigit():
        raise ValueError(f"bad dataset reference {ref!r}: expected NAME or NAME@VERSION")
    return name, int(ver)


def list_versions(catalog: Catalog, name: str | None = None) -> list[DatasetVersion]:
    sql = "SELECT * FROM dataset_versions"
    params: list = []
    if name:
        sql += " WHERE name = ?"
        params.append(name)
    rows = catalog.query_dicts(sql + " ORDER BY name, version", params)
    return [_to_version(r) for r in rows]


def get_version(catalog: Catalog, ref: str) -> DatasetVersion:
    name, version = parse_ref(ref)
    if version is None:
        rows = catalog.query_dicts(
            "SELECT * FROM dataset_versions WHERE name = ? ORDER BY version DESC LIMIT 1", [name]
        )
    else:
        rows = catalog.query_dicts("SELECT * FROM dataset_versions WHERE name = ? AND version = ?", [name, version])
    if not rows:
        known = sorted({v.name for v in list_versions(catalog)})
        raise VersionNotFound(f"no dataset version {ref!r} in the catalog (datasets: {', '.join(known) or 'none'})")
    return _to_version(rows[0])


def version_rows(catalog: Catalog, v: DatasetVersion) -> list[str]:
    rows = catalog.query(
        "SELECT row_id FROM dataset_rows WHERE name = ? AND version = ? ORDER BY ord", [v.name, v.version]
    )
    return [r[0] for r in rows]


def _to_version(row: dict[str, Any]) -> DatasetVersion:
    row = dict(row)
    row["config"] = json.loads(row["config"])
    row["stats"] = json.loads(row["stats"])
    return DatasetVersion.model_validate(row)


def seen_prompt_ids(catalog: Catalog, name: str) -> set[str]:
    """Prompts any version of `name` has paired (kept or dropped): an incremental build skips them."""
    rows = catalog.query(
        """SELECT DISTINCT p.prompt_id FROM pairs p WHERE p.id IN (
               SELECT row_id FROM dataset_rows WHERE name = ? UNION SELECT pair_id FROM filter_decisions WHERE name = ?)""",
        [name, name],
    )
    return {r[0] for r in rows}
