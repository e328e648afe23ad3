"""The trl-preference export: a non-negative `margin` on a stated scale, the signed `strength`, `consistency`."""

import pytest

from prefsynth.schemas.preference import FilterDecision, Judgment, Prompt, Sample
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.formats.preference import PREFERENCE_FORMAT, TRL_PREFERENCE
from prefsynth.storage.versions import commit_version
from prefsynth.tasks.judge.jury import Jury, JurorSpec, aggregate

PROMPT = Prompt.of("Which is better?")


def sample(sid: str) -> Sample:
    return Sample(id=sid, prompt_id=PROMPT.id, policy="pol", model="m", index=0, text=f"response {sid}")


def scored(jid: str, judge: str, first: str, second: str, a: float, b: float) -> Judgment:
    return Judgment(id=jid, prompt_id=PROMPT.id, judge=judge, protocol="imported", first_id=first, second_id=second,
                    status="ok", score_a=a, score_b=b)


def test_exported_margin_is_non_negative_on_the_vote_scale(tmp_path):
    """issue 12 item 21: TRL's RewardTrainer reads `margin` as its Bradley–Terry margin; a negative one (majority
    and mean disagree) let a reward model rank chosen below rejected at no loss. It is now max(μ, 0) on 0..2; the
    signed μ stays in `strength`; rows without a known vote scale export a null margin."""
    x, y = sample("x"), sample("y")
    # Four jurors rate x one point higher on 1–10 (+2/9 each); E prefers y by the whole range (−2): x by majority,
    # μ = (8/9 − 2) / 5 < 0 for the chosen response.
    js = [scored(f"j{k}", f"J{k}", "x", "y", 6.0, 5.0) for k in range(4)] + [scored("e", "E", "x", "y", 1.0, 10.0)]
    jury = Jury.of([JurorSpec(f"J{k}", score_range=(1, 10)) for k in range(4)] + [JurorSpec("E", (1, 10))])
    pair = aggregate(x, y, js, jury)
    assert pair.chosen_id == "x" and pair.margin < 0
    legacy = pair.model_copy(update={"id": "old", "vote_scale": None, "chosen_share": None, "rejected_share": None})
    with Catalog(tmp_path / "c.duckdb") as cat:
        version = commit_version(
            cat, name="d", kind="preference", config={}, stats={},
            records={"prompts": [PROMPT], "samples": [x, y], "judgments": js, "pairs": [pair, legacy]},
            row_ids=[pair.id, legacy.id],
            decisions=[FilterDecision(pair_id=pair.id, filter="drop_ties", keep=True, reason="has a winner")],
        )
        table = TRL_PREFERENCE.table(cat, version)
    rows = table.to_pylist()
    assert rows[0]["margin"] == 0.0 and rows[0]["strength"] == pytest.approx((8 / 9 - 2) / 5)
    assert rows[0]["vote_scale"] == "juror_votes_pm2" and rows[0]["consistency"] is None
    assert rows[1]["margin"] is None and rows[1]["vote_scale"] is None  # stored before the vote scale: unknown
    assert all(r["margin"] is None or 0 <= r["margin"] <= 2 for r in rows)
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert meta["prefsynth.format"] == PREFERENCE_FORMAT == "trl-preference/2" and "0..2" in meta["prefsynth.margin"]
