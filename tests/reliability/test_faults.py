"""A misbehaving model server: 429 with Retry-After, 500/503, connection resets, hangs past the client timeout,
malformed bodies, empty content and cut replies (finish_reason=length), through whole builds on the real
OpenAI-compatible HTTP stack (tests/servers.py).

At a 20 % fault rate the build completes, every fault is retried to success or recorded with its reason, the
summary's counts match the records, and every verdict is the judge's own. At 100 % the build stops after
bounded retries with a clear message and writes no version.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from tests.reliability.support import PROMPTS, build_config, longer_wins, policy_server, responses_in, version_rows
from tests.servers import body_hash

pytestmark = [pytest.mark.slow, pytest.mark.reliability, pytest.mark.usefixtures("prefect_harness")]

RETRIES = 3
ENGINE = {"timeout_s": 1.0, "max_retries": RETRIES, "backoff_s": 0.01, "max_backoff_s": 0.05, "max_concurrency": 4}
HARD = [("status", 429, {"Retry-After": "1"}), ("status", 500), ("status", 503), ("reset",), ("hang", 5.0),
        ("malformed",)]
SOFT = [("ok", None), ("ok", "The answer is cut", "length")]  # empty content; a reply cut at max_tokens


class FaultPlan:
    """Per request: a fault with probability `rate` (kinds in rotation, so every kind occurs), else the real
    reply. `forced` behaviours go to the first attempts of the first sampling requests, so that sampling and
    judging both meet them whatever the dice say. Remembers what each request hash got, attempt by attempt."""

    def __init__(self, rate: float, kinds: list[tuple], seed: int = 7, forced: tuple[tuple, ...] = ()):
        self.rate, self.kinds, self.seed, self.forced = rate, kinds, seed, list(forced)
        self.given: dict[str, list[tuple]] = defaultdict(list)
        self.bodies: dict[str, dict] = {}
        self.n_faults = 0

    def __call__(self, body: dict) -> tuple:
        key = body_hash(body)
        dice = random.Random(f"{self.seed}|{key}|{len(self.given[key])}")
        behaviour = ("reply",)
        if self.forced and not self.given[key] and len(body["messages"]) == 1:
            behaviour = self.forced.pop(0)
        elif dice.random() < self.rate:
            behaviour = self.kinds[self.n_faults % len(self.kinds)]
            self.n_faults += 1
        self.given[key].append(behaviour)
        self.bodies[key] = body
        return behaviour

    def ended_with(self, behaviour: tuple, judging: bool) -> int:
        """Calls (first asks, not re-asks) whose final attempt got `behaviour`."""
        return sum(got[-1] == behaviour and _is_first_ask(self.bodies[k]) == judging for k, got in self.given.items()
                   if not _is_reask(self.bodies[k]))


def _is_first_ask(body: dict) -> bool:
    return responses_in(body["messages"][-1]["content"]) is not None


def _is_reask(body: dict) -> bool:
    return body["messages"][-1]["role"] == "user" and len(body["messages"]) > 2


def build(config: Path, catalog: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["build", str(config), "--catalog", str(catalog), "--json"])
    return result.exit_code, result.stdout, result.stderr


def rows(catalog: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(catalog), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_at_a_20_percent_fault_rate_the_build_completes_and_accounts_for_every_fault(tmp_path):
    plan = FaultPlan(0.2, HARD + SOFT, forced=tuple(SOFT))
    prompts = [f"{p} ({i})" for i in range(2) for p in PROMPTS]
    catalog = tmp_path / "c.duckdb"
    with policy_server(default=plan) as server:
        config = build_config(tmp_path, server.base_url, engine=ENGINE, prompts=prompts, batch_size=8)
        code, out, err = build(config, catalog)
    assert code == 0, err
    st = json.loads(out)["stats"]
    given = list(plan.given.values())
    assert {b[0] for got in given for b in got} >= {"status", "reset", "hang", "malformed", "ok", "reply"}
    # Kinds rotate, so this many faults means every kind occurred (how many requests a run makes, and so how
    # many faults it draws, varies with retries under load).
    assert plan.n_faults >= len(HARD + SOFT)

    # Retried: every hard fault that was followed by another attempt. Given up: every call whose attempts all failed.
    gave_up = [got for got in given if len(got) == RETRIES + 1 and all(b in HARD for b in got)]
    retried = sum(sum(b in HARD for b in got) - (got in gave_up) for got in given)
    assert st["engine_retries"] == retried > 0
    assert st["engine_errors"] == len(gave_up)
    assert st["engine_calls"] == len(given)

    # The summary's counts are the stored records' counts.
    samples = dict(rows(catalog, "SELECT status, count(*) FROM samples GROUP BY 1"))
    judgments = dict(rows(catalog, "SELECT status, count(*) FROM judgments GROUP BY 1"))
    assert st["samples"] == samples and st["judgments"] == judgments
    # Empty content and cut replies became records with their reason (samples) or a re-ask (judgments).
    empty, cut = SOFT
    assert plan.ended_with(empty, judging=False) and plan.ended_with(cut, judging=False)
    assert plan.ended_with(empty, judging=False) * 3 == rows(
        catalog, "SELECT count(*) FROM samples WHERE status = 'error' AND error = 'empty response'")[0][0]
    assert plan.ended_with(cut, judging=False) * 3 == rows(
        catalog, "SELECT count(*) FROM samples WHERE finish_reason = 'length' AND status IN ('truncated', 'duplicate')")[0][0]
    soft_judging = plan.ended_with(empty, judging=True) + plan.ended_with(cut, judging=True)
    assert soft_judging > 0 and rows(catalog, "SELECT count(*) FROM judgments WHERE reasked")[0][0] == soft_judging
    assert rows(catalog, "SELECT count(*) FROM samples WHERE status = 'error' AND (error IS NULL OR error = '')") == [(0,)]
    assert rows(catalog, "SELECT count(*) FROM judgments WHERE status = 'error' AND (error IS NULL OR error = '')") == [(0,)]
    assert rows(catalog, "SELECT count(*) FROM judgments WHERE status = 'parse_error' AND raw IS NULL") == [(0,)]

    # Every verdict is the served judge's own: longer response wins, never a default.
    verdicts = rows(catalog, """SELECT j.verdict, a.text, b.text FROM judgments j
                                JOIN samples a ON a.id = j.first_id JOIN samples b ON b.id = j.second_id
                                WHERE j.status = 'ok'""")
    assert verdicts and all(v == longer_wins(a, b) for v, a, b in verdicts)
    assert judgments.get("ok", 0) == len(verdicts)


def hard_faults_only(tmp_path: Path, prompts: list[str], **top) -> tuple[int, str, Counter, Path]:
    catalog = tmp_path / "c.duckdb"
    with policy_server(default=FaultPlan(1.0, HARD)) as server:
        config = build_config(tmp_path, server.base_url, engine={**ENGINE, "max_retries": 2}, prompts=prompts, **top)
        code, _, err = build(config, catalog)
        return code, " ".join(err.split()), server.received, catalog


def test_at_a_100_percent_fault_rate_the_build_fails_clearly_and_writes_no_version(tmp_path):
    code, err, received, catalog = hard_faults_only(tmp_path, PROMPTS)
    assert code == 1
    assert f"{len(PROMPTS)} of {len(PROMPTS)} engine calls failed after retries (100%, more than max_error_rate=0.25)" in err
    assert "gave up after 3 attempts" in err and "No version was written" in err
    assert sorted(received.values()) == [3] * len(PROMPTS)  # bounded: 1 try + max_retries=2 per call
    assert version_rows(catalog)["dataset_versions"] == 0


def test_a_dead_server_stops_a_large_build_after_a_few_batches(tmp_path):
    prompts = [f"Question number {i}?" for i in range(40)]
    code, err, received, catalog = hard_faults_only(tmp_path, prompts, batch_size=4)
    assert code == 1 and "20 of 20 engine calls failed after retries" in err
    # The check comes after 20 failed calls (3 attempts each); the requests handed to the engine then still land
    # (at most the engine's 4 slots + a quarter more, runtime/stream.py); the rest is never sent.
    cap = ENGINE["max_concurrency"] + 1
    assert 20 * 3 <= sum(received.values()) <= (20 + cap) * 3 < len(prompts) * 3
    assert version_rows(catalog)["dataset_versions"] == 0
