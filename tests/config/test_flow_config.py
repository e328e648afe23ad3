"""One config base for every flow (issue 15 item 4): the shared fields, one engine check, one catalog rule."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from prefsynth.config.base import DEFAULT_CATALOG, BuildConfig, FlowConfig, resolve_catalog
from prefsynth.config.load import ConfigError, load_config, union_tags
from prefsynth.config.preference import JudgeEvalConfig, PreferenceBuildConfig
from prefsynth.config.process import ProcessLabelsConfig
from prefsynth.config.rationale import RationalizeConfig
from prefsynth.schemas.engine import EngineConfig

ENGINES = {"e": {"kind": "dry_run"}}
BUILD = {"name": "b", "prompts": {"path": "p.jsonl"}, "engines": ENGINES, "policies": [{"engine": "e"}],
         "judge": {"engine": "e"}}
EVAL = {"engines": ENGINES, "jury": [{"engine": "e"}, {"kind": "pointwise", "engine": "e"}]}
PROCESS = {"name": "s", "problems": {"path": "q.jsonl"}, "engines": ENGINES, "policy": {"engine": "e"}}
RATIONALE = {"name": "r", "items": {"path": "i.jsonl"}, "engines": ENGINES, "judge": {"engine": "e", "temperature": 0.9}}


def test_every_flow_config_is_on_the_one_base():
    for model in (PreferenceBuildConfig, JudgeEvalConfig, ProcessLabelsConfig, RationalizeConfig):
        assert issubclass(model, FlowConfig)
        assert {"catalog", "engines", "batch_size"} <= set(model.model_fields)
    for model in (PreferenceBuildConfig, ProcessLabelsConfig, RationalizeConfig):  # they write a version
        assert issubclass(model, BuildConfig)
        assert {"name", "budget", "max_error_rate", "batches_in_flight"} <= set(model.model_fields)


@pytest.mark.parametrize(
    "model, data, at",
    [
        (PreferenceBuildConfig, {**BUILD, "policies": [{"engine": "nope"}]}, "policies.0.engine"),
        (PreferenceBuildConfig, {**BUILD, "judge": {"engine": "nope"}}, "judge.engine"),
        (JudgeEvalConfig, {**EVAL, "jury": [{"engine": "e"}, {"kind": "pointwise", "engine": "nope"}]}, "jury.1.engine"),
        (ProcessLabelsConfig, {**PROCESS, "policy": {"engine": "nope"}}, "policy.engine"),
        (RationalizeConfig, {**RATIONALE, "judge": {"engine": "nope", "temperature": 0.9}}, "judge.engine"),
    ],
)
def test_a_missing_engine_is_reported_alike_by_every_flow_config(model, data, at):
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    assert f"{at}: no engine named 'nope' (engines: e)" in str(info.value)
    with pytest.raises(ValidationError, match=r"no engine named '\w+' \(engines: none\)"):
        model.model_validate({**data, "engines": {}})


@pytest.mark.parametrize("model, data", [(PreferenceBuildConfig, BUILD), (JudgeEvalConfig, EVAL),
                                         (ProcessLabelsConfig, PROCESS), (RationalizeConfig, RATIONALE)])
def test_unknown_keys_are_errors_in_every_flow_config_and_its_sections(model, data):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**data, "colour": "red"})
    section = next(k for k in ("prompts", "problems", "items") if k in data) if model is not JudgeEvalConfig else None
    if section:
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            model.model_validate({**data, section: {**data[section], "colour": "red"}})


def test_union_tags_are_read_from_the_model():
    engine_kinds = {member.model_fields["kind"].default for member in EngineConfig.__origin__.__args__}
    assert {"llama_cpp", "openai", "dry_run", "vllm"} <= engine_kinds
    for model in (PreferenceBuildConfig, JudgeEvalConfig, ProcessLabelsConfig, RationalizeConfig):
        assert engine_kinds <= union_tags(model)
    assert {"sample", "imported", "pairwise", "pointwise", "verifier", "drop_ties", "dawid_skene"} <= union_tags(
        PreferenceBuildConfig)


def test_an_engine_named_like_a_kind_keeps_its_name_in_the_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: s\nproblems: {path: q.jsonl}\nengines:\n  openai:\n    kind: openai\n    model: m\n"
                    "    colour: red\npolicy: {engine: openai}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ProcessLabelsConfig)
    assert str(info.value) == f"{path}:7: field 'engines.openai.colour': unknown key"


def test_the_catalog_is_the_explicit_one_else_the_configs_else_the_environments_else_the_default(monkeypatch):
    monkeypatch.delenv("PREFSYNTH_CATALOG", raising=False)
    assert resolve_catalog(None, None) == Path(DEFAULT_CATALOG) == Path("prefsynth.duckdb")
    monkeypatch.setenv("PREFSYNTH_CATALOG", "env.duckdb")
    assert resolve_catalog(None, None) == Path("env.duckdb")
    assert resolve_catalog(None, "cfg.duckdb") == Path("cfg.duckdb")
    assert resolve_catalog("cli.duckdb", "cfg.duckdb") == Path("cli.duckdb")
    config = ProcessLabelsConfig.model_validate({**PROCESS, "catalog": "cfg.duckdb"})
    assert config.catalog_file(None) == "cfg.duckdb" and config.catalog_file("cli.duckdb") == "cli.duckdb"
