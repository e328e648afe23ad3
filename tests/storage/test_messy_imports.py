"""Issue 17 item 7: real recorded files import as they are — an empty response is a judgeable response, and
`--on-error skip` leaves bad lines out (reported as FILE:LINE: field 'F': problem) for `import-judgments` and
`eval-judge --gold`; strict stays the default."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.storage.inputs import InputError
from prefsynth.storage.judgment_files import read_gold, read_imported_judgments

GOOD = {"prompt": "Say something.", "response_a": "", "response_b": "Hello!", "judge": "rm", "score_a": 0.1,
        "score_b": 2.0}
SAME = {"prompt": "p", "response_a": "same", "response_b": "same", "judge": "rm", "verdict": "A>B"}
UNPARSED = {"prompt": "p", "response_a": "a", "response_b": "b", "judge": "llm", "verdict": "[[A]]"}


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    return path


def test_an_empty_response_is_a_response(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    [(line, row)] = read_imported_judgments(path)
    assert line == 1 and row.response_a == ""
    gold = tmp_path / "g.jsonl"
    gold.write_text(json.dumps({"prompt": "Say something.", "response_a": "", "response_b": "Hi", "label": "B>A"}) + "\n")
    assert read_gold(gold)[0][1].response_a == ""
    gold.write_text(json.dumps({"prompt": " ", "response_a": "", "response_b": "Hi", "label": "B>A"}) + "\n")
    with pytest.raises(InputError, match="prompt"):  # a prompt still needs text
        read_gold(gold)


def test_skip_leaves_bad_lines_out_and_names_them(tmp_path):
    path = jsonl(tmp_path / "j.jsonl", [GOOD, SAME, UNPARSED, {**GOOD, "judge": "rm2"}])
    with pytest.raises(InputError):  # strict by default: the whole file is refused
        read_imported_judgments(path)
    skipped: list[InputError] = []
    rows = read_imported_judgments(path, skipped)
    assert [line for line, _ in rows] == [1, 4]
    assert [str(e) for e in skipped] == [f"{path}:2: field 'response_b': is the same text as response_a",
                                         f"{path}:3: field 'verdict': Input should be 'A>>B', 'A>B', 'A=B', 'B>A' or "
                                         "'B>>A'", f"{path}:5: malformed JSON (Expecting property name enclosed in "
                                         "double quotes; column 2)"]
    only_bad = jsonl(tmp_path / "bad.jsonl", [SAME])
    with pytest.raises(InputError, match="no good line"):
        read_imported_judgments(only_bad, [])


def test_import_judgments_on_error_skip(tmp_path):
    path = jsonl(tmp_path / "j.jsonl", [GOOD, SAME])
    catalog = tmp_path / "c.duckdb"
    code, _, err = cli("import-judgments", path, "--catalog", catalog)
    assert code == 2 and "j.jsonl:2: field 'response_b'" in " ".join(err.split()) and not catalog.exists()
    code, out, err = cli("import-judgments", path, "--catalog", catalog, "--on-error", "skip", "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["lines"] == 1 and counts["judgments"] == 1 and len(counts["skipped"]) == 2
    assert counts["skipped"][0] == f"{path}:2: field 'response_b': is the same text as response_a"
    code, out, _ = cli("import-judgments", path, "--catalog", catalog, "--on-error", "skip")
    text = " ".join(out.split())
    assert code == 0 and "skipped 2 bad line(s)" in text and "j.jsonl:3: malformed JSON" in text


@pytest.mark.usefixtures("prefect_harness")
def test_eval_judge_gold_on_error_skip(tmp_path):
    rows = [{"prompt": f"q{k}", "response_a": "" if k == 0 else f"a{k}", "response_b": f"b{k}",
             "label": "A>B" if k % 2 else "B>A"} for k in range(4)]
    gold = jsonl(tmp_path / "gold.jsonl", [*rows, {**rows[1], "label": "A=B"}])
    (tmp_path / "e.yaml").write_text("engines: {fake: {kind: dry_run}}\njudge: {engine: fake}\nfilters: []\n")
    catalog = tmp_path / "c.duckdb"
    code, _, err = cli("eval-judge", tmp_path / "e.yaml", "--gold", gold, "--catalog", catalog)
    assert code == 2 and "gold.jsonl:5: field 'label'" in " ".join(err.split())
    code, out, err = cli("eval-judge", tmp_path / "e.yaml", "--gold", gold, "--catalog", catalog, "--on-error", "skip",
                         "--json")
    assert code == 0, err + out
    report = json.loads(out)
    assert report["items"] == 4 and [s.split(": ", 1)[0] for s in report["skipped_gold"]] == [f"{gold}:5", f"{gold}:6"]
