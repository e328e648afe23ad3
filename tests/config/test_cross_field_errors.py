"""Errors of checks across fields (a model validator: no location of its own) name the field's file line, not
line 1 under "(top level)": the message starts with the field's path, which is looked up in the YAML."""

from prefsynth.config.load import ConfigError, load_config
from prefsynth.config.preference import PreferenceBuildConfig

import pytest

BUILD = """name: t
prompts:
  path: prompts.jsonl
engines:
  e:
    kind: dry_run
policies:
  - engine: x
judge:
  engine: e
"""


def test_an_unknown_engine_is_reported_on_the_line_that_names_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(BUILD)
    with pytest.raises(ConfigError) as info:
        load_config(path, PreferenceBuildConfig)
    assert str(info.value) == f"{path}:8: policies.0.engine: no engine named 'x' (engines: e)"


def test_a_cross_field_error_without_a_field_path_stays_at_the_top_level(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(BUILD.replace("engine: x", "engine: e").replace("judge:\n  engine: e\n", ""))
    with pytest.raises(ConfigError) as info:
        load_config(path, PreferenceBuildConfig)
    assert str(info.value).startswith(f"{path}:1: field '(top level)': give either `judge`")
