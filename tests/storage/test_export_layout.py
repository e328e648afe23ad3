"""Exports of one version to one --out folder: each format writes only its own folder, OUT/NAME/vN/FORMAT/.

Review found `trl-preference` and `trl-sft` of a rationale version (and `trl-stepwise` and `math-shepherd` of a
stepwise one) both wrote OUT/NAME/vN/train.parquet, and the hf layout deleted OUT/NAME/vN whole: exporting a
second format silently destroyed the first. (hf next to a Parquet format: tests/storage/test_hf_export.py.)
"""

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.formats.registry import FORMATS
from prefsynth.storage.versions import commit_version


def export(catalog, name: str, fmt: str, out) -> None:
    result = CliRunner().invoke(app, ["export", name, "--format", fmt, "--out", str(out), "--catalog", str(catalog)])
    assert result.exit_code == 0, result.stderr + result.stdout


@pytest.fixture
def catalog(tmp_path):
    """A rationale and a stepwise version (no rows: which file survives is the point, not what it holds)."""
    path = tmp_path / "c.duckdb"
    with Catalog(path) as cat:
        for kind in ("rationale", "stepwise"):
            commit_version(cat, name=kind, kind=kind, config={}, records={}, row_ids=[], decisions=[], stats={})
    return path


@pytest.mark.parametrize("name, formats", [("rationale", ["trl-preference", "trl-sft"]),
                                           ("stepwise", ["trl-stepwise", "math-shepherd"])])
def test_two_formats_of_one_version_in_one_out_folder_both_stay(catalog, tmp_path, name, formats):
    out = tmp_path / "out"
    for fmt in formats:
        export(catalog, name, fmt, out)
    for fmt in formats:
        folder = out / name / "v1" / fmt
        assert json.loads((folder / "manifest.json").read_text())["format"] == fmt
        assert pq.read_table(folder / "train.parquet").column_names == FORMATS[fmt].tables[name].columns()
        assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "train.parquet"]


def test_re_exporting_a_format_replaces_only_that_format(catalog, tmp_path):
    out = tmp_path / "out"
    export(catalog, "stepwise", "trl-stepwise", out)
    export(catalog, "stepwise", "math-shepherd", out)
    other = {p.name: p.read_bytes() for p in (out / "stepwise" / "v1" / "math-shepherd").iterdir()}
    (out / "stepwise" / "v1" / "trl-stepwise" / "stale.parquet").write_bytes(b"from an earlier export")
    export(catalog, "stepwise", "trl-stepwise", out)
    assert sorted(p.name for p in (out / "stepwise" / "v1" / "trl-stepwise").iterdir()) == [
        "manifest.json", "train.parquet"]
    assert {p.name: p.read_bytes() for p in (out / "stepwise" / "v1" / "math-shepherd").iterdir()} == other
    assert sorted(p.name for p in (out / "stepwise" / "v1").iterdir()) == ["math-shepherd", "trl-stepwise"]
