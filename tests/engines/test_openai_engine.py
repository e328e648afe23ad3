"""OpenAIEngine against real HTTP servers on 127.0.0.1: llama.cpp's server on the embedded model (slow) and a
scripted fault-injecting server (fast)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prefsynth.engines.base import Engine
from prefsynth.engines.openai import OpenAIEngine, retry_after_s, split_tokens
from prefsynth.schemas.engine import GenRequest, Message, OpenAIEngineConfig

from tests.servers import FaultServer, free_port


KEY_ENV = "PREFSYNTH_TEST_OPENAI_KEY"


def chat(text: str = "Say hi.", **kw) -> GenRequest:
    return GenRequest(messages=(Message(role="user", content=text),), **kw)


def engine_for(base_url: str, **kw) -> OpenAIEngine:
    kw = {"model": "test-model", "api_key_env": KEY_ENV, "backoff_s": 0.01, "max_retries": 3, **kw}
    return OpenAIEngine(OpenAIEngineConfig(base_url=base_url, **kw))


def one(engine: OpenAIEngine, req: GenRequest):
    [result] = engine.generate([req])
    return result


# ------------------------------------------------------------------------------------------ pure helpers


def test_retry_after_parses_seconds_and_http_dates():
    assert retry_after_s("2") == 2.0
    assert retry_after_s("0.5") == 0.5
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= retry_after_s(later) <= 30
    assert retry_after_s(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0


def test_split_tokens_sums_to_total_and_follows_length():
    assert split_tokens(10, ["a" * 9, "a" * 9]) == [5, 5]
    shares = split_tokens(7, ["x" * 30, "", "x" * 10])
    assert sum(shares) == 7 and shares[0] > shares[2] >= shares[1]
    assert split_tokens(0, ["a", "b"]) == [0, 0]


def test_is_an_engine():
    engine = engine_for("http://127.0.0.1:1/v1")
    assert isinstance(engine, Engine) and engine.name == "openai:test-model"
    assert engine.generate([]) == []


# ------------------------------------------------------------------------------- fault-injecting server


def test_request_bodies_and_endpoints(fault_server: FaultServer):
    engine = engine_for(fault_server.base_url)
    req = chat(temperature=0.7, top_p=0.9, max_tokens=12, seed=5, stop=("\n\n",))
    results = engine.generate([req, GenRequest(prompt="Step 1:", max_tokens=4)])
    assert [r.ok for r in results] == [True, True]
    assert results[0].completions[0].text == "hello" and results[0].prompt_tokens == 7
    assert results[0].completions[0].completion_tokens == 1
    by_path = {r["path"]: r["body"] for r in fault_server.requests}
    body = by_path["/v1/chat/completions"]
    assert body["messages"] == [{"role": "user", "content": "Say hi."}]
    assert {k: body[k] for k in ("model", "temperature", "top_p", "max_tokens", "seed", "stop", "n")} == {
        "model": "test-model",
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 12,
        "seed": 5,
        "stop": ["\n\n"],
        "n": 1,
    }
    assert "structured_outputs" not in body
    assert by_path["/v1/completions"]["prompt"] == "Step 1:"


def test_missing_n_is_asked_again_with_distinct_seeds(fault_server: FaultServer):
    fault_server.script(("ok", "a", "stop"), ("ok", "b", "length"), ("ok", "c", "stop"))
    result = one(engine_for(fault_server.base_url), chat(n=3, seed=10))
    assert result.ok and len(result.completions) == 3
    assert sorted(c.text for c in result.completions) == ["a", "b", "c"]
    sent = sorted((r["body"]["seed"], r["body"]["n"]) for r in fault_server.requests)
    assert sent == [(10, 3), (11, 1), (12, 1)]  # first call asks for all; the rest one by one


def test_a_server_that_honours_n_is_asked_once(fault_server: FaultServer):
    fault_server.honour_n = True
    result = one(engine_for(fault_server.base_url), chat(n=4))
    assert len(result.completions) == 4 and fault_server.request_count == 1


def test_choices_sent_as_vllm_structured_outputs(fault_server: FaultServer):
    req = chat(choices=("A", "B"))
    one(engine_for(fault_server.base_url, structured_outputs="vllm"), req)
    one(engine_for(fault_server.base_url), req)
    vllm_body, plain_body = (r["body"] for r in fault_server.requests)
    assert vllm_body["structured_outputs"] == {"choice": ["A", "B"]}
    assert "structured_outputs" not in plain_body


def test_429_waits_for_retry_after(fault_server: FaultServer):
    fault_server.script(("status", 429, {"Retry-After": "1"}), ("ok", "fine", "stop"))
    start = time.perf_counter()
    result = one(engine_for(fault_server.base_url), chat())
    assert result.ok and result.completions[0].text == "fine"
    assert time.perf_counter() - start >= 0.95  # backoff_s is 0.01: only Retry-After explains the wait
    assert result.latency_s >= 0.95 and fault_server.request_count == 2


def test_retry_after_is_capped_by_max_backoff(fault_server: FaultServer):
    fault_server.script(("status", 429, {"Retry-After": "30"}), ("ok", "fine", "stop"))
    start = time.perf_counter()
    assert one(engine_for(fault_server.base_url, max_backoff_s=0.1), chat()).ok
    assert time.perf_counter() - start < 5


def test_503_twice_then_ok(fault_server: FaultServer):
    fault_server.script(("status", 503), ("status", 503), ("ok", "up again", "stop"))
    result = one(engine_for(fault_server.base_url), chat())
    assert result.ok and result.completions[0].text == "up again" and fault_server.request_count == 3


def test_retries_exhausted_reports_last_status(fault_server: FaultServer):
    fault_server.script(*[("status", 502)] * 3)
    result = one(engine_for(fault_server.base_url, max_retries=2), chat())
    assert not result.ok and result.completions == []
    assert "502" in result.error and "3 attempts" in result.error and fault_server.request_count == 3


def test_400_is_not_retried(fault_server: FaultServer):
    fault_server.script(("status", 400))
    result = one(engine_for(fault_server.base_url), chat())
    assert not result.ok and "HTTP 400" in result.error and fault_server.request_count == 1


def test_hang_past_timeout_is_retried_then_reported(fault_server: FaultServer):
    fault_server.script(("hang", 10), ("hang", 10), ("hang", 10))
    start = time.perf_counter()
    result = one(engine_for(fault_server.base_url, timeout_s=0.3, max_retries=2), chat())
    assert not result.ok and "timeout" in result.error
    assert fault_server.request_count == 3 and time.perf_counter() - start < 5


def test_hang_then_ok(fault_server: FaultServer):
    fault_server.script(("hang", 10), ("ok", "awake", "stop"))
    result = one(engine_for(fault_server.base_url, timeout_s=0.3), chat())
    assert result.ok and result.completions[0].text == "awake"


def test_malformed_body_is_retried(fault_server: FaultServer):
    fault_server.script(("malformed",), ("ok", "clean", "stop"))
    result = one(engine_for(fault_server.base_url), chat())
    assert result.ok and result.completions[0].text == "clean" and fault_server.request_count == 2
    fault_server.script(*[("malformed",)] * 2)
    result = one(engine_for(fault_server.base_url, max_retries=1), chat())
    assert not result.ok and "malformed" in result.error


def test_connection_reset_is_retried(fault_server: FaultServer):
    fault_server.script(("reset",), ("ok", "reconnected", "stop"))
    result = one(engine_for(fault_server.base_url), chat())
    assert result.ok and result.completions[0].text == "reconnected" and fault_server.request_count == 2
    fault_server.script(("reset",))
    result = one(engine_for(fault_server.base_url, max_retries=0), chat())
    assert not result.ok and "connection error" in result.error and "gave up after 1 attempt;" in result.error
    assert fault_server.resets == 2


def test_connection_refused_is_an_error_result():
    result = one(engine_for(f"http://127.0.0.1:{free_port()}/v1", max_retries=1), chat())
    assert not result.ok and "connection error" in result.error


@pytest.mark.parametrize(("text", "finish"), [(None, "stop"), ("", "length")])
def test_empty_content_is_an_empty_completion(fault_server: FaultServer, text, finish):
    fault_server.script(("ok", text, finish))
    result = one(engine_for(fault_server.base_url), chat())
    assert result.ok and result.completions[0].text == "" and result.completions[0].finish_reason == finish


def test_request_without_messages_or_prompt_is_an_error(fault_server: FaultServer):
    result = one(engine_for(fault_server.base_url), GenRequest())
    assert not result.ok and "neither" in result.error and fault_server.request_count == 0


def test_max_concurrency_is_honoured(fault_server: FaultServer):
    fault_server.delay_s = 0.2
    results = engine_for(fault_server.base_url, max_concurrency=3).generate([chat(seed=i) for i in range(9)])
    assert all(r.ok for r in results) and [r.completions[0].text for r in results] == ["hello"] * 9
    assert fault_server.max_in_flight == 3


def test_results_keep_request_order_when_replies_do_not(fault_server: FaultServer):
    # Behaviour by content, not by arrival order: the two requests race to the server.
    fault_server.default = lambda body: (
        ("hang", 0.3) if body["messages"][-1]["content"] == "first" else ("ok", "fast", "stop"))
    slow, fast = engine_for(fault_server.base_url).generate([chat("first"), chat("second")])
    assert slow.completions[0].text == "late" and fast.completions[0].text == "fast"


def test_api_key_sent_but_never_shown(fault_server: FaultServer, monkeypatch, caplog):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv(KEY_ENV, secret)
    engine = engine_for(fault_server.base_url)
    fault_server.script(("ok", "hi", "stop"), ("echo", 503), ("echo", 400))
    with caplog.at_level(logging.DEBUG):
        ok, leaky = engine.generate([chat()]), engine.generate([chat()])
    assert ok[0].ok and fault_server.requests[0]["headers"]["authorization"] == f"Bearer {secret}"
    assert secret not in engine.name and secret not in repr(engine.config)
    assert not leaky[0].ok and "HTTP 400" in leaky[0].error and "***" in leaky[0].error
    assert secret not in leaky[0].error and secret not in caplog.text


def test_no_key_no_authorization_header(fault_server: FaultServer, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert one(engine_for(fault_server.base_url), chat()).ok
    assert "authorization" not in fault_server.requests[0]["headers"]


def test_generate_works_inside_a_running_event_loop_and_in_worker_threads(fault_server: FaultServer):
    engine = engine_for(fault_server.base_url)

    async def caller():
        return engine.generate([chat()])

    [result] = asyncio.run(caller())
    assert result.ok and result.completions[0].text == "hello"
    with ThreadPoolExecutor(max_workers=2) as pool:  # like a thread-pool task runner: no loop in the thread
        results = list(pool.map(lambda i: engine.generate([chat(seed=i)])[0], range(4)))
    assert all(r.ok for r in results) and fault_server.request_count == 5


# ------------------------------------------------------------------------------- llama.cpp's own server


@pytest.mark.slow
def test_llama_server_chat_n2_is_completed_by_reasking(llama_server: str):
    engine = engine_for(llama_server, timeout_s=60)
    result = one(engine, chat("Name a colour.", n=2, max_tokens=16, temperature=0.8, seed=3))
    assert result.ok, result.error
    assert len(result.completions) == 2
    assert all(c.completion_tokens > 0 for c in result.completions) and result.prompt_tokens > 0


@pytest.mark.slow
def test_llama_server_raw_prompt_continuation(llama_server: str):
    result = one(engine_for(llama_server, timeout_s=60), GenRequest(prompt="1, 2, 3, 4,", max_tokens=8))
    assert result.ok, result.error
    [c] = result.completions
    assert c.text and c.completion_tokens > 0 and result.prompt_tokens > 0


@pytest.mark.slow
def test_llama_server_tiny_max_tokens_finishes_by_length(llama_server: str):
    result = one(engine_for(llama_server, timeout_s=60), chat("Write a long story about a dragon.", max_tokens=2))
    assert result.ok, result.error
    assert result.completions[0].finish_reason == "length" and result.completions[0].completion_tokens == 2


def test_a_failed_attempt_gives_its_token_estimate_back(fault_server: FaultServer):
    """A 503 (or 429) attempt generated nothing: its estimate goes back to max_tokens_per_minute, so only the
    attempt that succeeded is charged, and at what it used (frozen clock: no refill muddles the count)."""
    from prefsynth.engines.scheduler import Scheduler

    fault_server.script(("status", 503), ("ok", "one two three", "stop"))
    engine = engine_for(fault_server.base_url, max_tokens_per_minute=6000)  # a bucket of 100 tokens
    engine.scheduler = Scheduler(4, tokens_per_minute=6000, clock=lambda: 0.0)
    result = one(engine, chat("hi", max_tokens=20))
    assert result.ok and result.retries == 1
    used = result.prompt_tokens + result.completion_tokens  # 7 + 3
    assert engine.scheduler.tokens.level == pytest.approx(100 - used)
