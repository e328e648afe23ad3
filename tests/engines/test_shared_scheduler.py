"""One scheduler per server per process (issue 13 item 1): engines built separately for the same server — as two
builds running in one process build them — share its `max_concurrency`, asserted at a real HTTP server on
127.0.0.1 (tests/latency_server.py counts the requests it has in flight)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from prefsynth.engines.openai import OpenAIEngine
from prefsynth.schemas.engine import GenRequest, OpenAIEngineConfig
from tests.latency_server import LatencyServer


@contextmanager
def engines(*configs: dict):
    """An engine per config (each built on its own, like each build's `EngineSet` does), all closed at the end."""
    built = [OpenAIEngine(OpenAIEngineConfig(api_key_env=None, **{"model": "sim", **c})) for c in configs]
    try:
        yield built
    finally:
        for engine in built:
            engine.close()


def send_at_once(*built: OpenAIEngine, count: int = 40) -> None:
    """Each engine sends `count` requests at once from its own thread, as two builds would; all must succeed."""
    results: dict[int, list] = {}

    def build(k: int) -> None:
        requests = [GenRequest(prompt=f"build {k} item {i}", max_tokens=8) for i in range(count)]
        results[k] = built[k].generate(requests)

    threads = [threading.Thread(target=build, args=(k,)) for k in range(len(built))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for rs in results.values() for r in rs) and len(results) == len(built)


def test_two_builds_on_one_server_share_its_limit():
    with LatencyServer() as server, engines(*[{"base_url": server.base_url, "max_concurrency": 8}] * 2) as (a, b):
        send_at_once(a, b)
    assert server.peak_in_flight == 8 and server.served == 80  # reached, never exceeded


def test_the_strictest_limit_holds_and_relaxes_when_it_leaves():
    with LatencyServer() as server, engines({"base_url": server.base_url, "max_concurrency": 8},
                                            {"base_url": server.base_url, "max_concurrency": 3}) as (loose, strict):
        send_at_once(loose, strict)
        assert server.peak_in_flight == 3
        strict.close()  # its build ended: the limits of the engines still running apply
        server.peak_in_flight = 0
        send_at_once(loose)
        assert server.peak_in_flight == 8


def test_other_models_and_servers_get_their_own_scheduler():
    with LatencyServer() as server, engines({"base_url": server.base_url, "model": "m1", "max_concurrency": 4},
                                            {"base_url": server.base_url, "model": "m2", "max_concurrency": 4},
                                            {"base_url": server.base_url + "/", "model": "m1"},
                                            {"base_url": "http://127.0.0.1:1/v1", "model": "m1"}) as (a, b, c, d):
        send_at_once(a, b)
        assert server.peak_in_flight == 8  # 4 per model
        assert a.scheduler is not b.scheduler and a.scheduler is not d.scheduler
        assert a.scheduler is c.scheduler  # a trailing slash names the same server


def test_the_strictest_limits_of_mixed_configs():
    from prefsynth.engines.scheduler import Limits

    held = [Limits(8, None, 6000), Limits(16, 600, None), Limits(12, 900, 9000)]
    assert Limits.strictest(held) == Limits(8, 600, 6000)
    assert Limits.strictest([Limits(4)]) == Limits(4, None, None)


def test_the_last_close_drops_the_shared_scheduler():
    from prefsynth.engines.scheduler import Limits, shared_limits

    url = "http://127.0.0.1:1/v1"
    with engines({"base_url": url, "max_concurrency": 8, "max_requests_per_minute": 600},
                 {"base_url": url, "max_concurrency": 4}) as (a, b):
        assert shared_limits(url, "sim") == Limits(4, 600, None)
        a.close()
        assert shared_limits(url, "sim") == Limits(4, None, None)
        a.close()  # twice: harmless, and b still holds it
        assert shared_limits(url, "sim") == Limits(4, None, None)
    assert shared_limits(url, "sim") is None


def test_an_engine_collected_unclosed_lets_go_of_its_limits():
    """A script that never closes its engine must not pin its limit on the server for the rest of the process."""
    import gc

    from prefsynth.engines.scheduler import Limits, shared_limits

    url = "http://127.0.0.1:2/v1"
    with engines({"base_url": url, "max_concurrency": 8}):
        forgotten = OpenAIEngine(OpenAIEngineConfig(base_url=url, model="sim", api_key_env=None, max_concurrency=2))
        assert shared_limits(url, "sim") == Limits(2)
        del forgotten
        gc.collect()
        assert shared_limits(url, "sim") == Limits(8)
    assert shared_limits(url, "sim") is None


def test_new_limits_retune_the_buckets_and_keep_what_they_saved():
    from prefsynth.engines.scheduler import Limits, Scheduler

    now = [0.0]
    sched = Scheduler(8, tokens_per_minute=6000, clock=lambda: now[0])  # a bucket of 100 tokens
    sched.tokens.take(30)
    sched.set_limits(Limits(2, 600, 3000))  # a stricter engine joined: 50 tokens at most
    assert (sched.limit, sched.requests.rate, sched.tokens.rate, sched.tokens.level) == (2, 10, 50, 50)
    sched.set_limits(Limits(8, None, 6000))  # it left: no request limit, what was saved stays saved
    assert (sched.limit, sched.requests, sched.tokens.capacity, sched.tokens.level) == (8, None, 100, 50)
