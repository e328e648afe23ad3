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

# Judging protocols (issue 3): pointwise ratings have no second sample; scores, debate transcripts and the
# external pair id of imported judgments; prompts' reference answers; the jury's spread, ratings and weights.
M002_JUDGING_PROTOCOLS = """
ALTER TABLE prompts ADD COLUMN reference VARCHAR;
ALTER TABLE judgments ALTER COLUMN second_id DROP NOT NULL;
ALTER TABLE judgments ADD COLUMN score_a DOUBLE;
ALTER TABLE judgments ADD COLUMN score_b DOUBLE;
ALTER TABLE judgments ADD COLUMN transcript JSON;
ALTER TABLE judgments ADD COLUMN pair_ref VARCHAR;
ALTER TABLE pairs ADD COLUMN margin_std DOUBLE DEFAULT 0;
ALTER TABLE pairs ADD COLUMN chosen_score DOUBLE;
ALTER TABLE pairs ADD COLUMN rejected_score DOUBLE;
ALTER TABLE pairs ADD COLUMN weight DOUBLE DEFAULT 1;
ALTER TABLE pairs ADD COLUMN derived_from VARCHAR;
ALTER TABLE filter_decisions ADD COLUMN replaced_by VARCHAR;
"""

M003_PROCESS_LABELS = """
CREATE TABLE problems (
    id VARCHAR PRIMARY KEY, question VARCHAR NOT NULL, gold_answer VARCHAR NOT NULL, source VARCHAR
);
CREATE TABLE solutions (
    id VARCHAR PRIMARY KEY, problem_id VARCHAR NOT NULL, model VARCHAR NOT NULL, text VARCHAR NOT NULL,
    final_answer VARCHAR, correct BOOLEAN, check_status VARCHAR NOT NULL
);
CREATE TABLE steps (
    solution_id VARCHAR NOT NULL, idx INTEGER NOT NULL, text VARCHAR NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, PRIMARY KEY (solution_id, idx)
);
-- One labelling of one solution by one method (a stepwise dataset row) and its per-step raw counts.
CREATE TABLE step_labels (
    label_set_id VARCHAR NOT NULL, solution_id VARCHAR NOT NULL, step_index INTEGER NOT NULL,
    method VARCHAR NOT NULL, n_correct INTEGER NOT NULL, n_rollouts INTEGER NOT NULL, parent_mc DOUBLE,
    PRIMARY KEY (label_set_id, step_index)
);
CREATE TABLE prefix_values (
    problem_id VARCHAR NOT NULL, prefix_hash VARCHAR NOT NULL, n_correct INTEGER NOT NULL,
    n_rollouts INTEGER NOT NULL, PRIMARY KEY (problem_id, prefix_hash)
);
"""

M004_RATIONALE = """
CREATE TABLE rationale_items (
    id VARCHAR PRIMARY KEY, prompt_id VARCHAR NOT NULL, response_a_id VARCHAR NOT NULL,
    response_b_id VARCHAR NOT NULL, judge VARCHAR NOT NULL, judging_messages JSON NOT NULL, reference VARCHAR,
    reference_source VARCHAR NOT NULL, judgment_ids JSON NOT NULL, right_ids JSON NOT NULL, best_id VARCHAR
);
CREATE TABLE rationale_pairs (
    id VARCHAR PRIMARY KEY, item_id VARCHAR NOT NULL, chosen_id VARCHAR NOT NULL, rejected_id VARCHAR NOT NULL,
    rank INTEGER NOT NULL
);
"""

# Votes on one scale (issue 12): a pair's margin, σ and agreement are over one vote per juror on −2..2
# (`vote_scale` names it; NULL: an older row, per-order votes in mixed units), the jurors' shares for each side,
# and the rank-consistency filter's C = (τ + 1)/2. Old rows are left as they are.
M006_VOTE_SCALE = """
ALTER TABLE pairs ADD COLUMN vote_scale VARCHAR;
ALTER TABLE pairs ADD COLUMN chosen_share DOUBLE;
ALTER TABLE pairs ADD COLUMN rejected_share DOUBLE;
ALTER TABLE pairs ADD COLUMN consistency DOUBLE;
"""

# Self-rationalization (issue 12 items 17–19): the order each item was shown in (old items: as given), one
# judgment id per sample (old rows NULL: their votes were counted once per distinct reply), and the judgments
# that were cut or re-asked (old rows NULL: not recorded).
M007_RATIONALE_ORDER = """
ALTER TABLE rationale_items ADD COLUMN swapped BOOLEAN DEFAULT false;
ALTER TABLE rationale_items ADD COLUMN sample_ids JSON;
ALTER TABLE rationale_items ADD COLUMN incomplete_ids JSON;
"""

# Step estimates (issue 12, issue 16): the search's verdict on a prefix when a statistical test made it (OmegaPRM's
# sequential estimation; NULL = the counts decide, as in every row written before). Prefix values written
# before unknown rollouts were left out of the counts are no longer looked up (their keys are "prefix" hashes;
# new ones are "prefix-v2", schemas/process.py:prefix_hash), so nothing old is rewritten.
M005_STEP_ESTIMATES = """
ALTER TABLE step_labels ADD COLUMN verdict VARCHAR;
"""

# Calibrated juries (issue 17): the jury's probability that the chosen response is better, and the aggregation
# that gave it (majority, dawid_skene, fitted). Older rows have NULL: no confidence was computed for them.
M008_JURY_CONFIDENCE = """
ALTER TABLE pairs ADD COLUMN confidence DOUBLE;
ALTER TABLE pairs ADD COLUMN aggregation VARCHAR;
"""

# Prefix estimates keep the verdict OmegaPRM's sequential test made on them, so a later build's memo hit reuses
# it instead of forcing one on small counts or sampling again. NULL = the counts decide (every row written before).
M009_PREFIX_VERDICT = """
ALTER TABLE prefix_values ADD COLUMN verdict VARCHAR;
"""

# The call cache's key as its first 128 bits (UHUGEINT), not 64 hex characters: `llm_calls`' primary-key index
# is held in memory whole (DuckDB cannot evict it) and grows with every call ever made; as text it took ~112
# bytes a key and made each insert 2.7x dearer. Keys are still `GenRequest.key` hex digests in Python
# (storage/catalog.py converts); a copy keeps the rows in their order (benchmarks/engine_overhead.py replays them).
M010_CALL_KEYS = """
CREATE TABLE llm_calls_v2 (
    key UHUGEINT PRIMARY KEY, engine VARCHAR NOT NULL, request JSON NOT NULL, result JSON NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO llm_calls_v2 SELECT ('0x' || left(key, 32))::UHUGEINT, engine, request, result, created_at
    FROM llm_calls ORDER BY rowid;
DROP TABLE llm_calls;
ALTER TABLE llm_calls_v2 RENAME TO llm_calls;
"""

# Steps by split (review finding): `steps` was keyed by (solution_id, idx) and a second insert of a key was
# ignored, so two builds that cut one solution differently (another `step_separator`) left a mix of both splits
# that every version's export then read. Now a solution's steps are stored once per split, keyed by the split's
# id (schemas/process.py `split_id`: a hash of where the steps end), and each labelling row names its split.
# Old rows: their steps are copied with split_id '' ("stored before m011": for each solution, the steps as the
# old key kept them, the first insert of each index winning), which no new build writes; old `step_labels` rows
# have split_id NULL and read those steps, exactly what their exports read before. A catalog that met the bug
# keeps its mix there: nothing recorded which split old labels were made on.
M011_STEP_SPLITS = """
CREATE TABLE steps_v2 (
    solution_id VARCHAR NOT NULL, split_id VARCHAR NOT NULL, idx INTEGER NOT NULL, text VARCHAR NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, PRIMARY KEY (solution_id, split_id, idx)
);
INSERT INTO steps_v2 SELECT solution_id, '', idx, text, start, "end" FROM steps ORDER BY rowid;
DROP TABLE steps;
ALTER TABLE steps_v2 RENAME TO steps;
ALTER TABLE step_labels ADD COLUMN split_id VARCHAR;
"""

# (name, SQL) in the order they apply. Append only.
MIGRATIONS: list[tuple[str, str]] = [
    ("m001_initial", M001_INITIAL),
    ("m002_judging_protocols", M002_JUDGING_PROTOCOLS),
    ("m003_process_labels", M003_PROCESS_LABELS),
    ("m004_rationale", M004_RATIONALE),
    ("m005_step_estimates", M005_STEP_ESTIMATES),
    ("m006_vote_scale", M006_VOTE_SCALE),
    ("m007_rationale_order", M007_RATIONALE_ORDER),
    ("m008_jury_confidence", M008_JURY_CONFIDENCE),
    ("m009_prefix_verdict", M009_PREFIX_VERDICT),
    ("m010_call_keys", M010_CALL_KEYS),
    ("m011_step_splits", M011_STEP_SPLITS),
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
