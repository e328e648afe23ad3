"""Sampling records: failures stay visible; near-duplicates collapse."""

from prefsynth.schemas.engine import Completion, GenResult
from prefsynth.schemas.preference import Prompt
from prefsynth.schemas.stages import DedupeConfig, PolicyConfig
from prefsynth.tasks.sample import collapse_duplicates, sample_request, to_samples

P = Prompt(id="p1", text="Say hi")


def test_failed_call_gives_error_samples_with_reason():
    samples = to_samples("pol", "m", P, 2, GenResult(error="HTTP 500"))
    assert [(s.status, s.error) for s in samples] == [("error", "HTTP 500")] * 2


def test_empty_and_truncated_replies():
    result = GenResult(completions=[Completion(text="  "), Completion(text="cut", finish_reason="length")])
    a, b = to_samples("pol", "m", P, 2, result)
    assert (a.status, a.error) == ("error", "empty response")
    assert b.status == "truncated"


def test_near_duplicates_collapse_onto_the_first():
    result = GenResult(completions=[Completion(text="Hello there, friend!"), Completion(text="Hello there, friend."),
                                    Completion(text="Something else entirely")])
    s = collapse_duplicates(to_samples("pol", "m", P, 3, result), DedupeConfig(threshold=90))
    assert [x.status for x in s] == ["ok", "duplicate", "ok"]
    assert s[1].duplicate_of == s[0].id


def test_system_prompt_is_prepended_to_text_prompts():
    req = sample_request(PolicyConfig(engine="e", system_prompt="Be brief."), P)
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.n == 2 and req.max_tokens == 256
