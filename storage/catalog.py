"""The DuckDB catalog: one file holding calls, records and dataset versions.

Only one process may open the file read-write (DuckDB's own lock); a second opener gets `CatalogBusy` naming
the holder. A damaged file (not a DuckDB database, truncated, a block whose checksum fails) gives `CatalogCorrupt`
naming the file, whether DuckDB notices at open or when the damaged block is first read. Bulk writes go through Arrow tables (`INSERT OR IGNORE … SELECT`), never row-wise inserts.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from ..schemas.engine import GenRequest, GenResult
from .migrations import apply_migrations


# DuckDB memory cap of a catalog connection ($PREFSYNTH_CATALOG_MEMORY_LIMIT overrides, any DuckDB size or "N%").
# Its cache is evicted (or spilled to a temp file beside the catalog) down to the cap, but its primary-key indexes
# are not: they grow with the catalog. Since the call cache's keys are 128-bit integers (m010_call_keys), 512 MB
# holds a 1.2 M-judgment build on a catalog of 2.5 M calls (benchmarks/README.md section 2: peak RSS 1,097 MB,
# 1.1 GB at 1x); with text keys it ran out of memory. A much bigger catalog needs a bigger cap.
MEMORY_LIMIT = "512MB"
# Write-ahead log size that triggers a checkpoint ($PREFSYNTH_CATALOG_CHECKPOINT overrides). DuckDB's 16 MB
# checkpoints a growing call cache every ~16,000 calls, and each checkpoint writes its key index again: inserts
# slowed from 23 to 50 ms per 2,000 calls over the first 1.2 M (then on); at 128 MB they stay at ~30 ms, for up to
# 128 MB of not yet checkpointed rows in DuckDB's memory (within its cap). benchmarks/README.md, throughput.
CHECKPOINT_THRESHOLD = "128MB"


class CatalogError(RuntimeError):
    """The catalog file cannot be used; the message names the file and says why (the CLI prints it, exit 1)."""


class CatalogBusy(CatalogError):
    """The catalog file is open read-write by another process."""


class CatalogCorrupt(CatalogError):
    """The catalog file is not a readable DuckDB database: damaged, truncated, or some other file."""


# What DuckDB says when the file's bytes are wrong (at open, or later when a damaged block is first read).
_CORRUPT_SIGNS = ("not a valid duckdb database file", "corrupt database file", "could not read enough bytes",
                  "checksum")


def _is_corrupt(exc: Exception) -> bool:
    return any(sign in str(exc).lower() for sign in _CORRUPT_SIGNS)


def _corrupt_message(path: Path, exc: Exception) -> str:
    return (f"catalog {path} is corrupt: it is not a readable DuckDB database ({exc}). Restore it from a backup "
            "or use another --catalog")


@contextmanager
def _naming_corruption(path: Path):
    """DuckDB errors caused by a damaged file become `CatalogCorrupt` naming the file; others pass unchanged."""
    try:
        yield
    except duckdb.Error as exc:
        if _is_corrupt(exc):
            raise CatalogCorrupt(_corrupt_message(path, exc)) from exc
        raise


# Record type → (table, {field: column}) for the fields whose column name differs.
_RENAMES = {"index": "idx"}
_JSON_FIELDS = {"messages", "judgment_ids", "transcript", "judging_messages", "right_ids", "sample_ids",
                "incomplete_ids"}


def _row(record: BaseModel) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    out = {}
    for key, value in data.items():
        if key in _JSON_FIELDS:
            value = None if value is None else json.dumps(value, ensure_ascii=False)
        out[_RENAMES.get(key, key)] = value
    return out


class Catalog:
    """Open (creating and migrating if needed) the catalog at `path`. Use as a context manager."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise _open_error(self.path, exc) from exc
        try:
            with _naming_corruption(self.path):
                # DuckDB's default cap is 80 % of RAM; a build's final transaction holds every new row until
                # COMMIT, and beyond this cap DuckDB spills to disk instead (120,000 judgments: peak RSS 1.6 →
                # 1.4 GB, same speed).
                self.con.execute(f"SET memory_limit = '{os.environ.get('PREFSYNTH_CATALOG_MEMORY_LIMIT', MEMORY_LIMIT)}'")
                self.con.execute(
                    f"SET checkpoint_threshold = '{os.environ.get('PREFSYNTH_CATALOG_CHECKPOINT', CHECKPOINT_THRESHOLD)}'")
                if not read_only:
                    apply_migrations(self.con)
        except BaseException:
            self.con.close()
            raise

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self.con.close()

    # -- generic access -------------------------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with self._lock, _naming_corruption(self.path):
            return self.con.execute(sql, params or []).fetchall()

    def query_dicts(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        with self._lock, _naming_corruption(self.path):
            cur = self.con.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def insert_records(self, table: str, records: Iterable[BaseModel], chunk: int = 20_000,
                       keyed: bool = True) -> int:
        """Insert records by content id; rows already present are left as they are (same id = same content).

        In chunks: the row dicts and Arrow copy of 120,000 judgments at once cost ~0.5 GB at commit time.
        `keyed=False` for a table without a key (a build's staging tables: storage/staging.py).
        """
        it = iter(records)
        n = 0
        while rows := [_row(r) for r in islice(it, chunk)]:
            n += self.insert_rows(table, rows, keyed)
        return n

    def insert_rows(self, table: str, rows: list[dict[str, Any]], keyed: bool = True) -> int:
        """Insert column dicts; into a keyed table, a row whose key is present already is left out."""
        if not rows:
            return 0
        arrow = pa.Table.from_pylist(rows)
        cols = ", ".join(f'"{c}"' for c in arrow.column_names)  # quoted: some columns are keywords ("end")
        verb = "INSERT OR IGNORE" if keyed else "INSERT"
        with self._lock, _naming_corruption(self.path):
            self.con.register("_incoming", arrow)
            try:
                self.con.execute(f'{verb} INTO "{table}" ({cols}) SELECT {cols} FROM _incoming')
            finally:
                self.con.unregister("_incoming")
        return len(rows)

    def transaction(self):
        return _Transaction(self)

    # -- call cache store (engines.cache.CallStore) ---------------------------------------------------------
    # Stored keys are the first 128 bits of `GenRequest.key` (migration m010_call_keys).
    _STORED_KEY = "('0x' || left({}, 32))::UHUGEINT"

    def get_calls(self, keys: list[str]) -> dict[str, GenResult]:
        if not keys:
            return {}
        stored = self._STORED_KEY.format("k.key")
        with self._lock, _naming_corruption(self.path):
            self.con.register("_keys", pa.table({"key": keys}))
            try:
                rows = self.con.execute(
                    f"SELECT k.key, c.result FROM _keys k JOIN llm_calls c ON c.key = {stored}"
                ).fetchall()
            finally:
                self.con.unregister("_keys")
        return {k: GenResult.model_validate_json(v) for k, v in rows}

    def put_calls(self, rows: list[tuple[str, str, GenRequest, GenResult]]) -> None:
        """Save calls; a key saved already keeps its first answer. Columns are built directly (no row dicts)."""
        if not rows:
            return
        incoming = pa.table({
            "key": [key for key, _, _, _ in rows],
            "engine": [engine for _, engine, _, _ in rows],
            "request": [req.model_dump_json() for _, _, req, _ in rows],
            "result": [(res.model_copy(update={"cached": False}) if res.cached else res).model_dump_json()
                       for _, _, _, res in rows],
        })
        with self._lock, _naming_corruption(self.path):
            self.con.register("_incoming", incoming)
            try:
                self.con.execute(
                    "INSERT OR IGNORE INTO llm_calls (key, engine, request, result, created_at) "
                    f"SELECT {self._STORED_KEY.format('key')}, engine, request, result, ? FROM _incoming",
                    [datetime.now(timezone.utc)],
                )
            finally:
                self.con.unregister("_incoming")


class _Transaction:
    """`with catalog.transaction():` — all or nothing (a killed process leaves nothing of it)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def __enter__(self):
        self.catalog._lock.acquire()
        try:
            self.catalog.con.execute("BEGIN TRANSACTION")
        except BaseException:  # no transaction began, so __exit__ will not run: release here or no thread gets in
            self.catalog._lock.release()
            raise
        return self.catalog

    def __exit__(self, exc_type, exc, tb):
        try:
            with _naming_corruption(self.catalog.path):
                self.catalog.con.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.catalog._lock.release()
        return False


def _open_error(path: Path, exc: Exception) -> CatalogError:
    """Why the file did not open: DuckDB's lock held by another process, a damaged file, or something else."""
    if _is_corrupt(exc):
        return CatalogCorrupt(_corrupt_message(path, exc))
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        return CatalogBusy(_busy_message(path, exc))
    return CatalogError(f"cannot open catalog {path}: {exc}")


def _busy_message(path: Path, exc: Exception) -> str:
    pid = re.search(r"PID (\d+)", str(exc))
    holder = f"by PID {pid.group(1)}" if pid else "by another process"
    return f"catalog {path} is in use {holder}; wait for it to finish (--wait SECONDS) or use another --catalog ({exc})"


def open_waiting(path: str | Path, wait_s: float = 0.0, poll_s: float = 0.5) -> Catalog:
    """Open the catalog read-write, retrying for up to `wait_s` seconds while another process holds it.

    The CLI keeps this connection open for a whole build: DuckDB's lock is per process, so the flow's own
    connections in the same process work, and a second build fails (or waits) before any model work.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return Catalog(path)
        except CatalogBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
