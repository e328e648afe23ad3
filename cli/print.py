"""Human summaries of dataset versions, as `build`, `label-steps`, `rationalize` and `show` print them."""

from __future__ import annotations

from rich.table import Table

from .app import out
from ..flows.report_summary import verifier_rows


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
    st = s["stats"]
    table = _table(f"{s['name']} v{s['version']}  ({s['rows']} pairs)")
    table.add_row("prompts", str(st["prompts"]))
    table.add_row("samples", counts(st["samples"]))
    table.add_row("judgments", counts(st["judgments"]) + f"  (re-asked {st['reasked']})")
    if "agreement" in st:  # builds from before juries have no agreement figures
        a = st["agreement"]
        table.add_row("jury", f"{len(st['judges'])} judge(s), {st['pairing']}; Fleiss κ {a['fleiss_kappa']}, "
                      f"Krippendorff α {a['alpha_nominal']} (winner) / {a['alpha_interval']} (margin)")
    f = st["funnel"]
    steps = "; ".join(
        f"{x['filter']}: -{x['dropped']} " + counts(x["reasons"])
        + (f", changed {sum(x['changed'].values())}" if x.get("changed") else "")  # flips, re-counts, weights
        for x in f["steps"]
    )
    table.add_row("pairs", f"{f['pairs_in']} in → {steps} → {f['pairs_out']} kept")
    for label, text in verifier_rows(st.get("verifier")):  # a jury with a verifier juror
        table.add_row(label, text)
    table.add_row("engine calls", f"{st['engine_calls']} (cache hits {st['cache_hits']}, errors {st['engine_errors']}"
                  f", retried attempts {st.get('engine_retries', 0)})")
    table.add_row("tokens", f"prompt {st['prompt_tokens']}, completion {st['completion_tokens']}"
                  + (f"; cost {st['cost']:g}" if st.get("cost") else ""))
    if "skipped_rows" in st:  # prompts.on_error: skip
        sk = st["skipped_rows"]
        table.add_row("skipped rows", f"{sk['count']}: " + "; ".join(sk["rows"][:10]) + (" …" if sk["count"] > 10 else ""))
    table.add_row("wall time", f"{st['wall_time_s']:.1f} s")
    table.add_row("content hash", s["content_hash"][:16])
    table.add_row("parent", f"v{s['parent_version']}" if s["parent_version"] else "none")
    out.print(table)


def print_stepwise_summary(s: dict) -> None:
    """A stepwise (process-label) version: problems, solutions, labelled steps, rounds."""
    st = s["stats"]
    table = _table(f"{s['name']} v{s['version']}  ({s['rows']} labelled solutions)")
    table.add_row("problems", f"{st['problems']} ({st['method']})")
    table.add_row("solutions", counts(st["solutions"]))
    table.add_row("labels", f"{st['labelled_steps']} labelled steps, {st['with_error']} solutions with a located error")
    table.add_row("engine calls", f"{st['engine_calls']} in {st['rounds']} rounds (cache hits {st['cache_hits']}, "
                  f"errors {st['engine_errors']})")
    table.add_row("tokens", f"prompt {st['prompt_tokens']}, completion {st['completion_tokens']}")
    table.add_row("wall time", f"{st['wall_time_s']:.1f} s")
    table.add_row("content hash", s["content_hash"][:16])
    out.print(table)


def print_stats(s: dict) -> None:
    """A version summary for any kind: the headline counts of its build stats."""
    table = _table(f"{s['name']} v{s['version']}  ({s['rows']} rows)")
    for key, value in s["stats"].items():
        text = counts(value) if isinstance(value, dict) else str(value)
        table.add_row(key.replace("_", " "), text)
    table.add_row("content hash", s["content_hash"][:16])
    out.print(table)


PRINTERS = {"preference": print_summary, "stepwise": print_stepwise_summary}


def print_version(manifest: dict) -> None:
    """The summary of a version of any kind."""
    PRINTERS.get(manifest["kind"], print_stats)(manifest)
