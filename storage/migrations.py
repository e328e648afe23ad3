"""Append-only, named schema migrations of the catalog. Never edit a released migration: add the next one."""

from __future__ import annotations

from datetime import datetime, timezone

M001_INITIAL = """
CREATE TABLE llm_calls (
    key VARCHAR PRIMARY KEY, engine VARCHAR NOT NULL, request JSON NOT NULL, result JSON NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE prompts (
    id VARCHAR PRIMARY KEY, text VARCHAR, messages JSON, source VARCHAR
);
CREATE TABLE samples (
    id VARCHAR PRIMARY KEY, prompt_id VARCHAR NOT NULL, policy VARCHAR NOT NULL, model VARCHAR NOT NULL,
    idx INTEGER NOT NULL, text VARCHAR NOT NULL, status VARCHAR NOT NULL, finish_reason VARCHAR,
    completion_tokens INTEGER, error VARCHAR, duplicate_of VARCHAR
);
CREATE TABLE judgments (
    id VARCHAR PRIMARY KEY, prompt_id VARCHAR NOT NULL, judge VARCHAR NOT NULL, protocol VARCHAR NOT NULL,
    first_id VARCHAR NOT NULL, second_id VARCHAR NOT NULL, status VARCHAR NOT NULL, verdict VARCHAR,
    rationale VARCHAR, raw VARCHAR, reasked BOOLEAN, error VARCHAR, completion_tokens INTEGER
);
CREATE TABLE pairs (
    id VARCHAR PRIMARY KEY, prompt_id VARCHAR NOT NULL, chosen_id VARCHAR NOT NULL, rejected_id VARCHAR NOT NULL,
    margin DOUBLE NOT NULL, tie BOOLEAN NOT NULL, judgment_ids JSON NOT NULL, n_judgments INTEGER NOT NULL,
    n_parsed INTEGER NOT NULL, agreement DOUBLE NOT NULL
);
CREATE TABLE datasets (
    name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE dataset_versions (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, kind VARCHAR NOT NULL, config JSON NOT NULL,
    config_hash VARCHAR NOT NULL, code_version VARCHAR NOT NULL, parent_version INTEGER,
    row_count INTEGER NOT NULL, content_hash VARCHAR NOT NULL, stats JSON NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, flow_run_id VARCHAR,
    PRIMARY KEY (name, version)
);
CREATE TABLE dataset_rows (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, ord INTEGER NOT NULL, row_id VARCHAR NOT NULL,
    PRIMARY KEY (name, version, ord)
);
CREATE TABLE filter_decisions (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, ord INTEGER NOT NULL, pair_id VARCHAR NOT NULL,
    filter VARCHAR NOT NULL, keep BOOLEAN NOT NULL, reason VARCHAR,
    PRIMARY KEY (name, version, ord)
);
"""

# (name, SQL) in the order they apply. Append only.
MIGRATIONS: list[tuple[str, str]] = [
    ("m001_initial", M001_INITIAL),
]


def apply_migrations(con) -> list[str]:
    """Apply every migration the catalog has not seen, each in its own transaction; returns their names."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)")
    done = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [name, datetime.now(timezone.utc)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
