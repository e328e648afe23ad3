"""The DuckDB catalog: migrations, content-addressed inserts, atomic versions, the call cache, the lock."""

import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pytest

from prefsynth.engines.cache import CallCache
from prefsynth.schemas.engine import Completion, GenRequest, GenResult
from prefsynth.schemas.preference import FilterDecision, Prompt
from prefsynth.storage.catalog import Catalog, CatalogBusy
from prefsynth.storage.migrations import MIGRATIONS
from prefsynth.storage.versions import commit_version, get_version, list_versions, parse_ref, version_rows


def test_migrations_apply_once_and_are_recorded(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog(path) as cat:
        names = [r[0] for r in cat.query("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    with Catalog(path) as cat:  # reopening applies nothing twice
        assert cat.query("SELECT count(*) FROM schema_migrations")[0][0] == len(MIGRATIONS)


def test_same_content_is_stored_once(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        p = Prompt(id="abc", text="hi", source="f:1")
        cat.insert_records("prompts", [p, p])
        cat.insert_records("prompts", [p])
        assert cat.query("SELECT count(*) FROM prompts")[0][0] == 1


def _commit(cat, rows, name="ds"):
    return commit_version(
        cat, name=name, kind="preference", config={"a": 1}, records={"prompts": [Prompt(id="p", text="t")]},
        row_ids=rows, decisions=[FilterDecision(pair_id="r1", filter="drop_ties", keep=True, reason="ok")],
        stats={"engine_calls": 3},
    )


def test_versions_number_up_with_parents_and_content_hash(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        v1 = _commit(cat, ["r1", "r2"])
        v2 = _commit(cat, ["r2", "r1"])
        v3 = _commit(cat, ["r1"])
        assert (v1.version, v1.parent_version, v2.parent_version, v3.version) == (1, None, 1, 3)
        assert v1.content_hash == v2.content_hash != v3.content_hash
        assert get_version(cat, "ds").version == 3
        assert get_version(cat, "ds@v2").content_hash == v1.content_hash
        assert version_rows(cat, v2) == ["r2", "r1"]
        assert [v.version for v in list_versions(cat, "ds")] == [1, 2, 3]


def test_a_failed_commit_leaves_no_version_and_no_records(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        with pytest.raises(Exception):
            commit_version(
                cat, name="ds", kind="preference", config={}, records={"prompts": [Prompt(id="p", text="t")]},
                row_ids=["r1", "r1"],  # fine
                decisions=[], stats={"bad": object()},  # not JSON-serialisable: fails after the inserts
            )
        assert cat.query("SELECT count(*) FROM dataset_versions")[0][0] == 0
        assert cat.query("SELECT count(*) FROM prompts")[0][0] == 0
        assert cat.query("SELECT count(*) FROM datasets")[0][0] == 0


def test_parse_ref():
    assert parse_ref("name") == ("name", None)
    assert parse_ref("name@3") == ("name", 3)
    assert parse_ref("name@v3") == ("name", 3)
    with pytest.raises(ValueError):
        parse_ref("name@latest")


def test_call_cache_roundtrip_dedupes_and_marks_hits(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        cache = CallCache(cat)
        a, b = GenRequest(prompt="a"), GenRequest(prompt="b")
        plan = cache.plan("eng", [a, b, a])
        assert plan.to_call == [0, 1]  # the repeated request is sent once
        ok = GenResult(completions=[Completion(text="A")])
        failed = GenResult(error="boom")
        cache.save("eng", plan, [a, b, a], [ok, failed])
        out = CallCache.assemble(plan, [ok, failed])
        assert [r.completions[0].text if r.ok else r.error for r in out] == ["A", "boom", "A"]
        again = cache.plan("eng", [a, b])
        assert list(again.hits) == [a.key("eng")] and again.to_call == [1]  # failures are not cached
        assert CallCache.assemble(again, [ok])[0].cached is True
        assert cache.plan("other-engine", [a]).to_call == [0]  # the engine is part of the key


def test_second_process_gets_a_clear_busy_error(tmp_path):
    path = tmp_path / "c.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from prefsynth.storage.catalog import Catalog
            c = Catalog({str(path)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(CatalogBusy, match=rf"in use by PID {holder.pid}"):
            Catalog(path)
    finally:
        holder.communicate("\n", timeout=30)


def test_a_corrupted_catalog_is_named_and_exits_non_zero_without_a_traceback(tmp_path):
    """issue 12 item 23: a catalog file that is not a readable DuckDB database gives one clear error naming the
    file and saying it is corrupt, exit code 1 and no Python traceback — through the real `prefsynth` CLI."""
    path = tmp_path / "c.duckdb"
    with Catalog(path):
        pass  # a real catalog, migrated
    good = path.read_bytes()
    examples = Path(__file__).resolve().parents[2] / "examples"
    shutil.copy(examples / "prompts.jsonl", tmp_path)
    shutil.copy(examples / "dry_run.yaml", tmp_path)
    damaged = {
        "header overwritten": b"\x5a" * 4096 + good[4096:],
        "a header block's checksum fails": good[:4096] + b"\x5a" * 4096 + good[8192:],
        "truncated": good[: len(good) // 3],
        "not a database": b"name,text\n1,hello\n",
    }
    for damage, data in damaged.items():
        path.write_bytes(data)
        for command in (["datasets"], ["show", "x"], ["build", str(tmp_path / "dry_run.yaml")]):
            done = subprocess.run([sys.executable, "-m", "prefsynth.cli.main", *command, "--catalog", str(path)],
                                  capture_output=True, text=True, timeout=120)
            err = " ".join(done.stderr.split())
            assert done.returncode == 1, (damage, command, done.returncode, done.stderr)
            assert "Traceback" not in done.stderr and f"catalog {path} is corrupt" in err, (damage, command, err)
        assert path.read_bytes() == data  # nothing was written to it


def _lock_free_for_another_thread(cat: Catalog) -> bool:
    taken = []

    def take():
        if cat._lock.acquire(timeout=5):
            taken.append(True)
            cat._lock.release()

    other = threading.Thread(target=take)
    other.start()
    other.join()
    return taken == [True]


@pytest.mark.parametrize("break_begin", [lambda cat: cat.con.execute("BEGIN TRANSACTION"), lambda cat: cat.con.close()],
                         ids=["transaction already open", "connection closed"])
def test_a_transaction_that_cannot_begin_releases_the_lock(tmp_path, break_begin):
    """Review: `_Transaction.__enter__` took the catalog's lock, then ran BEGIN; when BEGIN raised, `__exit__`
    never ran and the lock stayed held, so every other thread using the catalog blocked forever."""
    with Catalog(tmp_path / "c.duckdb") as cat:
        break_begin(cat)
        with pytest.raises(duckdb.Error):
            with cat.transaction():
                pass
        assert _lock_free_for_another_thread(cat)
