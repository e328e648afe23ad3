"""Issue 13 item 4: a build's peak memory does not grow with its number of prompts.

The same dry-run preference build (4 samples per prompt, every pair judged in both orders, each judgment with
its re-ask) runs as a `prefsynth build` subprocess for N and 4N prompts; the peak RSS of each build process may
differ by little. It is the process's own peak: `VmHWM` of /proc/self/status at exit, the high-water mark of
the process's own address space. Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries the parent's peak over
to a child at exec, so late in a full suite run (pytest at ~750 MB) both builds "peaked" at exactly pytest's
size; nor `os.wait4`'s, which includes the children it waited for. The records are streamed to the catalog in chunks of
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
# Runs `python -c CODE` with the process's own peak RSS (KB, VmHWM) written to the file in argv[1] at exit.
OWN_PEAK = """import atexit, sys
out = sys.argv.pop(1)
def write_peak():
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    open(out, "w").write(hwm.split()[1])
atexit.register(write_peak)
"""
# ... running `prefsynth build ...` in-process.
BUILD = OWN_PEAK + """from prefsynth.cli.main import main
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
        code = subprocess.call([sys.executable, "-c", BUILD, str(folder / "peak_kb"), "build", "c.yaml",
                                "--catalog", "c.duckdb", "--json", "--quiet"], cwd=folder, env=run_env, stdout=out,
                               stderr=err)
    assert code == 0, (folder / "err").read_text()[-3000:]
    return int((folder / "peak_kb").read_text()) / 1024, json.loads((folder / "out").read_text())


def growth(env: dict, tmp: Path, chunk: int) -> tuple[float, float]:
    small, s1 = peak_rss_mb(env, tmp / f"n-{chunk}", N, chunk)
    large, s4 = peak_rss_mb(env, tmp / f"4n-{chunk}", 4 * N, chunk)
    assert sum(s4["stats"]["judgments"].values()) == 4 * sum(s1["stats"]["judgments"].values()) > 0
    return small, large


def test_the_peak_is_the_processs_own_not_its_parents(tmp_path):
    """The measure itself: a child started by a process holding 300 MB reports its own few MB (ru_maxrss
    reported 300+: the case that made both builds peak at pytest's 750 MB late in a full suite run)."""
    held = bytearray(300 * 2**20)
    held[:: 4096] = b"\x01" * len(held[:: 4096])  # touch every page: resident
    subprocess.check_call([sys.executable, "-c", OWN_PEAK + "import json", str(tmp_path / "kb")])
    assert int((tmp_path / "kb").read_text()) / 1024 < 100
    del held


def test_peak_memory_stays_flat_from_n_to_4n_prompts(prefect_env, tmp_path):
    small, large = growth(prefect_env, tmp_path, chunk=100)
    assert large - small < 50, f"peak RSS {small:.0f} MB at {N} prompts, {large:.0f} MB at {4 * N}"


def test_one_chunk_for_the_whole_build_grows_with_it(prefect_env, tmp_path):
    """The control: with every prompt in one chunk the same builds' peaks grow with their size (so the test
    above measures something a held-in-memory build would fail)."""
    small, large = growth(prefect_env, tmp_path, chunk=10**6)
    assert large - small > 100, f"peak RSS {small:.0f} MB at {N} prompts, {large:.0f} MB at {4 * N}"
