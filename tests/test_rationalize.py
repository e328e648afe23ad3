"""Self-rationalization: reference decisions, rationale pairs, and the flow on scripted judges."""

import json

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.flows.cli import app
from prefsynth.schemas.engine import DryRunEngineConfig
from prefsynth.schemas.preference import Judgment
from prefsynth.tasks.generate import register_engine
from prefsynth.tasks.rationalize import consensus, rationale_pairs, split_right_wrong, verifier_reference, Reference
from tests.fakes import ScriptedEngine


def j(jid: str, verdict: str | None, raw: str = "because", status: str = "ok") -> Judgment:
    return Judgment(id=jid, prompt_id="p", judge="j", first_id="a", second_id="b", status=status,
                    verdict=verdict if status == "ok" else None, raw=raw, rationale=raw)


def test_consensus_needs_a_clear_non_tie_majority():
    assert consensus([j("1", "A>B"), j("2", "A>>B"), j("3", "B>A")], 0.3) == Reference("A", "consensus")
    assert consensus([j("1", "A>B"), j("2", "A>>B"), j("3", "B>A")], 0.5).winner is None  # lead 1/3 < 0.5
    assert consensus([j("1", "A>B"), j("2", "B>A")], 0.0).winner is None  # exact split
    assert consensus([j("1", "A=B"), j("2", "A=B"), j("3", "B>A")], 0.0).winner is None  # tie majority
    assert consensus([j("1", None, status="parse_error")], 0.0) == Reference(None, "none")


def test_verifier_reference():
    assert verifier_reference(True, False) == Reference("A", "verifier")
    assert verifier_reference(False, True) == Reference("B", "verifier")
    assert verifier_reference(True, True).winner is None and verifier_reference(None, False).winner is None


def test_pairs_prefer_opposite_verdicts_and_similar_lengths():
    right = [j("r1", "A>B", "x" * 100), j("r2", "A>>B", "x" * 40)]
    wrong = [j("w1", "A=B", "x" * 100), j("w2", "B>A", "x" * 45), j("w3", None, status="parse_error")]
    r, w = split_right_wrong(right + wrong, Reference("A", "gold"))
    assert [x.id for x in r] == ["r1", "r2"] and [x.id for x in w] == ["w1", "w2"]  # parse errors excluded
    pairs = rationale_pairs("item", r, w, max_pairs=2)
    assert [(p.chosen_id, p.rejected_id) for p in pairs] == [("r2", "w2"), ("r1", "w1")]  # disjoint, B>A first
    assert [p.rank for p in pairs] == [0, 1]


ITEMS = [
    {"prompt": "agree", "response_a": "good answer", "response_b": "bad", "label": "A>B"},
    {"prompt": "mixed", "response_a": "meh", "response_b": "better answer", "label": "B>A"},
    {"prompt": "garbled", "response_a": "one", "response_b": "two", "label": "A>B"},
    {"prompt": "unlabelled", "response_a": "first", "response_b": "second"},
    {"prompt": "What is 2+3?", "response_a": "2+3 = 5. The answer is 5.", "response_b": "The answer is 6.",
     "gold_answer": "5"},
]
# Verdict of completion i for each item (None: a reply without a verdict, also after the re-ask).
SCRIPT = {
    "agree": ["A>B", "A>>B", "A>B", "A>B"],
    "mixed": ["B>A", "A>B", "B>>A", "A=B"],
    "garbled": [None, None, "A>B", "B>A"],
    "unlabelled": ["A>B", "A>B", "A>B", "B>A"],
    "What is 2+3?": ["B>A", "A>B", "A>B", "A>>B"],
}


def scripted_judge(req, i):
    if req.choices:  # the re-ask of an unreadable reply
        return "still unsure"
    prompt = req.messages[-1].content.split("[User prompt]\n", 1)[1].split("\n[End of user prompt]", 1)[0]
    verdict = SCRIPT[prompt][i]
    reasoning = f"Reasoning {i} about {prompt}: " + "detail " * (i + 1)
    return reasoning if verdict is None else f"{reasoning}\nVerdict: [[{verdict}]]"


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ITEMS))
    (tmp_path / "r.yaml").write_text(
        "name: judge-data\nitems: {path: items.jsonl}\nengines: {j: {kind: dry_run, model: scripted}}\n"
        "judge: {engine: j, temperature: 0.9}\nk: 4\nmax_pairs_per_item: 2\nmin_consensus_margin: 0.5\n"
    )
    engine = ScriptedEngine(scripted_judge)
    register_engine(DryRunEngineConfig(model="scripted"), engine)
    return tmp_path, engine


def run(*args):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.stdout


@pytest.mark.usefixtures("prefect_harness")
def test_rationalize_flow_gold_verifier_consensus_and_exports(setup):
    folder, engine = setup
    catalog = str(folder / "c.duckdb")
    s = json.loads(run("rationalize", str(folder / "r.yaml"), "--catalog", catalog, "--json"))
    st = s["stats"]
    assert st["items"] == 5 and st["k"] == 4
    assert st["references"] == {"gold": 3, "consensus": 1, "verifier": 1}
    assert st["judgments"] == {"ok": 18, "parse_error": 2} and st["reasked"] == 2
    assert st["all_agree"] == 1  # the "agree" item: its judgments yield SFT data but no pair
    # mixed: right {B>A, B>>A} × wrong {A>B, A=B} → 2; garbled: 1 × 1; unlabelled (3 vs 1 = lead .5): 1 pair
    # (max 2, but one wrong only → 1 disjoint + 1 reuse = 2); verifier (A right): 3 right × 1 wrong → 2
    assert st["rationale_pairs"] == 2 + 1 + 2 + 2 and st["items_with_pairs"] == 4
    assert engine.requests[0].n == 4  # one request per item with n = k

    con = duckdb.connect(catalog, read_only=True)
    chosen = con.execute("""SELECT i.reference, c.verdict, r.verdict FROM rationale_pairs p
        JOIN rationale_items i ON i.id = p.item_id JOIN judgments c ON c.id = p.chosen_id
        JOIN judgments r ON r.id = p.rejected_id""").fetchall()
    con.close()
    assert all(c[0] == ref for ref, c, _ in chosen) and all(r[0] != ref for ref, _, r in chosen)

    run("export", "judge-data", "--format", "trl-preference", "--out", str(folder / "pref"), "--catalog", catalog)
    pref = pq.read_table(folder / "pref" / "judge-data" / "v1" / "train.parquet").to_pylist()
    assert len(pref) == 7 and pref[0]["prompt"][0]["role"] == "system"
    assert "Verdict: [[" in pref[0]["chosen"][0]["content"]
    run("export", "judge-data", "--format", "trl-sft", "--out", str(folder / "sft"), "--catalog", catalog)
    sft = pq.read_table(folder / "sft" / "judge-data" / "v1" / "train.parquet").to_pylist()
    assert len(sft) == 5 and all(r["messages"][-1]["role"] == "assistant" for r in sft)


@pytest.mark.usefixtures("prefect_harness")
def test_iterations_record_their_judge_and_diff_shows_agreement(setup):
    folder, _ = setup
    catalog = str(folder / "c.duckdb")
    first = json.loads(run("rationalize", str(folder / "r.yaml"), "--catalog", catalog, "--json"))

    def better_judge(req, i):  # iteration 2: a judge that agrees with gold on every labelled item
        if req.choices:
            return "[[A>B]]"
        body = req.messages[-1].content
        verdict = "B>A" if "mixed" in body.split("[End of user prompt]")[0] else "A>B"
        return f"Consistent reasoning {i}.\nVerdict: [[{verdict}]]"

    register_engine(DryRunEngineConfig(model="better"), ScriptedEngine(better_judge, name="scripted:better"))
    (folder / "r.yaml").write_text((folder / "r.yaml").read_text().replace("model: scripted", "model: better"))
    second = json.loads(run("rationalize", str(folder / "r.yaml"), "--catalog", catalog, "--json"))
    assert second["parent_version"] == 1 and second["stats"]["judge"] != first["stats"]["judge"]
    moved = json.loads(run("diff", "judge-data@1", "judge-data@2", "--catalog", catalog, "--json"))
    agreement = moved["stats"]["agreement_with_reference"]
    assert agreement["to"] > agreement["from"]
    assert moved["added"] > 0 and not moved["same_content"]


def test_rationalize_rejects_greedy_judges_and_bad_labels(tmp_path):
    (tmp_path / "items.jsonl").write_text('{"prompt": "p", "response_a": "a", "response_b": "b", "label": "A>>B"}\n')
    (tmp_path / "r.yaml").write_text("name: x\nitems: {path: items.jsonl}\nengines: {j: {kind: dry_run}}\n"
                                     "judge: {engine: j, temperature: 0.9}\n")
    result = CliRunner().invoke(app, ["rationalize", str(tmp_path / "r.yaml"), "--catalog", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 2 and "items.jsonl:1: field 'label': expected one of A>B, B>A" in " ".join(result.stderr.split())
    (tmp_path / "r.yaml").write_text((tmp_path / "r.yaml").read_text().replace("0.9", "0"))
    result = CliRunner().invoke(app, ["rationalize", str(tmp_path / "r.yaml"), "--catalog", str(tmp_path / "c.duckdb")])
    assert result.exit_code == 2 and "judge.temperature: must be > 0" in result.stderr
