"""The call cache's keys in the catalog (m010_call_keys): 128-bit integers, not 64-character strings.

A request's key is still `GenRequest.key` (a SHA-256 hex digest); the catalog stores its first 128 bits. The
primary-key index of `llm_calls` is the one catalog structure DuckDB cannot evict and it grows with every call
ever made: as text it took ~112 bytes a key (280 MB at the 10x throughput workload's 2.5 M calls), and each insert
into it cost 2.7x as much as into an index of 16-byte integers (benchmarks/README.md, throughput).
"""

from __future__ import annotations

import duckdb

from prefsynth.schemas.engine import Completion, GenRequest, GenResult, Message
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.migrations import MIGRATIONS, apply_migrations


def request(text: str) -> GenRequest:
    return GenRequest(messages=(Message(role="user", content=text),), max_tokens=8)


def reply(text: str) -> GenResult:
    return GenResult(completions=[Completion(text=text, completion_tokens=1)])


def test_calls_saved_before_the_migration_are_still_cache_hits(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))  # a catalog as the code before m010 left it, with two saved calls
    con.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)")
    for name, sql in MIGRATIONS[: [n for n, _ in MIGRATIONS].index("m009_prefix_verdict") + 1]:
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, now())", [name])
    old = [(request("a"), reply("one")), (request("b"), reply("two"))]
    for req, res in old:
        con.execute("INSERT INTO llm_calls VALUES (?, 'e', ?, ?, now())",
                    [req.key("e"), req.model_dump_json(), res.model_dump_json()])
    con.close()

    with Catalog(path) as cat:
        hits = cat.get_calls([request("a").key("e"), request("b").key("e"), request("c").key("e")])
        assert hits == {request("a").key("e"): reply("one"), request("b").key("e"): reply("two")}
        assert cat.query("SELECT DISTINCT typeof(key) FROM llm_calls") == [("UHUGEINT",)]
        assert cat.query("SELECT request FROM llm_calls ORDER BY rowid")[0][0] == request("a").model_dump_json()


def test_a_saved_call_is_found_by_its_key_and_saved_once(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        req = request("x")
        cat.put_calls([(req.key("e"), "e", req, reply("first"))])
        cat.put_calls([(req.key("e"), "e", req, reply("again"))])  # same key: the first answer stays
        assert cat.get_calls([req.key("e")]) == {req.key("e"): reply("first")}
        assert cat.get_calls([request("y").key("e")]) == {}
        assert cat.query("SELECT count(*), min(typeof(key)) FROM llm_calls") == [(1, "UHUGEINT")]


def test_a_fresh_catalog_gets_the_migration(tmp_path):
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    assert "m010_call_keys" in apply_migrations(con)
    assert con.execute("SELECT data_type FROM information_schema.columns "
                       "WHERE table_name = 'llm_calls' AND column_name = 'key'").fetchall() == [("UHUGEINT",)]
