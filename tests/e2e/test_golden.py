"""Golden outputs (issue 15 item 7): small builds' summaries and exports, pinned to catch unintended changes.

Each build runs through the `prefsynth` console script's entry point (the one public, stable way in: it does
not care where the CLI's modules live) against a scripted OpenAI-compatible server in a thread. The server's
replies are a pure function of the request body (no model, no randomness), so the builds are reproducible.

Pinned: a preference build (two pairwise jurors, both orders, four filters) with its trl-preference export
and its hf export's dataset card (date, server URL, folder masked);
label-steps builds with OmegaPRM and Math-Shepherd with their trl-stepwise and math-shepherd exports; a
rationalize build with its trl-preference and trl-sft exports. For each build: content hash, row count, and
the summary's stats without volatile keys (times, ids, costs). Export rows are compared sorted.

Regenerate (only from code whose outputs are known right): PREFSYNTH_UPDATE_GOLDEN=1 pytest tests/e2e/test_golden.py
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import io
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.usefixtures("prefect_harness")
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
UPDATE = os.environ.get("PREFSYNTH_UPDATE_GOLDEN") == "1"
# Stats that differ run to run (clocks, ids, money/time per call) or describe the machine, not the data.
VOLATILE = re.compile(r"(^|_)(s|ms|seconds|time|times|wall|at|id|ids|usd|cost|per_call|per_s|rate|latency)$|"
                      r"^(elapsed|started|finished|timestamp|flow_run|run_id|duration|throughput|timings)")

# ----------------------------------------------------------------------------- the scripted server


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def judge_reply(body: dict, i: int) -> str:
    """Longer wins, except: some pairs are ties, some get a position-biased 'A>B', some replies lack a verdict."""
    if "structured_outputs" in body:  # the re-ask, constrained to the labels: sometimes still no answer
        choices = body["structured_outputs"]["choice"]
        pick = _h(json.dumps(body, sort_keys=True), i) % (len(choices) + 1)
        return choices[pick] if pick < len(choices) else "unsure"
    text = next(m["content"] for m in body["messages"] if "[Response A]" in m["content"])
    a, b = _between(text, "[Response A]\n", "\n[End of Response A]"), _between(text, "[Response B]\n", "\n[End")
    pair, draw = _h(body["model"], min(a, b), max(a, b)) % 10, _h(json.dumps(body, sort_keys=True), i) % 10
    if draw == 0:
        return "I cannot decide."
    if pair == 0:
        label = "A=B"
    elif pair == 1:
        label = "A>B"
    else:
        # at temperature > 0 (k samples of one judge), draw 1 flips this sample's preference
        longer_a = (len(a) > len(b)) != (draw == 1 and body.get("temperature", 0) > 0)
        strong = ">>" if abs(len(a) - len(b)) > 12 else ">"
        label = f"A{strong}B" if longer_a else f"B{strong}A"
    return f"Reasoning {i}: " + "detail " * (draw + 1) + f"\nVerdict: [[{label}]]"


WORDS = ("A short", "A plain", "A careful", "A long", "A vague", "A clear", "A wrong")


def policy_reply(body: dict, i: int) -> str:
    prompt = body["messages"][-1]["content"]
    draw = _h(prompt, body.get("seed"), i)
    return f"{WORDS[draw % 7]} answer to '{prompt[:20]}'" + " with detail" * (1 + draw // 7 % 5)


def steps_reply(body: dict, i: int) -> str:
    """Continue 'Start with S. Then add a, add b, ...' one step per paragraph; a step is off by one 15% of the time."""
    question, prefix = body["prompt"].split("Question: ", 1)[1].split("\n\nAnswer:\n", 1)
    start, *args = map(int, re.findall(r"\d+", question))
    done = [s for s in prefix.split("\n\n") if s.strip()]
    value = int(re.findall(r"-?\d+", done[-1])[-1].rstrip(".")) if done else start
    steps = []
    for t in range(len(done), len(args)):
        result = value + args[t] + (_h(body["prompt"], body.get("seed"), i, t) % 100 < 15)
        steps.append(f"Step {t + 1}: {value} + {args[t]} = {result}.")
        value = result
    return "\n\n".join(steps) + f"\nThe answer is {value}."


def reply(body: dict, i: int) -> str:
    if "prompt" in body:
        return steps_reply(body, i)
    return judge_reply(body, i) if any("[Response A]" in m["content"] for m in body["messages"]) else policy_reply(body, i)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        chat = "messages" in body
        texts = [reply(body, i) for i in range(body.get("n", 1))]
        choices = [{"index": i, "finish_reason": "stop", **({"message": {"role": "assistant", "content": t}}
                                                            if chat else {"text": t})} for i, t in enumerate(texts)]
        usage = {"prompt_tokens": 10, "completion_tokens": sum(len(t.split()) for t in texts)}
        data = json.dumps({"choices": choices, "usage": usage}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


# ----------------------------------------------------------------------------- the CLI and the goldens


def prefsynth(*args: str) -> str:
    """Run the `prefsynth` console script's entry point in this process; its stdout (asserting exit code 0)."""
    (main,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "prefsynth"]
    out, err, argv = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = ["prefsynth", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main.load()()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = argv
    assert code == 0, f"prefsynth {' '.join(args)} exited {code}:\n{err.getvalue()}{out.getvalue()}"
    return out.getvalue()


def stable(value):
    """Stats without the volatile keys (recursively), nor `stats_version` (issue 15 adds it: a format tag)."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if not VOLATILE.search(k) and k != "stats_version"}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def build(command: str, config: Path, catalog: Path) -> dict:
    summary = json.loads(prefsynth(command, str(config), "--catalog", str(catalog), "--json"))
    return {"content_hash": summary["content_hash"], "rows": summary["rows"], "stats": stable(summary["stats"])}


def export_rows(name: str, fmt: str, catalog: Path, out: Path) -> list:
    prefsynth("export", name, "--format", fmt, "--out", str(out / fmt), "--catalog", str(catalog))
    (path,) = (p for p in (out / fmt).rglob("*.parquet") if "disk" not in p.parts)
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def check_golden(name: str, actual) -> None:
    """Compare with tests/data/golden/<name>.json (or rewrite it under PREFSYNTH_UPDATE_GOLDEN=1)."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(actual, indent=1, sort_keys=True, default=str) + "\n"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    expected = path.read_text()
    if text != expected:
        diff = difflib.unified_diff(expected.splitlines(), text.splitlines(), f"golden/{path.name}", "this run",
                                    lineterm="", n=2)
        pytest.fail(f"{name} differs from its golden file:\n" + "\n".join(list(diff)[:80]), pytrace=False)


def engine(url: str, model: str) -> str:
    return f"{{kind: openai, base_url: '{url}', model: {model}, api_key_env: null, structured_outputs: vllm}}"


PROMPTS = ["Explain why the sky is blue.", "Write a haiku about leaves.", "What is 17 times 3?", "Name a prime.",
           "Define entropy in one line.", "Give a synonym for quick."]
PREFERENCE = """name: golden-pref
prompts: {{path: prompts.jsonl}}
engines: {{pol: {pol}, ja: {ja}, jb: {jb}}}
policies: [{{engine: pol, n: 3, max_tokens: 32}}]
jury: [{{kind: pairwise, engine: ja}}, {{kind: pairwise, engine: jb}}]
filters: [position_swap, drop_ties, {{kind: agreement, min_agreement: 0.6}}, {{kind: length_bias, max_chars: 500}}]
"""


def test_preference_build_and_exports(tmp_path, server_url):
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS))
    config = tmp_path / "pref.yaml"
    config.write_text(PREFERENCE.format(**{k: engine(server_url, k) for k in ("pol", "ja", "jb")}))
    catalog = tmp_path / "c.duckdb"
    check_golden("preference_build", build("build", config, catalog))
    rows = export_rows("golden-pref", "trl-preference", catalog, tmp_path)
    check_golden("preference_trl_preference", rows)
    assert export_rows("golden-pref", "hf", catalog, tmp_path) == rows  # hf: the same table, Hub layout + card
    (card,) = (tmp_path / "hf").rglob("README.md")
    text = re.sub(r" on \d{4}-\d{2}-\d{2}\.", " on DATE.", card.read_text())
    text = text.replace(server_url, "URL").replace(str(tmp_path), "TMP")
    check_golden("preference_hf_card", text.splitlines())


PROBLEMS = [(7, [3, 5, 2]), (4, [9, 1]), (12, [6, 6, 8, 1]), (30, [2, 11])]


@pytest.mark.parametrize("method, extra", [("omegaprm", "omegaprm: {k: 4, max_estimates: 8}"),
                                           ("math_shepherd", "solutions_per_problem: 2\nmath_shepherd: {n: 4}")],
                         ids=["omegaprm", "math_shepherd"])
def test_label_steps_build_and_exports(tmp_path, server_url, method, extra):
    with (tmp_path / "problems.jsonl").open("w") as fh:
        for start, adds in PROBLEMS:
            question = f"Start with {start}. Then add " + ", add ".join(map(str, adds)) + "."
            fh.write(json.dumps({"question": question, "answer": str(start + sum(adds))}) + "\n")
    config = tmp_path / "steps.yaml"
    config.write_text(f"name: golden-{method.replace('_', '-')}\nproblems: {{path: problems.jsonl}}\n"
                      f"engines: {{sim: {engine(server_url, 'sim')}}}\npolicy: {{engine: sim}}\n"
                      f"method: {method}\n{extra}\n")
    catalog = tmp_path / "c.duckdb"
    check_golden(f"{method}_build", build("label-steps", config, catalog))
    for fmt in ("trl-stepwise", "math-shepherd"):
        rows = export_rows(f"golden-{method.replace('_', '-')}", fmt, catalog, tmp_path)
        check_golden(f"{method}_{fmt.replace('-', '_')}", rows)


ITEMS = [
    {"prompt": "Which is kinder?", "response_a": "A long and gentle answer", "response_b": "No.", "label": "A>B"},
    {"prompt": "Which is right?", "response_a": "meh", "response_b": "a better, longer answer", "label": "B>A"},
    {"prompt": "Unlabelled", "response_a": "first response here", "response_b": "second"},
    {"prompt": "What is 2+3?", "response_a": "2+3 = 5. The answer is 5.", "response_b": "The answer is 6.",
     "gold_answer": "5"},
    {"prompt": "Pick the haiku", "response_a": "leaves fall / slowly down / autumn", "response_b": "A poem.",
     "label": "A>B"},
    {"prompt": "Another unlabelled one", "response_a": "short", "response_b": "somewhat longer text"},
]


def test_rationalize_build_and_exports(tmp_path, server_url):
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ITEMS))
    config = tmp_path / "r.yaml"
    config.write_text(f"name: golden-rationales\nitems: {{path: items.jsonl}}\nengines: {{j: {engine(server_url, 'j')}}}\n"
                      "judge: {engine: j, temperature: 0.9}\nk: 4\nmax_pairs_per_item: 2\n")
    catalog = tmp_path / "c.duckdb"
    check_golden("rationalize_build", build("rationalize", config, catalog))
    for fmt in ("trl-preference", "trl-sft"):
        check_golden(f"rationalize_{fmt.replace('-', '_')}", export_rows("golden-rationales", fmt, catalog, tmp_path))
