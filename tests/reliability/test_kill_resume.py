"""Kill a real `prefsynth build` (SIGKILL) during sampling, during judging, during the final commit and at an
arbitrary moment, then rerun the same command: the version equals an uninterrupted build's, no catalog table
holds a duplicate row, no partial version is ever visible, and no answered engine call is asked again.

The model is an OpenAI-compatible HTTP server on 127.0.0.1 (tests/servers.py) that answers after a small delay
and counts requests per request hash. The build runs as a subprocess of the real CLI against a shared Prefect
server. Exact kill points: the server holds every request after the N-th unanswered (`hold_after`), so the
build is killed while it waits on the network with nothing answered-but-unsaved; the commit is reached with the
`PREFSYNTH_TEST_PAUSE_AT=commit` hook (prefsynth/hooks.py, called in runtime/build.py `BuildContext.commit`).
A build streams its records to staging tables chunk by chunk: a kill before the commit leaves them there, never
in a record table or a version, and the rerun drops them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.reliability.support import (
    build_config, duplicate_rows, engine_settings, finish, policy_server, run, start, stored_request_hashes,
    version_rows, wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

N_PROMPTS, N_PAIRS = 6, 3  # 3 samples per prompt → 3 pairs, each judged in both orders
SAMPLING = N_PROMPTS  # one request per prompt (n=3 in one request)
CALLS = SAMPLING + N_PROMPTS * N_PAIRS * 2
BATCH = 2  # build_config's batch_size


@dataclass
class Reference:
    content_hash: str
    rows: int
    hashes: set[str]


def build_args(config: Path, catalog: Path) -> list[str]:
    return ["build", str(config), "--catalog", str(catalog), "--json", "--quiet"]


@pytest.fixture(scope="module")
def reference(prefect_env, tmp_path_factory) -> Reference:
    """An uninterrupted build of the same config."""
    tmp = tmp_path_factory.mktemp("reference")
    with policy_server(delay_s=0.02) as server:
        code, out, err = run(prefect_env, *build_args(build_config(tmp, server.base_url), tmp / "c.duckdb"),
                             out_dir=tmp / "run")
        assert code == 0, err
        summary = json.loads(out)
        assert summary["stats"]["engine_calls"] == CALLS and summary["stats"]["judgments"] == {"ok": CALLS - SAMPLING}
        assert len(server.answered) == CALLS and set(server.answered.values()) == {1}
        return Reference(summary["content_hash"], summary["rows"], set(server.answered))


def kill_and_resume(env: dict, tmp: Path, reference: Reference, server, until, extra_env=None, **config_top) -> dict:
    """Start a build, SIGKILL it once `until()` holds, check the catalog it leaves, rerun it; returns facts."""
    engine = engine_settings(server.base_url)
    config = build_config(tmp, server.base_url, **config_top)
    catalog = tmp / "c.duckdb"
    proc = start({**env, **(extra_env or {})}, *build_args(config, catalog), out_dir=tmp / "killed")
    wait_until(until, 120, "the kill point", proc)
    proc.kill()
    assert finish(proc)[0] == -9
    wait_until(lambda: server.in_flight == 0, 30, "the server to go idle")
    answered_at_kill = dict(server.answered)
    stored = stored_request_hashes(catalog, engine)
    assert version_rows(catalog) == {"datasets": 0, "dataset_versions": 0, "dataset_rows": 0, "filter_decisions": 0}
    assert duplicate_rows(catalog) == {}
    left = {"records": record_rows(catalog), "staged": staged_rows(catalog)}

    server.hold_after = None
    code, out, err = run(env, *build_args(config, catalog), out_dir=tmp / "resumed")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["version"], summary["parent_version"]) == (1, None)
    assert summary["content_hash"] == reference.content_hash and summary["rows"] == reference.rows
    assert set(server.answered) == reference.hashes  # the same calls as an uninterrupted build
    assert summary["stats"]["cache_hits"] == len(stored) and summary["stats"]["engine_calls"] == CALLS - len(stored)
    assert duplicate_rows(catalog) == {}
    assert version_rows(catalog)["dataset_versions"] == 1
    assert staged_rows(catalog) == {}  # the rerun dropped what the killed build had staged
    return {"answered_at_kill": answered_at_kill, "stored": stored, "answered": dict(server.answered), **left}


def record_rows(catalog: Path) -> dict[str, int]:
    """Rows of the preference record tables (what a version's rows and exports are read from)."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("prompts", "samples", "judgments", "pairs")}


def staged_rows(catalog: Path) -> dict[str, int]:
    """Rows per staging table of a build that has not committed (runtime/build.py, storage/staging.py)."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'staging_')").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


@pytest.mark.parametrize(
    "stage, hold_after",
    [("sampling", BATCH), ("judging", SAMPLING + 4 * BATCH)],
)
def test_kill_while_waiting_on_the_model_loses_no_answered_call(prefect_env, tmp_path, reference, stage, hold_after):
    held_since: list[float] = []

    def saved_and_waiting() -> bool:
        """Held, and longer than the runtime keeps a reply unsaved (runtime/stream.py: SAVE_EVERY_S = 50 ms)."""
        if server.held and not held_since:
            held_since.append(time.monotonic())
        return bool(held_since) and time.monotonic() - held_since[0] > 0.5

    with policy_server(delay_s=0.02, hold_after=hold_after) as server:
        facts = kill_and_resume(prefect_env, tmp_path, reference, server, until=saved_and_waiting)
    # Every reply the build had received was in the catalog when it died, and none was asked for again.
    assert facts["stored"] == set(facts["answered_at_kill"]) and len(facts["stored"]) == hold_after
    assert set(facts["answered"].values()) == {1}


def test_kill_while_streaming_chunks_leaves_only_staged_rows_and_the_rerun_reproduces_the_hash(
        prefect_env, tmp_path, reference):
    """Issue 13 item 4: chunks of 2 prompts; the kill lands while the second chunk is judged. The first chunk's
    records, rows and decisions are staged in the catalog, yet nothing of them is in a record table or a version;
    the rerun (in chunks too) drops the staging and gives the unchunked reference's content hash."""
    env = {**prefect_env, "PREFSYNTH_CHUNK_PROMPTS": "2"}
    first_chunk = 2 + 2 * N_PAIRS * 2  # its sampling requests and both orders of its pairs
    held_since: list[float] = []

    def saved_and_waiting() -> bool:
        if server.held and not held_since:
            held_since.append(time.monotonic())
        return bool(held_since) and time.monotonic() - held_since[0] > 0.5

    with policy_server(delay_s=0.02, hold_after=first_chunk + 2 + 4) as server:
        facts = kill_and_resume(env, tmp_path, reference, server, until=saved_and_waiting)
    assert facts["records"] == {"prompts": 0, "samples": 0, "judgments": 0, "pairs": 0}
    staged = {name.split("_", 2)[2]: n for name, n in facts["staged"].items()}
    assert staged["prompts"] == 2 and staged["judgments"] == 2 * N_PAIRS * 2 and staged["pairs"] == 2 * N_PAIRS
    assert set(facts["answered"].values()) == {1}


def test_kill_during_the_final_commit_leaves_no_version_and_the_rerun_is_free(prefect_env, tmp_path, reference):
    marker = tmp_path / "paused"
    hook = {"PREFSYNTH_TEST_PAUSE_AT": "commit", "PREFSYNTH_TEST_PAUSE_MARKER": str(marker),
            "PREFSYNTH_TEST_PAUSE_S": "120"}
    with policy_server(delay_s=0.02) as server:
        facts = kill_and_resume(prefect_env, tmp_path, reference, server, until=marker.exists, extra_env=hook)
        assert server.request_count == CALLS  # the rerun sent nothing: every call came from the cache
    assert facts["stored"] == reference.hashes
    assert set(facts["answered"].values()) == {1}


def test_kill_at_an_arbitrary_moment_repeats_only_replies_in_flight(prefect_env, tmp_path, reference):
    """No gate: the kill lands while a batch is half answered. Calls whose batch was saved are never asked again;
    only replies of the batches in flight (not yet saved) can be asked again — at most batch_size × in flight
    (the server engine streams: at most its requests in flight and the replies of the last 50 ms)."""
    batch_size, in_flight = 8, 2
    with policy_server(delay_s=0.15) as server:
        facts = kill_and_resume(prefect_env, tmp_path, reference, server,
                                until=lambda: len(server.answered) >= SAMPLING + 5,
                                batch_size=batch_size, batches_in_flight=in_flight)
    asked_again = {h for h, n in facts["answered"].items() if n > 1}
    lost = set(facts["answered_at_kill"]) - facts["stored"]
    assert facts["stored"] and facts["stored"] <= set(facts["answered_at_kill"])
    assert asked_again <= lost and len(lost) <= batch_size * in_flight
    assert all(facts["answered"][h] == 1 for h in facts["stored"])
