"""Judgments made elsewhere (reward-model scores, human labels, other judges) as jurors of a build.

Imported judgments are matched to the build's samples by text — prompt (as shown to judges) and both
responses — so they apply whether the build sampled those responses itself or took them from the import.
A judgment matched to samples with other ids is re-addressed to them (a new record with its own content id,
same judge, verdict, scores and `pair_ref`). Pure: the flow reads the imported judgments from the catalog and
gives them to `ImportedJudge` (the registry's "imported") as data.
"""

from __future__ import annotations

from collections import defaultdict

from ...schemas.ids import content_id
from ...schemas.imported import ImportedJudgment, imported_sample
from ...schemas.judges import ImportedJudgeConfig
from ...schemas.preference import Judgment, Prompt, Sample
from .base import Calls, Imported, Pair, PairJudge


def _key(prompt_text: str, a: str, b: str) -> tuple[str, str, str]:
    return prompt_text, a, b


def match_imported(
    pairs: list[tuple[Sample, Sample]], prompts: dict[str, Prompt], imported: list[ImportedJudgment]
) -> list[list[Judgment]]:
    """For each pair (x, y), the imported judgments of exactly these two texts, in either order."""
    index: dict[tuple[str, str, str], list[ImportedJudgment]] = defaultdict(list)
    for item in imported:
        index[_key(item.prompt_text, item.first_text, item.second_text)].append(item)
    out = []
    for x, y in pairs:
        text = prompts[x.prompt_id].display_text()
        found = [(x, y, i) for i in index.get(_key(text, x.text, y.text), [])]
        found += [(y, x, i) for i in index.get(_key(text, y.text, x.text), [])]
        out.append([_readdress(i.judgment, first, second) for first, second, i in found])
    return out


def _readdress(j: Judgment, first: Sample, second: Sample) -> Judgment:
    if (j.prompt_id, j.first_id, j.second_id) == (first.prompt_id, first.id, second.id):
        return j
    return j.model_copy(update={
        "id": content_id(j.id, first.prompt_id, first.id, second.id),
        "prompt_id": first.prompt_id,
        "first_id": first.id,
        "second_id": second.id,
    })


def imported_samples(prompts: list[Prompt], imported: list[ImportedJudgment]) -> list[Sample]:
    """The responses the imported judgments were about, as samples of the build's prompts (matched by text)."""
    by_text = {p.display_text(): p for p in prompts}
    seen: set[str] = set()
    out: dict[str, list[Sample]] = defaultdict(list)
    for item in imported:
        prompt = by_text.get(item.prompt_text)
        if prompt is None:
            continue
        for text in (item.first_text, item.second_text):
            s = imported_sample(prompt.id, text)
            if s.id not in seen:
                seen.add(s.id)
                out[prompt.id].append(s.model_copy(update={"index": len(out[prompt.id])}))
    return [s for p in prompts for s in out.get(p.id, [])]


class ImportedJudge(PairJudge):
    """A juror whose judgments were made elsewhere: matched to the pairs by text, no engine call."""

    def name(self, cfg: ImportedJudgeConfig, calls: Calls | None = None) -> str:
        return cfg.judge

    def judge_pairs(self, cfg: ImportedJudgeConfig, name: str, prompts: dict[str, Prompt], pairs: list[Pair],
                    calls: Calls | None, imported: Imported) -> list[list[Judgment]]:
        return match_imported(pairs, prompts, list(imported.get(cfg.judge, ())))


JUDGE = ImportedJudge()
