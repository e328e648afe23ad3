"""Bad input and bad configs: errors name the file, line and field."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefsynth.config.load import ConfigError, load_config
from prefsynth.config.preference import PreferenceBuildConfig
from prefsynth.storage.inputs import InputError, load_prompts


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


@pytest.mark.parametrize(
    "content, line, field, problem",
    [
        ('{"prompt": "ok"}\n{"prompt": "broken"\n', 2, None, "malformed JSON"),
        ('{"prompt": "ok"}\n{"text": "no prompt"}\n', 2, "prompt", "missing"),
        ('{"prompt": "ok"}\n\n{"prompt": ""}\n', 3, "prompt", "empty prompt"),
        ('{"prompt": "   \\n\\t "}\n', 1, "prompt", "empty prompt"),
        ('{"prompt": 42}\n', 1, "prompt", "expected a string or a list of messages, got int"),
        ('[1, 2]\n', 1, None, "expected a JSON object"),
        ('{"prompt": [{"role": "user"}]}\n', 1, "prompt", "bad chat message"),
        ('{"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n', 1, "prompt",
         "last message must have role 'user'"),
    ],
)
def test_jsonl_errors_name_line_and_field(tmp_path, content, line, field, problem):
    path = write(tmp_path, "prompts.jsonl", content)
    with pytest.raises(InputError) as info:
        load_prompts(path)
    err = info.value
    assert (err.line, err.field) == (line, field)
    assert problem in str(err) and str(err).startswith(f"{path}:{line}: ")


def test_invalid_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "p.jsonl", b'{"prompt": "fine"}\n{"prompt": "bad \xff byte"}\n')
    with pytest.raises(InputError, match=r"p.jsonl:2: invalid UTF-8"):
        load_prompts(path)


def test_too_long_prompt_is_rejected(tmp_path):
    path = write(tmp_path, "p.jsonl", json.dumps({"prompt": "x" * 2000}) + "\n")
    with pytest.raises(InputError, match="max_prompt_chars=1000"):
        load_prompts(path, max_chars=1000)


def test_csv_and_parquet_with_field_mapping(tmp_path):
    csv_path = write(tmp_path, "p.csv", 'id,question\n1,"What is 2+2?"\n2,"Name a colour, please"\n3,\n')
    with pytest.raises(InputError) as info:
        load_prompts(csv_path, field="question")
    assert (info.value.line, info.value.field) == (4, "question")
    pq.write_table(pa.table({"q": ["a?", "b?", "a?"]}), tmp_path / "p.parquet")
    prompts = load_prompts(tmp_path / "p.parquet", field="q")
    assert [p.text for p in prompts] == ["a?", "b?"]  # identical prompts kept once


def test_chat_prompts_and_content_identity(tmp_path):
    rows = [{"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}, {"prompt": "u"}]
    path = write(tmp_path, "p.jsonl", "\n".join(json.dumps(r) for r in rows))
    chat, text = load_prompts(path)
    assert chat.messages[0].role == "system" and text.text == "u"
    assert chat.id != text.id and chat.source.endswith("p.jsonl:1")
    again = load_prompts(path)
    assert [p.id for p in again] == [chat.id, text.id]


GOOD = """name: t
prompts:
  path: prompts.jsonl
engines:
  e:
    kind: dry_run
policies:
  - engine: e
    n: 2
judge:
  engine: e
"""


@pytest.mark.parametrize(
    "edit, expected",
    [
        (("    n: 2", "    n: 2\n    colour: red"), ":10: field 'policies.0.colour': unknown key"),
        (("    n: 2", "    n: -1"), ":9: field 'policies.0.n': Input should be greater than or equal to 1"),
        (("  engine: e\n", "  engine: e\n  temperature: hot\n"), ":12: field 'judge.temperature': Input should be a valid number"),
        (("kind: dry_run", "kind: quantum"), ":6: field 'engines.e': Input tag 'quantum' found using 'kind' does not match"),
        (("judge:\n  engine: e", "judge:\n  engine: nope"), "judge.engine: no engine named 'nope'"),
        (("name: t", "name: 'bad name!'"), ":1: field 'name': String should match pattern"),
    ],
)
def test_config_errors_name_line_and_field(tmp_path, edit, expected):
    path = write(tmp_path, "c.yaml", GOOD.replace(*edit))
    with pytest.raises(ConfigError) as info:
        load_config(path, PreferenceBuildConfig)
    assert expected in str(info.value), str(info.value)
    assert str(info.value).startswith(str(path))


def test_good_config_resolves_paths_against_its_folder(tmp_path):
    cfg = load_config(write(tmp_path, "c.yaml", GOOD), PreferenceBuildConfig)
    assert cfg.prompts.path == str(tmp_path / "prompts.jsonl")
    assert [f.kind for f in cfg.filters] == ["position_swap", "drop_ties"]


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "c.yaml", "name: [unclosed"), PreferenceBuildConfig)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml", PreferenceBuildConfig)


def test_prefect_yaml_parameters_are_the_flow_config():
    import yaml
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = yaml.safe_load((root / "prefect.yaml").read_text())
    from prefsynth.config.process import ProcessLabelsConfig

    models = {"prefsynth.flows.preference:preference_build": (PreferenceBuildConfig, "prompts"),
              "prefsynth.flows.process_labels:process_labels": (ProcessLabelsConfig, "problems")}
    assert len(spec["deployments"]) == 2
    for deployment in spec["deployments"]:
        model, source = models[deployment["entrypoint"]]
        config = model.model_validate(deployment["parameters"]["config"])
        assert (root / getattr(config, source).path).is_file()
