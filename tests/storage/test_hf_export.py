"""Hugging Face export: Hub layout + card + save_to_disk, round-tripping through `datasets`; publishing replaced."""

import json
import shutil
from pathlib import Path

import datasets
import pytest
import yaml
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.storage.formats import hf as hub

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.usefixtures("prefect_harness")


def cli(*args):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf")
    shutil.copy(EXAMPLES / "prompts.jsonl", folder / "prompts.jsonl")
    shutil.copy(EXAMPLES / "dry_run.yaml", folder / "dry_run.yaml")
    code, out, err = cli("build", str(folder / "dry_run.yaml"), "--catalog", str(folder / "c.duckdb"), "--json")
    assert code == 0, err
    return folder, json.loads(out)


def test_hf_folder_round_trips_with_a_dataset_card(built):
    folder, summary = built
    code, _, err = cli("export", "dry-run", "--format", "hf", "--out", str(folder / "out"), "--catalog", str(folder / "c.duckdb"))
    assert code == 0, err
    root = folder / "out" / "dry-run" / "v1" / "hf"
    assert sorted(p.name for p in (root / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    ds = datasets.load_dataset(str(root), split="train", cache_dir=str(folder / "hf-cache"))
    assert ds.num_rows == summary["rows"]
    assert {"prompt", "chosen", "rejected", "margin", "judges"} <= set(ds.column_names)
    again = datasets.load_from_disk(str(root / "disk"))
    assert again.features == ds.features and again.num_rows == ds.num_rows
    card = (root / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["size_categories"] == ["n<1K"] and meta["configs"][0]["data_files"][0]["path"] == "data/train-*"
    assert "## Filter funnel" in card and "position_swap" in card and "MT-Bench" in card
    assert summary["content_hash"] in card


def test_push_to_hub_uses_the_publish_function_and_never_writes_the_token(built, monkeypatch):
    folder, _ = built
    calls = []
    monkeypatch.setattr(hub, "publish_folder", lambda path, repo, private: calls.append((path, repo, private)) or "url")
    monkeypatch.setenv("HF_TOKEN", "hf_recognisable_fake_token_123")
    code, out, err = cli("export", "dry-run", "--format", "hf", "--out", str(folder / "pub"),
                         "--push-to-hub", "org/name", "--private", "--catalog", str(folder / "c.duckdb"))
    assert code == 0, err
    assert calls == [(folder / "pub" / "dry-run" / "v1" / "hf", "org/name", True)]
    for path in (folder / "pub").rglob("*"):
        if path.is_file():
            assert b"hf_recognisable_fake_token_123" not in path.read_bytes(), path


def test_push_without_token_fails_clearly(built, monkeypatch):
    folder, _ = built
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, _, err = cli("export", "dry-run", "--format", "hf", "--out", str(folder / "x"), "--push-to-hub", "o/n",
                       "--catalog", str(folder / "c.duckdb"))
    assert code == 1 and "needs HF_TOKEN" in err
    code, _, err = cli("export", "dry-run", "--format", "trl-preference", "--out", str(folder / "x"),
                       "--push-to-hub", "o/n", "--catalog", str(folder / "c.duckdb"))
    assert code == 2 and "--push-to-hub needs --format hf" in err


def test_hf_and_a_parquet_format_in_one_out_folder_both_stay_and_publish_uploads_only_hf(built, monkeypatch):
    """Review: the hf layout deleted OUT/NAME/vN, where trl-preference had written train.parquet (and a Parquet
    export into an hf folder would have been uploaded with it). Each format now owns OUT/NAME/vN/FORMAT/."""
    folder, _ = built
    catalog, out = str(folder / "c.duckdb"), folder / "both"
    assert cli("export", "dry-run", "--format", "trl-preference", "--out", str(out), "--catalog", catalog)[0] == 0
    calls = []
    monkeypatch.setattr(hub, "publish_folder", lambda path, repo, private: calls.append(path) or "url")
    monkeypatch.setenv("HF_TOKEN", "hf_fake")
    code, _, err = cli("export", "dry-run", "--format", "hf", "--out", str(out), "--push-to-hub", "o/n", "--catalog", catalog)
    assert code == 0, err
    assert cli("export", "dry-run", "--format", "trl-preference", "--out", str(out), "--catalog", catalog)[0] == 0
    version = out / "dry-run" / "v1"
    assert sorted(p.name for p in version.iterdir()) == ["hf", "trl-preference"]
    assert sorted(p.name for p in (version / "trl-preference").iterdir()) == ["manifest.json", "train.parquet"]
    assert calls == [version / "hf"]
    assert sorted(p.name for p in (version / "hf").iterdir()) == ["README.md", "data", "disk"]
