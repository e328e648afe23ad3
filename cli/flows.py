"""The commands that run a flow: build, label-steps, rationalize, eval-judge.

Each takes the same run options (cli/options.py: `--catalog --json --quiet --wait --runner --ray-address`),
loads its config and checks its input before anything starts (bad input exits 2 naming the file, line and
field), then runs its Prefect flow with progress bars and prints a summary, or JSON with `--json`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

from .app import app, out  # first: sets Prefect's env

import typer  # noqa: E402

from ..config.load import load_config  # noqa: E402
from ..config.preference import PreferenceBuildConfig  # noqa: E402
from .options import RunOptions, run_options  # noqa: E402
from .print import print_stats, print_stepwise_summary, print_summary  # noqa: E402


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


OnErrorOpt = typer.Option(
    OnError.fail, "--on-error", help="A bad line stops the command, nothing written (fail), or is left out and "
    "listed as FILE:LINE: field: problem (skip)")


@app.command()
@run_options
def build(
    config: Path = typer.Argument(..., help="YAML build config (see examples/quickstart.yaml)"),
    run: RunOptions = RunOptions(),
) -> None:
    """Run a preference build: sample, judge in both orders, pair, filter, and write a new dataset version."""
    from ..flows.preference import preference_build, read_prompts

    def load():
        cfg = load_config(config, PreferenceBuildConfig)
        read_prompts(cfg)
        return cfg

    run.run(load, preference_build, print_summary)


@app.command("label-steps")
@run_options
def label_steps(
    config: Path = typer.Argument(..., help="YAML config (see examples/gsm8k_omegaprm.yaml)"),
    run: RunOptions = RunOptions(),
) -> None:
    """Label reasoning steps for process reward models (OmegaPRM or Math-Shepherd) into a stepwise version."""
    from ..config.process import load_process_config
    from ..flows.process_labels import process_labels, read_problems

    def load():
        cfg = load_process_config(config)
        read_problems(cfg)
        return cfg

    run.run(load, process_labels, print_stepwise_summary)


@app.command()
@run_options
def rationalize(
    config: Path = typer.Argument(..., help="YAML config (see examples/rationalize.yaml)"),
    run: RunOptions = RunOptions(),
) -> None:
    """Self-rationalization: sample K judgments per item, pair right with wrong rationales (a rationale version)."""
    from ..config.rationale import load_rationale_config
    from ..flows.rationalize import rationalize as rationalize_flow
    from ..flows.rationalize import read_inputs

    def load():
        cfg = load_rationale_config(config)
        read_inputs(cfg)
        return cfg

    run.run(load, rationalize_flow, print_stats)


@app.command("eval-judge")
@run_options
def eval_judge(
    config: Path = typer.Argument(..., help="YAML with engines and a judge or jury (a build config works too)"),
    gold: Path = typer.Option(..., "--gold", help="JSONL: prompt, response_a, response_b, label (A>B|B>A), source"),
    fit: Optional[Path] = typer.Option(
        None, "--fit", help="Write CONFIG with `aggregation: fitted` (the logistic jury fitted on every gold item) "
        "to this YAML file; a build uses it as is", show_default=False),
    folds: int = typer.Option(5, "--folds", min=2, help="k of the k-fold cross-validation of the fitted jury"),
    on_error: OnError = OnErrorOpt,
    run: RunOptions = RunOptions(),
) -> None:
    """Measure judges against gold labels: double-order accuracy, swap inconsistency, κ, length bias, filters,
    and each aggregation's precision/coverage frontier with a cross-validated fitted jury (`--fit` writes it)."""
    from ..storage.inputs import InputError
    from ..tasks.judge.eval_fit import write_fitted_config
    from ..config.preference import load_eval_config
    from ..reports.judge_eval import print_eval_report
    from ..flows.evaluate_judge import evaluate_judge, gold_items

    def load():
        cfg = load_eval_config(config)
        gold_items(gold, [] if on_error == OnError.skip else None)  # a bad gold file fails before any model starts
        return cfg

    def evaluate(flow, cfg, catalog_file: str) -> dict:
        report = flow(cfg, catalog_file, gold_path=str(gold), folds=folds, on_error=on_error.value)
        if fit:
            try:
                report["fit_written"] = str(write_fitted_config(config, fit, report, str(gold)))
            except ValueError as exc:
                raise InputError(fit, None, None, str(exc)) from None
        return report

    def show(report: dict) -> None:
        print_eval_report(report, out=out)
        if report.get("skipped_gold"):
            lines = len({s.split(": ", 1)[0] for s in report["skipped_gold"]})
            out.print(f"skipped {lines} bad gold line(s):\n" + "\n".join(report["skipped_gold"]),
                      highlight=False, soft_wrap=True)
        if "fit_written" in report:
            out.print(f"wrote {report['fit_written']} (aggregation: fitted; a build uses it as is)")

    run.run(load, evaluate_judge, show, call=evaluate)
