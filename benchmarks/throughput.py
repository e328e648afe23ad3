"""Orchestration throughput: a whole preference build on the zero-latency dry-run engine.

What it measures: everything prefsynth itself adds around the model — reading prompts, building requests, the
call cache (hashing every request, DuckDB look-ups and writes), Prefect batch tasks, parsing, pairing, jury
aggregation, filters, and the version commit. The dry-run engine answers instantly (its own cost — hashing each
request to derive a deterministic reply — is included and reported as part of the calls).

Default workload: 10,000 prompts × 4 samples, all pairs judged in both orders = 120,000 judgments. The dry-run
judge answers free text without a verdict, so every judgment also gets its constrained re-ask: 250,000 engine
calls in all. Targets (issue 13 item 4): ≥ 2,000 judgments/s end to end (flow start → version committed) on 2
cores; peak RSS flat in the number of prompts — at 10× (`--prompts 100000`, 1.2 M judgments) ≤ 2 GB and no
worse than at 1×. The build streams its records to the catalog in chunks of `--chunk-prompts` prompts. Prefect
start-up (the temporary local server) is reported separately.

    .venv/bin/python benchmarks/throughput.py                       # the default workload
    .venv/bin/python benchmarks/throughput.py --prompts 100000      # 10×
    .venv/bin/python benchmarks/throughput.py --prompts 1000        # a quick run
    .venv/bin/py-spy record -r 20 -f speedscope -o prof.json --threads -- .venv/bin/python benchmarks/throughput.py

Results go to benchmarks/results/throughput.json (time per stage, judgments/s, peak RSS, machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent

CONFIG = """name: throughput
prompts:
  path: prompts.jsonl
engines:
  zero:
    kind: dry_run
policies:
  - engine: zero
    n: {samples}
    max_tokens: 32
judge:
  engine: zero
filters: [position_swap, drop_ties]
batch_size: {batch_size}
batches_in_flight: {in_flight}
"""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=10_000, help="prompts (default 10,000)")
    ap.add_argument("--samples", type=int, default=4, help="samples per prompt (default 4 → 6 pairs, 12 judgments)")
    ap.add_argument("--batch-size", type=int, default=2000, help="requests per engine task (default 2000)")
    ap.add_argument("--batches-in-flight", type=int, default=2,
                    help="engine tasks at once (default 2: the flow saves one batch while the next runs)")
    ap.add_argument("--chunk-prompts", type=int, default=None,
                    help="prompts per chunk ($PREFSYNTH_CHUNK_PROMPTS; default: the flow's CHUNK_PROMPTS)")
    ap.add_argument("--rerun", action="store_true", help="also time a second build of the same config (all cache hits)")
    ap.add_argument("--workdir", type=Path, default=None, help="where prompts, config and catalog go (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "throughput.json")
    return ap.parse_args(argv)


class StageClock:
    """Wall time of named stages: progress stages (engine calls) and wrapped flow steps."""

    def __init__(self):
        self.spans: dict[str, list[float]] = defaultdict(lambda: [float("inf"), 0.0, 0.0])  # first, last, total
        self.first_call: float | None = None
        self._open: dict[str, float] = {}
        self._lock = threading.Lock()
        self.current: list[str] = []
        self.rss: dict[str, float] = {}
        self.hwm_after: dict[str, float] = {}  # the process's peak RSS so far, at the end of each wrapped step
        self.duckdb_at_peak: dict[str, float] = {}  # DuckDB's own memory (MB by tag) when RSS peaked
        self.duckdb_peak: dict[str, float] = {}  # each tag's own peak (MB)
        self.duckdb = None  # a cursor on the build's database (set by main): a connection of its own
        self.wal: Path | None = None  # the catalog's write-ahead log (set by main)
        self.wal_peak_mb = 0.0  # its largest size: data written but not checkpointed, which DuckDB holds in memory

    # prefsynth.progress.Listener
    def start(self, stage: str, total: int) -> None:
        with self._lock:
            self._open[stage] = time.perf_counter()

    def advance(self, stage: str, n: int = 1, **counters) -> None:
        pass

    def finish(self, stage: str) -> None:
        with self._lock:
            self._add("calls: " + stage, self._open.pop(stage), time.perf_counter())

    def _add(self, name: str, t0: float, t1: float) -> None:
        span = self.spans[name]
        span[0], span[1], span[2] = min(span[0], t0), max(span[1], t1), span[2] + (t1 - t0)

    def wrap(self, module, attr: str, label: str) -> None:
        fn = getattr(module, attr)

        def timed(*a, **kw):
            t0 = time.perf_counter()
            if self.first_call is None:
                self.first_call = t0
            self.current.append(label)
            try:
                return fn(*a, **kw)
            finally:
                self.current.pop()
                with self._lock:
                    self._add(label, t0, time.perf_counter())
                    self.hwm_after[label] = own_peak_mb()  # which step raised the true peak (the sampler may miss it)

        setattr(module, attr, timed)

    def sample_rss(self, stop: threading.Event, every_s: float = 0.1) -> None:
        """Peak resident memory (MB) seen while each wrapped step ran (sampled from /proc/self/statm), and how
        much of it DuckDB said it held (`duckdb_memory()`, read every second)."""
        page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        peak, ticks = 0.0, 0
        while not stop.wait(every_s):
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page_mb
            label = self.current[-1] if self.current else "outside the flow steps"
            self.rss[label] = max(self.rss.get(label, 0.0), rss)
            ticks += 1
            if self.wal is not None and self.wal.exists():
                self.wal_peak_mb = max(self.wal_peak_mb, self.wal.stat().st_size / 2**20)
            if self.duckdb is not None and (rss > peak or ticks % int(1 / every_s) == 0):
                tags = self._duckdb_memory()
                for tag, mb in tags.items():
                    self.duckdb_peak[tag] = max(self.duckdb_peak.get(tag, 0.0), mb)
                if rss > peak:
                    self.duckdb_at_peak = tags
            peak = max(peak, rss)

    def _duckdb_memory(self) -> dict[str, float]:
        rows = self.duckdb.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory() "
                                   "WHERE memory_usage_bytes > 0").fetchall()
        tags = {tag: round(b / 2**20, 1) for tag, b in rows}
        tags["total"] = round(sum(b for _, b in rows) / 2**20, 1)
        return tags



def write_inputs(workdir: Path, args) -> Path:
    with open(workdir / "prompts.jsonl", "w") as f:
        for i in range(args.prompts):
            f.write(json.dumps({"prompt": f"Question {i}: explain topic number {i} in a few sentences."}) + "\n")
    config = workdir / "throughput.yaml"
    config.write_text(CONFIG.format(samples=args.samples, batch_size=args.batch_size, in_flight=args.batches_in_flight))
    return config


def main(argv=None) -> dict:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="prefsynth-throughput-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # A fresh Prefect home: every run starts its own temporary server on an empty database.
    os.environ["PREFECT_HOME"] = str(workdir / "prefect-home")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # first use of a home: > 20 s
    config_path = write_inputs(workdir, args)
    if args.chunk_prompts:
        os.environ["PREFSYNTH_CHUNK_PROMPTS"] = str(args.chunk_prompts)  # read when the flow module is imported
    # create the Prefect home's database first (what every later run finds): start-up is then the daily one
    import subprocess

    subprocess.run([sys.executable, "-c", "from prefect import flow\nflow(lambda: 1, name='noop')()"], check=True,
                   capture_output=True, env=dict(os.environ))
    catalog = workdir / "catalog.duckdb"
    catalog.unlink(missing_ok=True)

    t_import = time.perf_counter()
    from prefsynth import progress
    from prefsynth.config.load import load_config
    from prefsynth.config.preference import PreferenceBuildConfig
    from prefsynth.flows import preference
    from prefsynth.runtime import build
    from prefsynth.runtime.build import summary as summary_of
    from prefsynth.storage.catalog import open_waiting
    import_s = time.perf_counter() - t_import

    runs = []
    for attempt in range(2 if args.rerun else 1):
        clock = StageClock()
        steps = [(preference, a) for a in ("read_prompt_input", "sample_and_judge", "filter_and_stage")]
        steps.append((build.BuildContext, "commit"))
        originals = [(owner, attr, getattr(owner, attr)) for owner, attr in steps]
        for owner, attr in steps:
            clock.wrap(owner, attr, attr)
        cfg = load_config(config_path, PreferenceBuildConfig)
        progress.install(clock)
        stop = threading.Event()
        sampler = threading.Thread(target=clock.sample_rss, args=(stop,), daemon=True)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        try:
            with open_waiting(catalog) as held:  # as the CLI does: the catalog is held for the whole build
                clock.duckdb = held.con.cursor()
                clock.wal = catalog.with_name(catalog.name + ".wal")
                sampler.start()
                try:
                    summary = summary_of(preference.preference_build(cfg, str(catalog)))
                finally:  # the sampler reads the catalog: stopped before it closes
                    stop.set()
                    sampler.join()
        finally:
            progress.install(None)
            for owner, attr, fn in originals:
                setattr(owner, attr, fn)
        t_end = time.perf_counter()
        runs.append(report(clock, summary, t0, t_end))
        runs[-1]["load_avg_before"] = [round(x, 2) for x in load_before]
        print(json.dumps(runs[-1], indent=2))

    result = {
        "benchmark": "throughput",
        "workload": {"prompts": args.prompts, "samples_per_prompt": args.samples, "batch_size": args.batch_size,
                     "batches_in_flight": args.batches_in_flight, "engine": "dry_run (zero latency)"},
        "import_s": round(import_s, 2),
        "runs": runs,
        "peak_rss_mb": own_peak_mb(),
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    first = runs[0]
    print(f"{first['judgments']} judgments in {first['flow_s']:.1f} s (flow start → commit): "
          f"{first['judgments_per_s']:.0f} judgments/s; Prefect start-up {first['prefect_startup_s']:.1f} s; "
          f"peak RSS {result['peak_rss_mb']:.0f} MB; wrote {args.out}", file=sys.stderr)
    return result


def report(clock: StageClock, summary: dict, t0: float, t_end: float) -> dict:
    st = summary["stats"]
    flow_start = clock.first_call or t0
    commit_end = clock.spans["commit"][1]
    stages = {name: round(span[2], 2) for name, span in sorted(clock.spans.items(), key=lambda kv: kv[1][0])}
    judgments = sum(st["judgments"].values())
    flow_s = commit_end - flow_start
    return {
        "judgments": judgments,
        "engine_calls": st["engine_calls"],
        "cache_hits": st["cache_hits"],
        "rows": summary["rows"],
        "content_hash": summary["content_hash"],
        "prefect_startup_s": round(flow_start - t0, 2),
        "flow_s": round(flow_s, 2),
        "after_commit_s": round(t_end - commit_end, 2),
        "total_s": round(t_end - t0, 2),
        "judgments_per_s": round(judgments / flow_s, 1),
        "stages_s": stages,
        "peak_rss_mb_by_step": {k: round(v) for k, v in clock.rss.items()},
        "peak_rss_mb_after_step": clock.hwm_after,
        "duckdb_mb_at_peak_rss": clock.duckdb_at_peak,
        "duckdb_peak_mb_by_tag": clock.duckdb_peak,
        "wal_peak_mb": round(clock.wal_peak_mb, 1),
    }


def own_peak_mb() -> float:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space (getrusage's ru_maxrss
    starts from the parent's peak at exec: tests/reliability/test_bounded_memory.py)."""
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return round(int(hwm.split()[1]) / 1024, 1)


def machine() -> dict:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?") \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_at_end": load}


if __name__ == "__main__":
    main()
