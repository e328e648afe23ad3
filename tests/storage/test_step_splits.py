"""Steps stored per split (m011_step_splits): each labelling row reads the steps of its own split, and rows
labelled before the migration read the steps they always read."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from prefsynth.schemas.dataset import DatasetVersion
from prefsynth.schemas.process import LabelledSolution, Problem, Solution, StepLabel, split_id
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.migrations import MIGRATIONS
from prefsynth.storage.stepwise import step_label_rows, stepwise_rows
from prefsynth.tasks.steps import is_default_split, make_steps, split_steps, steps_from_texts

TEXT = "a\nb\n\nc\nd"
PROBLEM = Problem.create("toy", "1")
SOLUTION = Solution.create(PROBLEM.id, "sim", TEXT, None, "unparseable")


def version(name: str, n: int = 1) -> DatasetVersion:
    return DatasetVersion(name=name, version=n, kind="stepwise", config={}, config_hash="", code_version="",
                          parent_version=None, row_count=1, content_hash="", stats={},
                          created_at=datetime.now(timezone.utc))


def labels(n_steps: int) -> tuple[StepLabel, ...]:
    return tuple(StepLabel(solution_id=SOLUTION.id, step_index=i, method="math_shepherd", n_correct=0, n_rollouts=2)
                 for i in range(n_steps))


def old_catalog(path) -> tuple[str, str]:
    """A catalog as the code before m011 left it after the bug: two versions of one solution's labels, on the
    default split (2 steps) and on single lines (4 steps), whose steps were kept by (solution_id, idx) as a mix."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)")
    for name, sql in MIGRATIONS[: [n for n, _ in MIGRATIONS].index("m010_call_keys") + 1]:
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, now())", [name])
    con.execute("INSERT INTO problems VALUES (?, 'toy', '1', '')", [PROBLEM.id])
    con.execute("INSERT INTO solutions VALUES (?, ?, 'sim', ?, NULL, false, 'unparseable')",
                [SOLUTION.id, PROBLEM.id, TEXT])
    for i, (text, start, end) in enumerate([("a\nb\n\n", 0, 5), ("c\nd", 5, 8), ("\nc\n", 4, 7), ("d", 7, 8)]):
        con.execute("INSERT INTO steps VALUES (?, ?, ?, ?, ?)", [SOLUTION.id, i, text, start, end])
    ids = []
    for name, n in (("two", 2), ("four", 4)):
        row = LabelledSolution.create(SOLUTION.id, "math_shepherd", n, labels(n))
        for lb in row.labels:
            con.execute("INSERT INTO step_labels VALUES (?, ?, ?, 'math_shepherd', 0, 2, NULL, NULL)",
                        [row.id, SOLUTION.id, lb.step_index])
        con.execute("INSERT INTO dataset_rows VALUES (?, 1, 0, ?)", [name, row.id])
        ids.append(row.id)
    con.close()
    return ids[0], ids[1]


def test_rows_labelled_before_the_migration_read_the_steps_they_always_read(tmp_path):
    two, four = old_catalog(tmp_path / "old.duckdb")
    with Catalog(tmp_path / "old.duckdb") as cat:
        mix = ["a\nb\n\n", "c\nd", "\nc\n", "d"]  # what every export of these versions read before m011
        ((row, pid, question, steps),) = stepwise_rows(cat, version("four"))
        assert (row.id, pid, question, steps, row.split_id) == (four, PROBLEM.id, "toy", mix, None)
        assert [s for _, _, _, s in stepwise_rows(cat, version("two"))] == [mix]
        assert cat.query("SELECT DISTINCT split_id FROM steps") == [("",)]


def test_a_new_split_of_an_old_solution_is_stored_beside_the_old_steps(tmp_path):
    old_catalog(tmp_path / "old.duckdb")
    with Catalog(tmp_path / "old.duckdb") as cat:
        steps = make_steps(SOLUTION.id, TEXT, r"\n")
        row = LabelledSolution.create(SOLUTION.id, "math_shepherd", 4, labels(4), split_id=steps[0].split_id,
                                      named_split=True)
        cat.insert_records("steps", steps)
        cat.insert_rows("step_labels", step_label_rows([row]))
        cat.query("INSERT INTO dataset_rows VALUES ('new', 1, 0, ?)", [row.id])
        ((got, _pid, _q, texts),) = stepwise_rows(cat, version("new"))
        assert texts == ["a\n", "b\n", "\nc\n", "d"] and got.id == row.id and got.split_id == steps[0].split_id
        assert [s for _, _, _, s in stepwise_rows(cat, version("four"))] == [["a\nb\n\n", "c\nd", "\nc\n", "d"]]


def test_split_ids_name_where_steps_end():
    lines = make_steps("s", TEXT, r"\n")
    assert {s.split_id for s in lines} == {split_id([2, 4, 7, 8])}
    assert steps_from_texts("s", split_steps(TEXT, r"\n")) == lines  # the same cut gets the same id either way
    default = make_steps("s", TEXT)
    assert default[0].split_id != lines[0].split_id
    assert is_default_split(TEXT, default) and not is_default_split(TEXT, lines)


def test_only_a_split_other_than_the_default_is_part_of_a_rows_id():
    plain = LabelledSolution.create("s", "math_shepherd", 2, labels(2))
    on_default = LabelledSolution.create("s", "math_shepherd", 2, labels(2), split_id="d", named_split=False)
    assert on_default.id == plain.id  # ids (and content hashes) of builds on the default split are unchanged
    other = LabelledSolution.create("s", "math_shepherd", 2, labels(2), split_id="x", named_split=True)
    another = LabelledSolution.create("s", "math_shepherd", 2, labels(2), split_id="y", named_split=True)
    assert len({plain.id, other.id, another.id}) == 3
