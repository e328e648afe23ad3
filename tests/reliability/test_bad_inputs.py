"""The bad input corpus (tests/data/bad/): every file gives a clear error naming the file, the line and the field
(or the config key), a non-zero exit and no version. With `prompts.on_error: skip` bad prompt rows are left
out, counted and listed in the build summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app

pytestmark = pytest.mark.reliability

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def cli(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "1000"})  # rich tables: no wrapping
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def build_config(tmp: Path, prompts: Path, **prompt_options) -> Path:
    config = {"name": "corpus", "prompts": {"path": str(prompts), **prompt_options},
              "engines": {"fake": {"kind": "dry_run"}}, "policies": [{"engine": "fake", "n": 2}],
              "judge": {"engine": "fake"}}
    path = tmp / "build.yaml"
    path.write_text(json.dumps(config))
    return path


def process_config(tmp: Path, problems: Path) -> Path:
    config = {"name": "corpus-steps", "problems": {"path": str(problems)}, "engines": {"fake": {"kind": "dry_run"}},
              "policy": {"engine": "fake"}}
    path = tmp / "steps.yaml"
    path.write_text(json.dumps(config))
    return path


PROMPT_FILES = [
    ("prompts_malformed_json.jsonl", "prompts_malformed_json.jsonl:2: malformed JSON (Unterminated string"),
    ("prompts_wrong_type.jsonl", "prompts_wrong_type.jsonl:2: field 'prompt': expected a string or a list of messages, got int"),
    ("prompts_missing_field.jsonl", "prompts_missing_field.jsonl:3: field 'prompt': missing (row has: question)"),
    ("prompts_empty.jsonl", "prompts_empty.jsonl:2: field 'prompt': empty prompt"),
    ("prompts_whitespace.jsonl", "prompts_whitespace.jsonl:2: field 'prompt': empty prompt"),
    ("prompts_huge.jsonl", "prompts_huge.jsonl:2: field 'prompt': prompt has 1000000 characters, more than max_prompt_chars=100000"),
    ("prompts_invalid_utf8.jsonl", "prompts_invalid_utf8.jsonl:3: invalid UTF-8 at byte 15"),
]


@pytest.mark.parametrize("name, message", PROMPT_FILES)
def test_bad_prompt_files(tmp_path, name, message):
    catalog = tmp_path / "c.duckdb"
    code, out, err = cli("build", build_config(tmp_path, BAD / name), "--catalog", catalog)
    assert (code, out) == (2, "")
    assert f"error: {BAD / message}" in err, err
    assert not catalog.exists()  # no version, not even an empty catalog


@pytest.mark.parametrize(
    "name, message",
    [
        ("config_unknown_key.yaml", "config_unknown_key.yaml:13: field 'colour': unknown key"),
        ("config_wrong_type.yaml", "config_wrong_type.yaml:12: field 'batch_size': Input should be a valid integer"),
        ("config_negative_n.yaml", "config_negative_n.yaml:9: field 'policies.0.n': Input should be greater than or equal to 1"),
    ],
)
def test_bad_configs(tmp_path, name, message):
    catalog = tmp_path / "c.duckdb"
    code, out, err = cli("build", BAD / name, "--catalog", catalog)
    assert (code, out) == (2, "")
    assert f"error: {BAD / message}" in err, err
    assert not catalog.exists()


@pytest.mark.parametrize(
    "name, message",
    [
        ("judgments_nan.jsonl", "judgments_nan.jsonl:2: field 'score_a': must be a finite number"),
        ("judgments_duplicate_ids.jsonl", "judgments_duplicate_ids.jsonl:3: field 'pair_id': duplicate id 'p-1': "
         "judge 'human' already judged it in order AB on line 1"),
    ],
)
def test_bad_imported_judgments(tmp_path, name, message):
    catalog = tmp_path / "c.duckdb"
    code, out, err = cli("import-judgments", BAD / name, "--catalog", catalog)
    assert (code, out) == (2, "")
    assert f"{BAD / message}" in err, err
    assert not catalog.exists()


@pytest.mark.parametrize(
    "name, message",
    [
        ("problems_no_gold.jsonl", "problems_no_gold.jsonl:2: field 'answer': missing gold answer"),
        ("problems_nan_answer.jsonl", "problems_nan_answer.jsonl:2: field 'answer': gold answer is not a finite number (nan)"),
    ],
)
def test_bad_problem_files(tmp_path, name, message):
    catalog = tmp_path / "c.duckdb"
    code, out, err = cli("label-steps", process_config(tmp_path, BAD / name), "--catalog", catalog)
    assert (code, out) == (2, "")
    assert f"error: {BAD / message}" in err, err
    assert not catalog.exists()


MIXED_SKIPS = [
    "prompts_mixed.jsonl:2: malformed JSON",
    "prompts_mixed.jsonl:3: field 'prompt': expected a string or a list of messages, got int",
    "prompts_mixed.jsonl:5: field 'prompt': missing",
    "prompts_mixed.jsonl:6: field 'prompt': empty prompt",
    "prompts_mixed.jsonl:8: invalid UTF-8",
]


def test_mixed_file_fails_on_its_first_bad_row_by_default(tmp_path):
    code, _, err = cli("build", build_config(tmp_path, BAD / "prompts_mixed.jsonl"), "--catalog", tmp_path / "c.duckdb")
    assert code == 2 and f"error: {BAD / MIXED_SKIPS[0]}" in err


@pytest.mark.usefixtures("prefect_harness")
def test_on_error_skip_leaves_bad_rows_out_and_lists_them(tmp_path):
    catalog = tmp_path / "c.duckdb"
    config = build_config(tmp_path, BAD / "prompts_mixed.jsonl", on_error="skip")
    code, out, err = cli("build", config, "--catalog", catalog, "--json")
    assert code == 0, err
    st = json.loads(out)["stats"]
    assert st["prompts"] == 3 and st["skipped_rows"]["count"] == len(MIXED_SKIPS)
    for row, expected in zip(st["skipped_rows"]["rows"], MIXED_SKIPS, strict=True):
        assert row.startswith(str(BAD / expected)), row
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM prompts").fetchone()[0] == 3
    code, out, _ = cli("show", "corpus", "--catalog", catalog)
    text = " ".join(out.split())
    assert code == 0 and "skipped rows │ 5: " in text and "prompts_mixed.jsonl:8: invalid UTF-8" in text


def test_on_error_skip_with_no_good_row_is_still_an_error(tmp_path):
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text('{"prompt": ""}\n{"prompt": 3}\n')
    code, _, err = cli("build", build_config(tmp_path, only_bad, on_error="skip"), "--catalog", tmp_path / "c.duckdb")
    assert code == 2 and "bad.jsonl: no prompts in the file (2 bad rows skipped; first:" in err
    assert not (tmp_path / "c.duckdb").exists()
