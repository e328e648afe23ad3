"""Human summaries of dataset versions, as `build`, `label-steps`, `rationalize` and `show` print them."""

from __future__ import annotations

from rich.table import Table

from .app import out
from ..reports.summary import verifier_rows
from ..schemas.stats import load_stats


def counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"


def _table(title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    return table


def print_summary(s: dict) -> None:
    """A preference version: samples, judgments, jury agreement, the filter funnel, the verifier's checks and
    each LLM juror against them (with a verifier juror), calls and tokens."""
    st = load_stats("preference", s["stats"])
    table = _table(f"{s['name']} v{s['version']}  ({s['rows']} pairs)")
    table.add_row("prompts", str(st.prompts))
    table.add_row("samples", counts(st.samples))
    table.add_row("judgments", counts(st.judgments) + f"  (re-asked {st.reasked})")
    if (a := st.agreement) is not None:  # builds from before juries have no agreement figures
        table.add_row("jury", f"{len(st.judges or {})} judge(s), {st.pairing}; Fleiss κ {a.fleiss_kappa}, "
                      f"Krippendorff α {a.alpha_nominal} (winner) / {a.alpha_interval} (margin)")
    f = st.funnel
    steps = "; ".join(
        f"{x.filter}: -{x.dropped} " + counts(x.reasons)
        + (f", changed {sum(x.changed.values())}" if x.changed else "")  # flips, re-counts, weights
        for x in f.steps
    )
    table.add_row("pairs", f"{f.pairs_in} in → {steps} → {f.pairs_out} kept")
    for label, text in verifier_rows(st.verifier):  # a jury with a verifier juror
        table.add_row(label, text)
    table.add_row("engine calls", f"{st.engine_calls} (cache hits {st.cache_hits}, errors {st.engine_errors}"
                  f", retried attempts {st.engine_retries or 0})")
    table.add_row("tokens", f"prompt {st.prompt_tokens}, completion {st.completion_tokens}"
                  + (f"; cost {st.cost:g}" if st.cost else ""))
    if (sk := st.skipped_rows) is not None:  # prompts.on_error: skip
        table.add_row("skipped rows", f"{sk.count}: " + "; ".join(sk.rows[:10]) + (" …" if sk.count > 10 else ""))
    table.add_row("wall time", f"{st.wall_time_s:.1f} s")
    table.add_row("content hash", s["content_hash"][:16])
    table.add_row("parent", f"v{s['parent_version']}" if s["parent_version"] else "none")
    out.print(table)


def print_stepwise_summary(s: dict) -> None:
    """A stepwise (process-label) version: problems, solutions, labelled steps, rounds."""
    st = load_stats("stepwise", s["stats"])
    table = _table(f"{s['name']} v{s['version']}  ({s['rows']} labelled solutions)")
    table.add_row("problems", f"{st.problems} ({st.method})")
    table.add_row("solutions", counts(st.solutions))
    table.add_row("labels", f"{st.labelled_steps} labelled steps, {st.with_error} solutions with a located error")
    table.add_row("engine calls", f"{st.engine_calls} in {st.rounds} rounds (cache hits {st.cache_hits}, "
                  f"errors {st.engine_errors})")
    table.add_row("tokens", f"prompt {st.prompt_tokens}, completion {st.completion_tokens}")
    table.add_row("wall time", f"{st.wall_time_s:.1f} s")
    table.add_row("content hash", s["content_hash"][:16])
    out.print(table)


def print_stats(s: dict) -> None:
    """A rationale version (`rationalize`, whose summary names no kind, and `show`): every figure of its build
    stats, the kind's own first, then calls and wall time (a format-0 version: by name, as it always showed)."""
    table = _table(f"{s['name']} v{s['version']}  ({s['rows']} rows)")
    stats = load_stats(s.get("kind", "rationale"), s["stats"])
    figures = stats.display_items()
    if stats.stats_version is None:  # format 0 is only ever read back from the catalog: its keys as stored, sorted
        figures = sorted(figures)
    for key, value in figures:
        text = counts(value) if isinstance(value, dict) else str(value)
        table.add_row(key.replace("_", " "), text)
    table.add_row("content hash", s["content_hash"][:16])
    out.print(table)


PRINTERS = {"preference": print_summary, "stepwise": print_stepwise_summary}


def print_version(manifest: dict) -> None:
    """The summary of a version of any kind."""
    PRINTERS.get(manifest["kind"], print_stats)(manifest)
