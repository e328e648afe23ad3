"""The streaming runtime (issue 13): one scheduler per engine per process, asserted at a real HTTP server.

The server (tests/latency_server.py) answers each request after a latency drawn from a spread with a long tail and
records the peak number of requests it had in flight; with a rate set it answers 429 + Retry-After above it.
"""

from __future__ import annotations

import json
import threading

import pytest
from typer.testing import CliRunner

from prefsynth.engines.cache import CallCache
from prefsynth.engines.scheduler import Scheduler, TokenBucket
from prefsynth.cli.main import app
from prefsynth.runtime.calls import CallRunner
from prefsynth.schemas.engine import GenRequest, OpenAIEngineConfig
from tests.fakes import MemoryCallStore
from tests.builds import LIMIT, write_streamed_config
from tests.latency_server import LatencyServer



def build(config: str, catalog) -> dict:
    result = CliRunner().invoke(app, ["build", config, "--catalog", str(catalog), "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


@pytest.mark.usefixtures("prefect_harness")
def test_the_limit_holds_at_the_server_while_stages_overlap(tmp_path, monkeypatch):
    """16 prompts, n=3: sampling and judging of different prompts overlap, all through one engine of 6 slots."""
    with LatencyServer() as server:
        streamed = build(write_streamed_config(tmp_path, server.base_url), tmp_path / "a.duckdb")
        assert server.peak_in_flight == LIMIT  # reached, never exceeded
        assert streamed["stats"]["engine_calls"] == server.served == 16 + 16 * 3 * 2
        assert streamed["stats"]["engine_errors"] == 0

        # Stage by stage (no overlap): the same records, whatever order the replies came in.
        monkeypatch.setattr(CallRunner, "all_stream", lambda self: False)
        staged = build(write_streamed_config(tmp_path, server.base_url), tmp_path / "b.duckdb")
        assert staged["content_hash"] == streamed["content_hash"] and staged["rows"] == streamed["rows"] > 0
        assert server.peak_in_flight == LIMIT


@pytest.mark.usefixtures("prefect_harness")
def test_a_model_aggregation_labels_all_overlapped_groups_at_once(tmp_path, monkeypatch):
    """Dawid-Skene fits over every pair of the build: overlapped groups give the stage-by-stage dataset."""
    top = {"aggregation": {"kind": "dawid_skene"},
           "jury": [{"engine": "srv", "max_tokens": 64}, {"engine": "srv", "max_tokens": 64, "temperature": 0.7}]}
    with LatencyServer() as server:
        config = write_streamed_config(tmp_path, server.base_url, prompts=12, top=top)
        streamed = build(config, tmp_path / "a.duckdb")
        monkeypatch.setattr(CallRunner, "all_stream", lambda self: False)
        staged = build(config, tmp_path / "b.duckdb")
    assert streamed["stats"]["engine_errors"] == 0 and streamed["rows"] > 0
    assert staged["content_hash"] == streamed["content_hash"]


def test_runs_from_several_threads_share_one_limit():
    """Three stages at once on one engine (each its own `run`): in flight at the server never above the limit."""
    config = OpenAIEngineConfig(model="sim", max_concurrency=LIMIT, api_key_env=None)
    with LatencyServer() as server:
        config = config.model_copy(update={"base_url": server.base_url})
        runner = CallRunner(CallCache(MemoryCallStore()), {"srv": config}, batch_size=32)
        results: dict[int, list] = {}

        def stage(k: int) -> None:
            requests = [GenRequest(prompt=f"stage {k} item {i}", max_tokens=8) for i in range(20)]
            results[k] = runner.run("srv", requests, f"stage {k}")

        threads = [threading.Thread(target=stage, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert server.peak_in_flight == LIMIT and server.served == 60
    assert all(r.ok for k in results for r in results[k]) and runner.stats.engine_calls == 60


@pytest.mark.usefixtures("prefect_harness")
def test_a_rate_limiting_server_is_survived_with_no_failed_call(tmp_path):
    """Above 20 requests/s the server says 429 + Retry-After: 1; the build slows down and loses nothing."""
    with LatencyServer() as free:
        reference = build(write_streamed_config(tmp_path, free.base_url, prompts=8), tmp_path / "a.duckdb")
    with LatencyServer(rate_per_s=20) as limited:
        summary = build(write_streamed_config(tmp_path, limited.base_url, prompts=8, max_concurrency=32), tmp_path / "b.duckdb")
    assert limited.rejected > 0  # it was rate-limited for real
    assert summary["stats"]["engine_errors"] == 0 and summary["stats"]["engine_retries"] == limited.rejected
    assert summary["content_hash"] == reference["content_hash"]


def test_token_bucket_waits_for_what_is_missing():
    now = [0.0]
    bucket = TokenBucket(rate=10, capacity=10, clock=lambda: now[0])
    assert bucket.wait_s(10) == 0
    bucket.take(10)
    assert bucket.wait_s(5) == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.wait_s(5) == 0
    assert bucket.wait_s(50) == pytest.approx(0.5)  # bigger than the bucket: waits for a full one


def test_a_429_paces_below_the_accepted_rate_and_ramps_back_up():
    now = [10.0]
    sched = Scheduler(64, clock=lambda: now[0])
    for i in range(50):  # 50 calls accepted in the last second
        now[0] = 10.0 + i / 50
        sched.succeeded()
    sched.rate_limited(1.0)
    assert sched.pace == pytest.approx(0.9 * 50)
    sched.rate_limited(1.0)  # the same overload: no second slow-down within a second
    assert sched.pace == pytest.approx(45)
    for _ in range(100):
        sched.succeeded()
    assert sched.pace == pytest.approx(45 + 100 * 0.05)


@pytest.mark.usefixtures("prefect_harness")
def test_a_batch_run_over_the_error_rate_stops_the_whole_build():
    """In-process engines (batches): failures past max_error_rate stop the build for every stage, like a streamed
    reply does (`runner.stop` is what other stages check before they send), and each batch is counted once."""
    from prefect import flow

    from prefsynth.runtime.budget import RunLimits, TooManyErrors
    from prefsynth.schemas.engine import DryRunEngineConfig
    from prefsynth.tasks.generate import EngineSet
    from tests.fakes import ScriptedEngine

    config = DryRunEngineConfig(model="always-fails")
    down = EngineSet([(config, ScriptedEngine(lambda req, i: RuntimeError("down"), name="scripted:down"))])
    runner = CallRunner(CallCache(MemoryCallStore()), {"e": config}, batch_size=8,
                        limits=RunLimits(max_error_rate=0.1), served=down)
    requests = [GenRequest(prompt=f"item {i}") for i in range(40)]
    with pytest.raises(TooManyErrors):
        flow(lambda: runner.run("e", requests, "stage"), name="batches")()
    assert isinstance(runner.stop, TooManyErrors)
    assert runner.stats.engine_calls == runner.stats.errors and runner.stats.engine_calls % 8 == 0


def test_replies_not_yet_in_the_cache_survive_a_kill_in_the_journal(tmp_path):
    """A streamed reply goes to the call cache in groups (one DuckDB insert per 50 ms); meanwhile it is in the
    journal beside the catalog (a line written at once: a SIGKILL cannot take it back from the OS). The next
    runner on that catalog saves the journal's replies to the cache before it sends anything, so only the
    requests in flight at a kill are paid twice."""
    from prefsynth.engines.cache import CallCache
    from prefsynth.runtime.stream import CacheWriter
    from prefsynth.schemas.engine import Completion, GenResult
    from prefsynth.storage.catalog import Catalog

    request = GenRequest(prompt="kept", max_tokens=8)
    result = GenResult(completions=[Completion(text="yes", completion_tokens=1)], prompt_tokens=3)
    with Catalog(tmp_path / "c.duckdb") as catalog:
        writer = CallRunner(CallCache(catalog), {}, batch_size=8).writer
        writer.note(request.key("openai:sim"), "openai:sim", request, result)  # as the engine hands it over
        writer.add(request.key("openai:sim"), "openai:sim", request, result)  # not flushed: the process dies here
        assert writer.journal.exists() and not catalog.get_calls([request.key("openai:sim")])
        writer.close()  # what the kill does to it: the file is closed, its lines stay (an open one is a live build's)
        CallRunner(CallCache(catalog), {}, batch_size=8)  # the rerun's runner
        saved = catalog.get_calls([request.key("openai:sim")])
        assert saved[request.key("openai:sim")].completions[0].text == "yes"
        assert not writer.journal.exists()  # everything in it is in the cache now
    assert isinstance(CacheWriter(lambda rows: None).journal, type(None))  # no catalog file, no journal


def test_answers_looked_up_ahead_are_let_go_once_their_requests_are_planned():
    """`prefetch` looks a chunk's requests up at once; each answer is read by the one `run` that plans its request.
    Kept after that, a build's look-ahead would hold every cached reply of every chunk (a resumed or repeated
    streaming build: all the sampled texts), so its memory would grow with the build (issue 13 item 4)."""
    from prefsynth.schemas.engine import Completion, DryRunEngineConfig, GenResult
    from prefsynth.tasks.generate import EngineSet
    from tests.fakes import ScriptedEngine

    config = DryRunEngineConfig(model="cached")
    engine = ScriptedEngine(lambda req, i: "fresh", name="scripted:cached")
    store = MemoryCallStore()
    runner = CallRunner(CallCache(store), {"e": config}, batch_size=8, served=EngineSet([(config, engine)]))
    for chunk in range(2):
        requests = [GenRequest(prompt=f"chunk {chunk} item {i}") for i in range(5)]
        store.put_calls([(r.key("scripted:cached"), "scripted:cached", r,
                          GenResult(completions=[Completion(text=f"cached {r.prompt}")])) for r in requests])
        runner.prefetch("e", requests)
        results = runner.run("e", requests, f"chunk {chunk}")
        assert [r.completions[0].text for r in results] == [f"cached {r.prompt}" for r in requests]
        assert runner._known == {}  # nothing of this chunk is held for the next
    assert engine.requests == []  # every answer came from the cache


def test_a_second_build_on_the_catalog_leaves_the_first_ones_journal_alone(tmp_path):
    """Two builds at once on one catalog (threads of one process: DuckDB lets one process open it). The second
    one's runner must not take the first one's journal while that build still writes it: a kill after that
    still loses only the requests in flight. The rerun (a new process) saves every reply that was back."""
    import subprocess
    import sys

    from prefsynth.schemas.engine import Completion, GenResult
    from prefsynth.storage.catalog import Catalog

    path = tmp_path / "c.duckdb"
    requests = [GenRequest(prompt=f"reply {i}", max_tokens=8) for i in range(2)]
    keys = [r.key("openai:sim") for r in requests]

    def back(writer, i: int) -> None:  # a reply the engine handed over, not flushed to the cache yet
        result = GenResult(completions=[Completion(text=f"yes {i}", completion_tokens=1)])
        writer.note(keys[i], "openai:sim", requests[i], result)
        writer.add(keys[i], "openai:sim", requests[i], result)

    catalog = Catalog(path)
    first = CallRunner(CallCache(catalog), {}, batch_size=8).writer
    back(first, 0)
    CallRunner(CallCache(catalog), {}, batch_size=8)  # a second build on the catalog starts meanwhile
    back(first, 1)
    catalog.close()  # the process is killed here: nothing more reaches the cache
    rerun = ("import sys; from prefsynth.engines.cache import CallCache; from prefsynth.runtime.calls import "
             "CallRunner; from prefsynth.storage.catalog import Catalog\n"
             "with Catalog(sys.argv[1]) as c: CallRunner(CallCache(c), {}, batch_size=8)")
    subprocess.run([sys.executable, "-c", rerun, str(path)], check=True)
    with Catalog(path) as catalog:
        saved = catalog.get_calls(keys)
    assert sorted(r.completions[0].text for r in saved.values()) == ["yes 0", "yes 1"]
