"""One request asked by two overlapping groups at once is sent once, and both get its one reply.

Overlapped groups (runtime/overlap.py) plan their requests against the call cache independently, so before this
both groups missed the cache and both sent the request: a sampling server gave them different replies, only the
first was cached, and a rerun (two cache hits of that first reply) built different records — another content hash.
"""

from __future__ import annotations

import itertools
import threading

from prefsynth.engines.cache import CallCache
from prefsynth.runtime.calls import CallRunner
from prefsynth.schemas.engine import Completion, GenRequest, GenResult, Message, OpenAIEngineConfig
from prefsynth.tasks.generate import EngineSet
from tests.fakes import MemoryCallStore


class SamplingServer:
    """A streaming engine whose every call gets a new reply (a server sampling at temperature > 0), after 0.2 s."""

    name = "sampling:srv"
    concurrency = 8

    def __init__(self) -> None:
        self.sent: list[GenRequest] = []
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, request: GenRequest, deliver) -> None:
        with self._lock:
            self.sent.append(request)
            n = next(self._count)
        reply = GenResult(completions=[Completion(text=f"reply {n}", completion_tokens=2)])
        threading.Timer(0.2, deliver, args=(reply,)).start()

    def generate(self, requests):  # the streaming path never calls it
        raise AssertionError("a streaming engine's requests are submitted one by one")


def runner_on(engine: SamplingServer) -> tuple[CallRunner, MemoryCallStore]:
    config = OpenAIEngineConfig(model="sim", api_key_env=None)
    store = MemoryCallStore()
    return CallRunner(CallCache(store), {"srv": config}, batch_size=32, served=EngineSet([(config, engine)])), store


def ask(text: str) -> GenRequest:
    return GenRequest(messages=(Message(role="user", content=text),), temperature=0.8, max_tokens=8)


def test_two_groups_asking_the_same_request_at_once_share_one_call():
    engine = SamplingServer()
    runner, store = runner_on(engine)
    together = threading.Barrier(2)
    got: dict[str, list[GenResult]] = {}

    def group(name: str, texts: list[str]) -> None:
        together.wait()
        got[name] = runner.run("srv", [ask(t) for t in texts], f"group {name}")

    threads = [threading.Thread(target=group, args=("a", ["shared", "only a"])),
               threading.Thread(target=group, args=("b", ["only b", "shared"]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runner.writer.flush()

    assert sorted(m.messages[0].content for m in engine.sent) == ["only a", "only b", "shared"]
    shared_a, shared_b = got["a"][0], got["b"][1]
    assert shared_a.completions == shared_b.completions  # one reply, the one the cache keeps
    assert store.rows[ask("shared").key("sampling:srv")].completions == shared_a.completions
    assert runner.stats.engine_calls == 3


def test_a_request_asked_again_after_its_reply_landed_is_a_cache_hit():
    engine = SamplingServer()
    runner, _ = runner_on(engine)
    first = runner.run("srv", [ask("x")], "one")
    runner.writer.flush()
    again = runner.run("srv", [ask("x")], "two")
    assert len(engine.sent) == 1 and again[0].cached and again[0].completions == first[0].completions
