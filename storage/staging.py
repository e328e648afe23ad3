"""A build's records on disk before its version exists: per-build staging tables in the catalog.

A build writes what it makes as it makes it, chunk by chunk, into tables named `staging_<build>_<table>` (each
write its own small transaction), so its memory does not grow with its size. Nothing there is visible: versions,
exports and reports read only the record tables through `dataset_versions`/`dataset_rows`. At the commit,
`move_records` copies the staged records into the record tables (by content id: rows already there stay) in
chunks of their own, then `publish`, inside the version's transaction, writes the version's rows and filter
decisions and drops the staging tables — the version, its rows and decisions appear all at once or not at all.
A build killed before its commit leaves only its staging tables (the next build on the catalog drops them:
`drop_leftovers`); killed during the commit, also records no version refers to (invisible, and left out as
present when the rerun writes the same records).

Inputs: pydantic records (by their record table), plain row dicts, row ids and filter decisions, in the order
made. Outputs: `row_count()` and `content_hash()` of the distinct row ids, computed from the staged rows by
DuckDB and streamed in sorted order into SHA-256 (the same hash as `storage.versions.content_hash` of a list).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import uuid
from typing import Any, Iterable

from pydantic import BaseModel

from ..schemas.preference import FilterDecision
from .catalog import Catalog

PREFIX = "staging_"
_FETCH = 50_000  # sorted row ids fetched at once while hashing
_MOVE = 100_000  # staged records copied into their record table per transaction
_VERSION_TABLES = ("dataset_rows", "filter_decisions")  # staged here, written only with the version
_LIVE: set[str] = set()  # builds of this process whose staging is in use (DuckDB lets one process write a file)
_LIVE_LOCK = threading.Lock()


class Staging:
    """The staging tables of one build (created on first use). Use `publish` inside the version's transaction
    and `drop` when the build ends without one."""

    def __init__(self, catalog: Catalog, build_id: str | None = None):
        self.catalog = catalog
        self.build = build_id or uuid.uuid4().hex[:12]
        self._tables: dict[str, str] = {}  # record table → its staging table
        self._row_ord = itertools.count()
        self._decision_ord = itertools.count()
        with _LIVE_LOCK:
            _LIVE.add(self.build)

    # -- writing ---------------------------------------------------------------------------------------------
    def add_records(self, table: str, records: Iterable[BaseModel]) -> None:
        """Records of a record table (`prompts`, `judgments`, ...): copied to it by content id at publish."""
        self.catalog.insert_records(self._staged(table), records, keyed=False)

    def add_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Plain column dicts of a record table (`step_labels`, ...)."""
        self.catalog.insert_rows(self._staged(table), rows, keyed=False)

    def add_row_ids(self, row_ids: Iterable[str]) -> None:
        """The version's rows, in order; a row id given twice is one row (its first place counts)."""
        rows = [{"ord": next(self._row_ord), "row_id": r} for r in row_ids]
        self.catalog.insert_rows(self._staged("dataset_rows"), rows, keyed=False)

    def add_decisions(self, decisions: Iterable[FilterDecision]) -> None:
        rows = [{"ord": next(self._decision_ord), **d.model_dump()} for d in decisions]
        self.catalog.insert_rows(self._staged("filter_decisions"), rows, keyed=False)

    def _staged(self, table: str) -> str:
        if table not in self._tables:
            name = f"{PREFIX}{self.build}_{table}"
            # the record table's columns without its keys: duplicates are dropped when copied at publish
            exclude = " EXCLUDE (name, version)" if table in ("dataset_rows", "filter_decisions") else ""
            self.catalog.query(f'CREATE TABLE IF NOT EXISTS "{name}" AS SELECT *{exclude} FROM {table} LIMIT 0')
            self._tables[table] = name
        return self._tables[table]

    # -- reading ---------------------------------------------------------------------------------------------
    def _distinct_rows(self) -> str:
        """SQL: each staged row id once, with the place it first had (`first_ord`)."""
        if "dataset_rows" not in self._tables:
            return "(SELECT NULL::VARCHAR AS row_id, NULL::BIGINT AS first_ord WHERE false)"
        return f'(SELECT row_id, min(ord) AS first_ord FROM "{self._tables["dataset_rows"]}" GROUP BY row_id)'

    def row_count(self) -> int:
        return self.catalog.query(f"SELECT count(*) FROM {self._distinct_rows()}")[0][0]

    def content_hash(self) -> str:
        """SHA-256 of the distinct row ids in sorted order, each followed by a newline (storage/versions.py)."""
        h = hashlib.sha256()
        with self.catalog._lock:  # one result set on the catalog's connection, read in chunks
            cur = self.catalog.con.execute(f"SELECT row_id FROM {self._distinct_rows()} ORDER BY row_id")
            while chunk := cur.fetchmany(_FETCH):
                for (rid,) in chunk:
                    h.update(rid.encode())
                    h.update(b"\n")
        return h.hexdigest()

    # -- ending ----------------------------------------------------------------------------------------------
    def move_records(self, chunk: int = _MOVE) -> None:
        """Before the version's transaction: copy the staged records into their record tables, `chunk` rows per
        transaction (one transaction for all of a big build's records would hold them, and the keys they add,
        in DuckDB's memory until COMMIT). Records are content-addressed and read only through versions: until
        the version exists nobody sees them, and a rerun's identical records are left out as present."""
        for table, staged in self._tables.items():
            if table in _VERSION_TABLES:
                continue
            end = self.catalog.query(f'SELECT coalesce(max(rowid) + 1, 0) FROM "{staged}"')[0][0]
            for lo in range(0, end, chunk):
                self.catalog.query(f'INSERT OR IGNORE INTO {table} SELECT * FROM "{staged}" '
                                   "WHERE rowid >= ? AND rowid < ?", [lo, lo + chunk])

    def publish(self, name: str, version: int) -> None:
        """Inside the version's transaction, after `move_records`: the version's rows and filter decisions under
        (name, version); then the staging tables are dropped."""
        if "dataset_rows" in self._tables:
            self.catalog.query(
                f"INSERT INTO dataset_rows (name, version, ord, row_id) SELECT ?, ?, "
                f"row_number() OVER (ORDER BY first_ord) - 1, row_id FROM {self._distinct_rows()}", [name, version])
        if "filter_decisions" in self._tables:
            self.catalog.query(f'INSERT INTO filter_decisions SELECT ? AS name, ? AS version, * '
                               f'FROM "{self._tables["filter_decisions"]}"', [name, version])
        for staged in self._tables.values():  # still named here: a rollback brings them back for `drop`
            self.catalog.query(f'DROP TABLE IF EXISTS "{staged}"')

    def drop(self) -> None:
        for staged in self._tables.values():
            self.catalog.query(f'DROP TABLE IF EXISTS "{staged}"')
        self._tables.clear()

    def close(self) -> None:
        """The build is over (published or not): its staging is no longer in use."""
        with _LIVE_LOCK:
            _LIVE.discard(self.build)


def drop_leftovers(catalog: Catalog) -> list[str]:
    """Drop the staging tables of builds that are not running (killed or failed before they cleaned up)."""
    names = [r[0] for r in catalog.query(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [PREFIX])]
    with _LIVE_LOCK:
        live = set(_LIVE)
    stale = [n for n in names if (m := re.match(rf"{PREFIX}([0-9a-f]+)_", n)) and m.group(1) not in live]
    for n in stale:
        catalog.query(f'DROP TABLE IF EXISTS "{n}"')
    return stale
