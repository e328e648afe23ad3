"""The export-format registry (issue 15 item 5): every format states its kinds, schema, row query, label derivation
and version; `--format` offers exactly the registry; README's format table is the registry's."""

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.dataset import DatasetVersion
from prefsynth.schemas.process import LabelledSolution, StepLabel
from prefsynth.storage.formats.base import ExportError, ExportOptions
from prefsynth.storage.formats.registry import FORMATS, format_table, table_format
from prefsynth.storage.formats.stepwise import MATH_SHEPHERD, TRL_STEPWISE

README = Path(__file__).resolve().parents[2] / "README.md"
KINDS = {"preference", "stepwise", "rationale"}


def test_every_format_states_kinds_schema_query_derivation_and_version():
    assert list(FORMATS) == ["trl-preference", "trl-stepwise", "math-shepherd", "trl-sft", "hf"]
    for name, fmt in FORMATS.items():
        assert fmt.kinds and set(fmt.kinds) <= KINDS, name
        for kind, table in fmt.tables.items():
            assert table.kind == kind and callable(table.query) and callable(table.derive), (name, kind)
            schema = table.schema([])
            assert schema.names == table.columns() and len(schema) > 0
            # The version in the schema metadata is the one the manifest states (None: the format has none).
            meta = (schema.metadata or {}).get(b"prefsynth.format")
            assert (meta.decode() if meta else None) == table.version, (name, kind)
            assert table.format == (name if fmt.layout == "parquet" else table.format)


def test_format_versions_are_the_ones_exports_always_carried():
    versions = {(n, k): t.version for n, f in FORMATS.items() for k, t in f.tables.items()}
    assert versions == {
        ("trl-preference", "preference"): "trl-preference/2", ("trl-preference", "rationale"): None,
        ("trl-stepwise", "stepwise"): "trl-stepwise/2", ("math-shepherd", "stepwise"): "math-shepherd/2",
        ("trl-sft", "rationale"): None,
        ("hf", "preference"): "trl-preference/2", ("hf", "stepwise"): "trl-stepwise/2", ("hf", "rationale"): None,
    }
    # hf writes each kind in that kind's TRL format: the same table formats, not copies
    assert FORMATS["hf"].tables["stepwise"] is FORMATS["trl-stepwise"].tables["stepwise"]
    assert FORMATS["hf"].tables["rationale"] is FORMATS["trl-preference"].tables["rationale"]


def test_cli_format_choices_are_the_registry(tmp_path):
    export = typer.main.get_command(app).commands["export"]
    (param,) = [p for p in export.params if p.name == "fmt"]
    assert [choice.value for choice in param.type_descriptor.annotation] == list(FORMATS)
    assert all(name in param.help for name in FORMATS)
    result = CliRunner().invoke(app, ["export", "d", "--format", "csv", "--out", str(tmp_path)])
    assert result.exit_code == 2 and all(f"'{name}'" in result.stderr for name in FORMATS)


def test_readme_format_table_is_the_registry():
    assert format_table() in README.read_text(), "README's export-format table differs from format_table():\n" + (
        format_table())


def _version(kind: str) -> DatasetVersion:
    return DatasetVersion.model_validate({
        "name": "d", "version": 3, "kind": kind, "config": {}, "stats": {}, "row_count": 0, "content_hash": "h",
        "config_hash": "c", "code_version": "x", "created_at": "2026-11-30T00:00:00", "flow_run_id": None,
        "parent_version": None})


def test_a_format_refuses_kinds_it_does_not_accept_and_unknown_names():
    with pytest.raises(ExportError, match=r"d@3 is a stepwise dataset; trl-sft exports rationale datasets"):
        table_format(_version("stepwise"), "trl-sft")
    with pytest.raises(ExportError, match=r"unknown --format 'csv' \(known: trl-preference, trl-stepwise"):
        table_format(_version("preference"), "csv")
    assert table_format(_version("rationale"), "hf") is FORMATS["trl-preference"].tables["rationale"]


def test_stepwise_label_derivation_needs_no_catalog():
    """The derivation is a plain function of the queried rows: steps 0–1 estimated right, step 2 an error, step 3
    never estimated. Truncation keeps steps up to the first error in both formats."""
    labels = (StepLabel(solution_id="s", step_index=1, method="omegaprm", n_correct=4, n_rollouts=8),
              StepLabel(solution_id="s", step_index=2, method="omegaprm", n_correct=0, n_rollouts=8))
    row = (LabelledSolution.create("s", "omegaprm", 4, labels), "p", "Q?", ["a", "b", "c", "d"])
    (full,) = TRL_STEPWISE.derive([row], ExportOptions())
    assert full["labels"] == [True, True, False, False] and full["first_error"] == 2
    assert full["estimated"] == [False, True, True, False] and full["mc_values"][3] is None
    (cut,) = TRL_STEPWISE.derive([row], ExportOptions(truncate=True))
    assert cut["completions"] == ["a", "b", "c"] and cut["labels"] == [True, True, False]
    (shepherd,) = MATH_SHEPHERD.derive([row], ExportOptions(truncate=True))
    assert shepherd["label"] == "Q? a +\nb +\nc -\n" and shepherd["input"] == "Q? a ки\nb ки\nc ки\n"
    assert TRL_STEPWISE.manifest(ExportOptions(0.25, True)) == {"label_threshold": 0.25,
                                                                "truncate_after_first_error": True}
