"""Two builds on one catalog: the second fails fast naming the PID that holds the catalog (before any Prefect or
model work), or with `--wait` runs once the first is done; the file is never corrupted and version numbers stay
unique. The first build is held inside its final commit by the `PREFSYNTH_TEST_PAUSE_AT` hook.
"""

from __future__ import annotations

import json
import time

import duckdb
import pytest

from tests.reliability.support import build_config, duplicate_rows, finish, policy_server, run, start, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.reliability]


def test_a_second_build_fails_fast_or_waits_and_versions_stay_unique(prefect_env, tmp_path):
    marker = tmp_path / "paused"
    hold = {"PREFSYNTH_TEST_PAUSE_AT": "commit", "PREFSYNTH_TEST_PAUSE_MARKER": str(marker), "PREFSYNTH_TEST_PAUSE_S": "8"}
    catalog = tmp_path / "c.duckdb"
    with policy_server() as server:
        args = ["build", str(build_config(tmp_path, server.base_url)), "--catalog", str(catalog), "--json", "--quiet"]
        first = start({**prefect_env, **hold}, *args, out_dir=tmp_path / "first")
        wait_until(marker.exists, 120, "the first build to reach its commit", first)
        calls_before = server.request_count

        started = time.monotonic()
        code, out, err = run(prefect_env, *args, out_dir=tmp_path / "second")
        elapsed = time.monotonic() - started
        assert code == 1 and out == ""
        assert f"is in use by PID {first.pid}" in " ".join(err.split()) and "Traceback" not in err
        assert server.request_count == calls_before  # no model work
        assert elapsed < 15, f"the refusal took {elapsed:.1f} s"  # the CLI's own start-up, no Prefect flow

        waiting = start(prefect_env, *args, "--wait", "120", out_dir=tmp_path / "waiting")
        code1, out1, err1 = finish(first)
        code3, out3, err3 = finish(waiting)
    assert code1 == 0, err1
    assert code3 == 0, err3
    v1, v2 = json.loads(out1), json.loads(out3)
    assert (v1["version"], v2["version"], v2["parent_version"]) == (1, 2, 1)
    assert v2["content_hash"] == v1["content_hash"] and v2["stats"]["engine_calls"] == 0  # all from the cache
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute("SELECT name, version FROM dataset_versions ORDER BY version").fetchall() == [
            ("resumable", 1), ("resumable", 2)]
    assert duplicate_rows(catalog) == {}
