"""Judging configs: judge or jury, juror kinds, pairing, filters — errors name the file, line and field."""

import pytest

from prefsynth.config.load import ConfigError, load_config
from prefsynth.config.preference import JudgeEvalConfig, PreferenceBuildConfig
from prefsynth.schemas.judges import JudgeConfig, PointwiseJudgeConfig

BASE = """name: t
prompts:
  path: prompts.jsonl
engines:
  e:
    kind: dry_run
  e2:
    kind: dry_run
policies:
  - engine: e
"""


def load(tmp_path, text, model=PreferenceBuildConfig):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path, model)


def test_a_judge_without_kind_is_pairwise_and_a_jury_lists_any_protocol(tmp_path):
    cfg = load(tmp_path, BASE + "judge:\n  engine: e\n")
    assert isinstance(cfg.judge, JudgeConfig) and cfg.jurors == [cfg.judge]
    cfg = load(tmp_path, BASE + "jury:\n  - engine: e\n  - {kind: pointwise, engine: e, rubric: {scores: {0: bad, 1: ok, 2: good}}}\n"
               "  - {kind: debate, engine: e}\n  - {kind: imported, judge: human}\npairing: {strategy: best_vs_worst}\n"
               "filters: [drop_ties, {kind: strength, min_strength: 1, flip: true}, cross_version]\n")
    assert [j.kind for j in cfg.jurors] == ["pairwise", "pointwise", "debate", "imported"]
    assert isinstance(cfg.jurors[1], PointwiseJudgeConfig) and cfg.jurors[1].rubric.high == 2
    assert [f.kind for f in cfg.filters] == ["drop_ties", "strength", "rank_consistency"]  # the old name loads


@pytest.mark.parametrize(
    "tail, expected",
    [
        ("judge: {engine: e}\njury: [{engine: e}]\n", "give either `judge` (one judge) or `jury`"),
        ("", "give either `judge` (one judge) or `jury`"),
        ("jury:\n  - {engine: e}\n  - {engine: e2}\n", "jury.1: the same judge as jury.0"),
        ("jury:\n  - {engine: e}\n  - {kind: pointwise, engine: nope}\n", "jury.1.engine: no engine named 'nope'"),
        ("judge: {engine: e}\npairing: {strategy: best_vs_worst}\n", "add a juror of kind pointwise"),
        ("jury:\n  - {kind: oracle, engine: e}\n", ":12: field 'jury.0': Input tag 'oracle'"),
        ("judge: {kind: debate, engine: e, agents: [{name: A, persona: x}]}\n", "List should have at least 2 items"),
        ("judge: {kind: debate, engine: e, score_min: 1, score_max: 20}\n", "must span 2 to 10 values"),
        ("judge: {kind: pointwise, engine: e, rubric: {scores: {1: a, 3: b}}}\n", "consecutive integers"),
        ("judge: {engine: e}\nfilters: [{kind: strength, min_strength: -1}]\n",
         ":12: field 'filters.0.min_strength': Input should be greater than or equal to 0"),
        ("judge: {engine: e}\nfilters: [{kind: cross_version, action: ignore}]\n", "field 'filters.0.action'"),
        ("judge: {engine: e}\nfilters: [sideways]\n", "Input tag 'sideways' found using 'kind' does not match"),
    ],
)
def test_judging_config_errors(tmp_path, tail, expected):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, BASE + tail)
    assert expected in str(info.value), str(info.value)


def test_eval_config_and_imported_policies(tmp_path):
    cfg = load(tmp_path, "engines: {e: {kind: dry_run}}\njury: [{engine: e}, {kind: imported, judge: h}]\n",
               JudgeEvalConfig)
    assert len(cfg.jurors) == 2 and [f.kind for f in cfg.filters] == ["position_swap", "drop_ties"]
    cfg = load(tmp_path, "name: t\nprompts: {path: p.jsonl}\npolicies: [{kind: imported}]\n"
               "jury: [{kind: imported, judge: h}, {kind: imported, judge: rm}]\n")
    assert cfg.engines == {} and cfg.imported_response_judges() == ["h", "rm"]


def test_cross_version_is_an_alias_of_rank_consistency_and_imported_ranges_load(tmp_path):
    """issue 12 item 16: the filter is named for what it is (`rank_consistency`); old configs that say
    `cross_version` still load, as the same filter."""
    cfg = load(tmp_path, BASE + "judge: {engine: e}\nfilters: [cross_version, {kind: cross_version, min_tau: 0.2}, "
                               "{kind: rank_consistency, action: downweight}]\n")
    assert [f.kind for f in cfg.filters] == ["rank_consistency"] * 3
    assert cfg.filters[1].min_tau == 0.2 and cfg.filters[2].action == "downweight"
    cfg = load(tmp_path, BASE + "jury: [{engine: e}, {kind: imported, judge: rm, score_min: -5, score_max: 5}]\n")
    assert cfg.jurors[1].score_range == (-5, 5) and cfg.jurors[0].score_range is None
    with pytest.raises(ConfigError) as info:
        load(tmp_path, BASE + "judge: {kind: imported, judge: rm, score_min: 1}\n")
    assert "score_min and score_max go together" in str(info.value)
