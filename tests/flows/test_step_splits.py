"""Two label-steps builds on one catalog that split the same solution differently (`step_separator`): each
version exports exactly the steps its own build labelled, also when re-exported after the other build.

Found by review: steps were stored by (solution_id, idx) and a second insert of a key was ignored, so the second
build's export read a mix of both splits (['a\\nb\\n\\n', 'c\\nd', '\\nc\\n', 'd'] with 4 labels where its build
labelled ['a\\n', 'b\\n', '\\nc\\n', 'd']), and once it had run the first version's export showed 4 steps too.
"""

import json

import pyarrow.parquet as pq
import pytest

from prefsynth.schemas.engine import Completion, DryRunEngineConfig, GenRequest, GenResult
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.stepwise import stepwise_rows
from prefsynth.storage.versions import get_version
from prefsynth.tasks.steps import split_steps
from tests.builds import cli

pytestmark = pytest.mark.usefixtures("prefect_harness")

TEXT = "a\nb\n\nc\nd"  # the reviewer's solution: no answer marker, so every rollout is known wrong (unparseable)
DEFAULT, LINES, AFTER_B = r"\n\s*\n", r"\n", r"(?<=b\n)"


class OneText:
    """The policy always writes TEXT: from the empty prefix all of it, from a prefix of TEXT the rest."""

    name = "scripted:one-text"
    concurrency = 1000

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        return [self._one(r) for r in requests]

    def _one(self, req: GenRequest) -> GenResult:
        prefix = req.prompt.split("\n\nAnswer:\n", 1)[1]
        rest = TEXT[len(prefix):] if TEXT.startswith(prefix) else ""
        return GenResult(completions=[Completion(text=rest, completion_tokens=3)] * req.n)


@pytest.fixture
def folder(tmp_path, engines):
    (tmp_path / "p.jsonl").write_text(json.dumps({"question": "toy", "answer": "1"}) + "\n")
    engines.serve(DryRunEngineConfig(model="sim"), OneText())
    return tmp_path


def label_steps(folder, separator: str) -> dict:
    config = {"name": "splits", "problems": {"path": "p.jsonl"}, "engines": {"sim": {"kind": "dry_run", "model": "sim"}},
              "policy": {"engine": "sim"}, "method": "math_shepherd", "solutions_per_problem": 1,
              "math_shepherd": {"n": 2, "step_separator": separator}}
    path = folder / f"splits-{abs(hash(separator))}.yaml"
    path.write_text(json.dumps(config))
    return json.loads(cli("label-steps", str(path), "--catalog", str(folder / "c.duckdb"), "--json"))


def stored_steps(folder, ref: str) -> list[tuple[list[str], int]]:
    """(step texts, number of labels) per row of a version, as every export reads them."""
    with Catalog(folder / "c.duckdb") as cat:
        return [(steps, len(row.labels)) for row, _pid, _q, steps in stepwise_rows(cat, get_version(cat, ref))]


def exported(folder, ref: str, out: str) -> list[dict]:
    cli("export", ref, "--format", "trl-stepwise", "--out", str(folder / out), "--catalog", str(folder / "c.duckdb"))
    (path,) = (folder / out).rglob("*.parquet")
    return pq.read_table(path).to_pylist()


def test_each_version_exports_the_steps_its_build_labelled(folder):
    assert split_steps(TEXT, DEFAULT) == ["a\nb\n\n", "c\nd"]
    assert split_steps(TEXT, LINES) == ["a\n", "b\n", "\nc\n", "d"]
    label_steps(folder, DEFAULT)
    label_steps(folder, LINES)

    assert stored_steps(folder, "splits@2") == [(["a\n", "b\n", "\nc\n", "d"], 4)]
    assert stored_steps(folder, "splits@1") == [(["a\nb\n\n", "c\nd"], 2)]  # re-read after the second build
    (second,) = exported(folder, "splits@2", "v2")
    (first,) = exported(folder, "splits@1", "v1")
    assert second["completions"] == ["a", "b", "c", "d"] and len(second["labels"]) == 4
    assert first["completions"] == ["a\nb", "c\nd"] and len(first["labels"]) == 2


def test_same_labels_on_another_split_are_another_row(folder):
    """Both splits have two steps and (every rollout wrong) the same counts: still two different rows, each
    version with its own steps, and the two versions' content hashes differ."""
    assert split_steps(TEXT, AFTER_B) == ["a\nb\n", "\nc\nd"]
    one = label_steps(folder, DEFAULT)
    two = label_steps(folder, AFTER_B)

    assert stored_steps(folder, "splits@2") == [(["a\nb\n", "\nc\nd"], 2)]
    assert stored_steps(folder, "splits@1") == [(["a\nb\n\n", "c\nd"], 2)]
    assert one["content_hash"] != two["content_hash"]
