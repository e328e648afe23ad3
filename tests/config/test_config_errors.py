"""Config errors name the file, line and field for every engine kind, including vllm (issue 15 item 4)."""

import pytest

from prefsynth.config.load import ConfigError, load_config
from prefsynth.config.preference import PreferenceBuildConfig

BUILD = """name: t
prompts:
  path: prompts.jsonl
engines:
  e:
    kind: {kind}
{engine_lines}
policies:
  - engine: e
judge:
  engine: e
"""

ENGINE_KINDS = {  # each engine kind, with the fields it requires
    "dry_run": "",
    "llama_cpp": "",
    "openai": "    model: m",
    "vllm": "    model: m",
}


@pytest.mark.parametrize("kind", sorted(ENGINE_KINDS))
def test_unknown_engine_key_names_the_field_without_the_union_tag(tmp_path, kind):
    """Pydantic puts the union member's tag in the error location (engines.e.vllm.colour); the message names the
    field as it is written in the YAML (engines.e.colour), on its line."""
    path = tmp_path / "c.yaml"
    lines = "\n".join(x for x in (ENGINE_KINDS[kind], "    colour: red") if x)
    path.write_text(BUILD.format(kind=kind, engine_lines=lines))
    with pytest.raises(ConfigError) as info:
        load_config(path, PreferenceBuildConfig)
    line = 7 if not ENGINE_KINDS[kind] else 8
    assert str(info.value) == f"{path}:{line}: field 'engines.e.colour': unknown key"
