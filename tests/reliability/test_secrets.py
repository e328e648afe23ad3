"""Secrets: the API key (named by `api_key_env`) and HF_TOKEN never reach the catalog, Parquet exports, dataset
cards, Prefect (parameters, logs, its database) or the console — even when a server echoes request headers
back in its error bodies. A build, exports and a Hub push run as real CLI subprocesses with recognisable fake
secrets and debug logging to Prefect; then every file they could have written is searched.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.reliability.support import build_config, policy_server, run
from tests.servers import FaultServer

API_KEY = "sk-prefsynth-LEAKCHECK-7f3a9c2e5b1d"
HF_TOKEN = "hf_prefsynthLEAKCHECK9d8e7f6a5b4c"
# A leak may be partial (a cut error message): look for a distinctive middle part of each secret too.
NEEDLES = [API_KEY, HF_TOKEN, API_KEY[8:24], HF_TOKEN[4:20]]


# ------------------------------------------------------------------------------------------------ scanning


def leaks_in_duckdb(path: Path) -> list[str]:
    """DuckDB compresses strings on disk (FSST, dictionaries): search every text column with SQL."""
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        cols = con.execute("""SELECT table_name, column_name FROM information_schema.columns
                              WHERE data_type IN ('VARCHAR', 'JSON')""").fetchall()
        for table, col in cols:
            for needle in NEEDLES:
                sql = f'SELECT count(*) FROM "{table}" WHERE CAST("{col}" AS VARCHAR) LIKE ?'
                if con.execute(sql, [f"%{needle}%"]).fetchone()[0]:
                    found.append(f"{path} table {table}.{col}")
    return found


def leaks_in_parquet(path: Path) -> list[str]:
    """Parquet pages are compressed: search the decoded values."""
    text = json.dumps(pq.read_table(path).to_pylist(), default=str)
    return [f"{path}" for n in NEEDLES if n in text]


def leaks_in_bytes(path: Path) -> list[str]:
    data = path.read_bytes()
    return [f"{path}" for n in NEEDLES if n.encode() in data]


def scan(*roots: Path) -> list[str]:
    """Every file under `roots`, read the way it stores text. SQLite (Prefect's database) stores text as is."""
    found: list[str] = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            if path.suffix == ".duckdb":
                found += leaks_in_duckdb(path)
            elif path.suffix == ".parquet":
                found += leaks_in_parquet(path)
            found += leaks_in_bytes(path)  # also .duckdb / .wal: whatever is stored uncompressed
    return sorted(set(found))


def test_the_scanner_finds_planted_secrets(tmp_path):
    """The scan below can fail: a secret hidden in a compressed DuckDB column, a Parquet file or SQLite is found."""
    with duckdb.connect(str(tmp_path / "c.duckdb")) as con:
        con.execute("CREATE TABLE t (a VARCHAR, b JSON)")
        con.execute("INSERT INTO t SELECT 'filler ' || (i % 7), '{}' FROM range(200000) r(i)")
        con.execute("INSERT INTO t VALUES (?, '{}')", [f"error: Bearer {API_KEY}"])
    pq.write_table(pa.table({"x": ["a"] * 1000 + [HF_TOKEN[2:30]]}), tmp_path / "e.parquet", compression="zstd")
    with sqlite3.connect(tmp_path / "p.db") as db:
        db.execute("CREATE TABLE logs (message TEXT)")
        db.execute("INSERT INTO logs VALUES (?)", [f"key={API_KEY[:30]}"])
    found = scan(tmp_path)
    assert any("c.duckdb table t.a" in f for f in found)
    assert any(f.endswith("e.parquet") for f in found) and any(f.endswith("p.db") for f in found)


# ------------------------------------------------------------------------------------ build, export, push


@pytest.mark.slow
@pytest.mark.reliability
def test_no_secret_reaches_any_file_or_log(prefect_env, tmp_path):
    env = {
        **prefect_env,
        "PREFSYNTH_TEST_API_KEY": API_KEY,
        "HF_TOKEN": HF_TOKEN,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_OFFLINE": "0",
        "PREFECT_LOGGING_LEVEL": "DEBUG",  # and prefsynth's own loggers (e.g. the engine's retries) to Prefect
        "PREFECT_LOGGING_EXTRA_LOGGERS": "prefsynth,httpx,huggingface_hub",
    }
    catalog, out = tmp_path / "c.duckdb", tmp_path / "exports"
    with policy_server() as server, FaultServer(default=("echo", 401)) as hub:
        # Leaky servers: error bodies that echo the request headers, Authorization included.
        server.script(("echo", 400), ("status", 503), ("echo", 500))
        config = build_config(tmp_path, server.base_url, name="secrets")
        logs = [run(env, "build", str(config), "--catalog", str(catalog), out_dir=tmp_path / "logs" / "build")]
        assert logs[0][0] == 0, logs[0][2]
        for fmt in ("trl-preference", "hf"):
            logs.append(run(env, "export", "secrets", "--format", fmt, "--out", str(out), "--catalog", str(catalog),
                            out_dir=tmp_path / "logs" / fmt))
            assert logs[-1][0] == 0, logs[-1][2]
        push = run({**env, "HF_ENDPOINT": f"http://127.0.0.1:{hub.port}"}, "export", "secrets", "--format", "hf",
                   "--out", str(out), "--push-to-hub", "org/secrets", "--catalog", str(catalog),
                   out_dir=tmp_path / "logs" / "push")
    # The secrets were really in use: the model server and the Hub got them in the Authorization header.
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert f"Bearer {HF_TOKEN}" in [r["headers"].get("authorization") for r in hub.requests]
    assert push[0] == 1 and "401" in push[2]  # refused, and said so

    with duckdb.connect(str(catalog), read_only=True) as con:  # the echoing errors were recorded
        errors = [r[0] for r in con.execute("SELECT error FROM samples WHERE status = 'error'").fetchall()]
    assert errors and all("***" in e for e in errors)

    prefect_home = Path(prefect_env["PREFECT_HOME"])
    assert list(prefect_home.rglob("*.db")), "Prefect's database is where its logs and parameters live"
    datasets_cache = Path(os.environ["HF_DATASETS_CACHE"])  # set per session by tests/conftest.py
    assert scan(tmp_path, prefect_home, datasets_cache) == []  # catalog, exports, logs, HF_HOME: all in tmp_path

    # Prefect's own record of the flow run: parameters name the variable, never its value.
    api = prefect_env["PREFECT_API_URL"]
    runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 200}).json()
    params = [r["parameters"] for r in runs if r["parameters"].get("config", {}).get("name") == "secrets"]
    assert params and params[0]["config"]["engines"]["srv"]["api_key_env"] == "PREFSYNTH_TEST_API_KEY"
