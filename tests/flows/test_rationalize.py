"""Self-rationalization: reference decisions, rationale pairs, and the flow on scripted judges."""

import json
from collections import Counter

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.engine import DryRunEngineConfig
from prefsynth.schemas.preference import Judgment
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
def setup(tmp_path, engines):
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ITEMS))
    (tmp_path / "r.yaml").write_text(
        "name: judge-data\nitems: {path: items.jsonl}\nengines: {j: {kind: dry_run, model: scripted}}\n"
        "judge: {engine: j, temperature: 0.9}\nk: 4\nmax_pairs_per_item: 2\nmin_consensus_margin: 0.5\n"
    )
    engine = ScriptedEngine(scripted_judge)
    engines.serve(DryRunEngineConfig(model="scripted"), engine)
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
    pref = pq.read_table(folder / "pref" / "judge-data" / "v1" / "trl-preference" / "train.parquet").to_pylist()
    assert len(pref) == 7 and pref[0]["prompt"][0]["role"] == "system"
    assert "Verdict: [[" in pref[0]["chosen"][0]["content"]
    run("export", "judge-data", "--format", "trl-sft", "--out", str(folder / "sft"), "--catalog", catalog)
    sft = pq.read_table(folder / "sft" / "judge-data" / "v1" / "trl-sft" / "train.parquet").to_pylist()
    assert len(sft) == 5 and all(r["messages"][-1]["role"] == "assistant" for r in sft)


@pytest.mark.usefixtures("prefect_harness")
def test_iterations_record_their_judge_and_diff_shows_agreement(setup, engines):
    folder, _ = setup
    catalog = str(folder / "c.duckdb")
    first = json.loads(run("rationalize", str(folder / "r.yaml"), "--catalog", catalog, "--json"))

    def better_judge(req, i):  # iteration 2: a judge that agrees with gold on every labelled item
        if req.choices:
            return "[[A>B]]"
        body = req.messages[-1].content
        verdict = "B>A" if "mixed" in body.split("[End of user prompt]")[0] else "A>B"
        return f"Consistent reasoning {i}.\nVerdict: [[{verdict}]]"

    engines.serve(DryRunEngineConfig(model="better"), ScriptedEngine(better_judge, name="scripted:better"))
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


# -- issue 12: self-rationalization labels and targets ---------------------------------------------------------
class CutEngine(ScriptedEngine):
    """Like ScriptedEngine, but a reply ending in CUT comes back cut at max_tokens (finish_reason "length")."""

    CUT = "<cut>"

    def _one(self, req):
        from prefsynth.schemas.engine import Completion, GenResult

        completions = []
        for i in range(req.n):
            text = self.reply(req, i)
            if isinstance(text, Exception):
                return GenResult(error=f"{type(text).__name__}: {text}")
            cut = text.endswith(self.CUT)
            text = text.removesuffix(self.CUT)
            completions.append(Completion(text=text, finish_reason="length" if cut else "stop",
                                          completion_tokens=len(text.split())))
        return GenResult(completions=completions, prompt_tokens=10)


def rationale_setup(tmp_path, engines, items, reply, extra: str = "", engine_cls=ScriptedEngine, model="scripted-12"):
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    (tmp_path / "r.yaml").write_text(
        f"name: judge-data\nitems: {{path: items.jsonl}}\nengines: {{j: {{kind: dry_run, model: {model}}}}}\n"
        f"judge: {{engine: j, temperature: 0.9}}\nk: 4\nmax_pairs_per_item: 2\n{extra}"
    )
    engine = engine_cls(reply)
    engines.serve(DryRunEngineConfig(model=model), engine)
    return tmp_path / "r.yaml", str(tmp_path / "c.duckdb"), engine


def invoke(*args):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def exported(folder, fmt: str, catalog: str) -> list[dict]:
    run("export", "judge-data", "--format", fmt, "--out", str(folder / fmt), "--catalog", catalog)
    return pq.read_table(folder / fmt / "judge-data" / "v1" / fmt / "train.parquet").to_pylist()


@pytest.mark.usefixtures("prefect_harness")
def test_exports_never_use_cut_or_reasked_replies_when_a_complete_one_exists(tmp_path, engines):
    """issue 12 item 17: a reply cut at max_tokens and re-asked exports as its rationale plus a rebuilt
    `Verdict: [[X]]` line (never the `[re-ask]` marker), and neither the SFT target nor a chosen reply is a cut or
    re-asked one while a complete right judgment exists."""
    complete = "Short and complete reasoning.\nVerdict: [[A>B]]"

    def judge(req, i):
        if req.choices:  # the re-ask: the cut reply 0 says A>B, the cut reply 3 says B>A
            return "[[A>B]]" if "Long careful" in req.messages[-2].content else "[[B>A]]"
        return ["Long careful reasoning about both responses, " * 30 + CutEngine.CUT, complete,
                "B reads better.\nVerdict: [[B>A]]", "B is clearly " + CutEngine.CUT][i]

    items = [{"prompt": "Which is better?", "response_a": "good", "response_b": "bad", "label": "A>B"}]
    config, catalog, _ = rationale_setup(tmp_path, engines, items, judge, engine_cls=CutEngine)
    s = json.loads(run("rationalize", str(config), "--catalog", catalog, "--json"))
    assert s["stats"]["reasked"] == 2 and s["stats"]["rationale_pairs"] == 2
    pref, sft = exported(tmp_path, "trl-preference", catalog), exported(tmp_path, "trl-sft", catalog)
    contents = [r[side][0]["content"] for r in pref for side in ("chosen", "rejected")]
    contents += [r["messages"][-1]["content"] for r in sft]
    assert all("[re-ask]" not in c and c.splitlines()[-1].startswith("Verdict: [[") for c in contents), contents
    assert [r["messages"][-1]["content"] for r in sft] == [complete]  # not the longer, cut one
    assert {r["chosen"][0]["content"] for r in pref} == {complete}
    assert {r["rejected"][0]["content"] for r in pref} == {"B reads better.\nVerdict: [[B>A]]",
                                                           "B is clearly\nVerdict: [[B>A]]"}


@pytest.mark.usefixtures("prefect_harness")
def test_consensus_counts_every_sample_not_distinct_replies(tmp_path, engines):
    """issue 12 item 18: 3 identical A replies + 1 B reply are 3 votes to 1 (a consensus at margin 0.5), not 1 to 1;
    the identical replies are stored once, the item keeps one vote per sample."""
    same, other = "Same reasoning.\nVerdict: [[A>B]]", "Other reasoning.\nVerdict: [[B>A]]"
    items = [{"prompt": "Which is better?", "response_a": "one", "response_b": "two"}]
    config, catalog, _ = rationale_setup(tmp_path, engines, items, lambda req, i: other if i == 3 else same,
                                         "min_consensus_margin: 0.5\n")
    st = json.loads(run("rationalize", str(config), "--catalog", catalog, "--json"))["stats"]
    assert st["references"] == {"consensus": 1} and st["judgments"] == {"ok": 4}
    assert st["agreement_with_reference"] == 0.75 and st["rationale_pairs"] == 1
    con = duckdb.connect(catalog, read_only=True)
    votes, distinct = con.execute("SELECT sample_ids, judgment_ids FROM rationale_items").fetchone()
    assert con.execute("SELECT count(*) FROM judgments").fetchone()[0] == 2
    con.close()
    assert len(json.loads(votes)) == 4 and len(json.loads(distinct)) == 2


@pytest.mark.usefixtures("prefect_harness")
def test_half_the_items_are_shown_swapped_so_position_bias_is_not_training_signal(tmp_path, engines):
    """issue 12 item 19: a judge that always answers A>B agrees with every gold label when items are judged in the
    file's order and the file's labels are all A>B. Half the items of each label must be shown swapped (recorded
    per item), so that judge is right on half only, whatever the file's label pattern (here A>B ×4, then
    alternating: swapping every second item alone would show the alternating ones as all A), and the reference
    follows the order shown."""
    from tests.fakes import response_texts

    labels = ["A>B"] * 4 + ["A>B", "B>A"] * 2
    items = [{"prompt": f"Q{i}?", "response_a": f"first {i}", "response_b": f"second {i}", "label": label}
             for i, label in enumerate(labels)]
    config, catalog, engine = rationale_setup(tmp_path, engines, items, lambda req, i: f"Reason {i}.\nVerdict: [[A>B]]")
    st = json.loads(run("rationalize", str(config), "--catalog", catalog, "--json"))["stats"]
    assert st["agreement_with_reference"] == 0.5 and st["swapped_items"] == 4
    shown_first = Counter(response_texts(r)[0].split()[0] for r in engine.requests)
    assert shown_first == {"first": 4, "second": 4}
    con = duckdb.connect(catalog, read_only=True)
    rows = con.execute("""SELECT i.swapped, i.reference, a.text FROM rationale_items i
                          JOIN samples a ON a.id = i.response_a_id""").fetchall()
    con.close()
    for swapped, reference, shown_as_a in rows:  # A is the response shown first; the gold side follows it
        gold = labels[int(shown_as_a.split()[1])][0]
        assert swapped == shown_as_a.startswith("second")
        assert reference == ({"A": "B", "B": "A"}[gold] if swapped else gold)
    assert Counter((label, swapped) for (swapped, _, _), label in
                   zip(sorted(rows, key=lambda r: int(r[2].split()[1])), labels)) == \
        {("A>B", False): 3, ("A>B", True): 3, ("B>A", False): 1, ("B>A", True): 1}
    sft = exported(tmp_path, "trl-sft", catalog)
    assert len(sft) == 4 and all(r["messages"][-1]["content"].endswith("[[A>B]]") for r in sft)


@pytest.mark.usefixtures("prefect_harness")
def test_rationale_runs_have_the_same_error_rule_and_budget_as_other_builds(tmp_path, engines):
    """issue 12 item 20: a rationale run whose calls mostly fail writes no version and exits 1 (max_error_rate),
    and `budget.max_calls` stops it the same way the preference and label-steps builds stop."""
    items = [{"prompt": f"Q{i}?", "response_a": "a", "response_b": "b", "label": "A>B"} for i in range(3)]
    config, catalog, _ = rationale_setup(tmp_path, engines, items, lambda req, i: RuntimeError("HTTP 503"))
    code, _, err = invoke("rationalize", str(config), "--catalog", catalog, "--json")
    assert code == 1 and "3 of 3 engine calls failed after retries (100%, more than max_error_rate=0.25)" in err, err
    assert duckdb.connect(catalog, read_only=True).execute("SELECT count(*) FROM dataset_versions").fetchone() == (0,)

    config, catalog, _ = rationale_setup(tmp_path, engines, items, lambda req, i: f"R.\nVerdict: [[A>B]]",
                                         "budget: {max_calls: 2}\n", model="scripted-12b")
    code, _, err = invoke("rationalize", str(config), "--catalog", catalog)
    assert code == 1 and "budget reached: max_calls=2 (spent 2)" in err and "No version was written" in err, err


# -- review finding (issue 15 session): unknown is not wrong, nor right enough to train on ----------------------
def test_only_incomplete_agreeing_judgments_give_no_chosen_and_no_sft_target():
    """Cut or re-asked replies that agree with the reference are unknown quality: with no complete one agreeing,
    the item has no chosen rationale and no SFT target (they still vote)."""
    from prefsynth.tasks.rationalize import best_rationale, target_problem

    right = [j("cut", "A>B", "x" * 90), j("reasked", "A>>B", "x" * 40)]
    wrong = [j("w1", "B>A", "y" * 50)]
    incomplete = {"cut", "reasked"}
    assert best_rationale(right, incomplete) is None
    assert rationale_pairs("item", right, wrong, max_pairs=2, incomplete=incomplete) == []
    assert target_problem(right, incomplete) == "only incomplete judgments agree"
    assert target_problem(right[:1] + [j("ok", "A>B")], incomplete) is None
    assert target_problem([], incomplete) is None  # nothing agreed: not this problem


@pytest.mark.usefixtures("prefect_harness")
def test_an_item_whose_agreeing_replies_are_all_cut_or_reasked_exports_nothing(tmp_path, engines):
    """Gold A>B; the two A>B replies are one cut at max_tokens and one read through the re-ask, the two complete
    replies say B>A: no pair, no SFT row, and the stats say why."""

    def judge(req, i):
        if req.choices:
            return "[[A>B]]"
        return ["Long careful reasoning, " * 20 + CutEngine.CUT, "A is right.\nVerdict: [[A>B]]" + CutEngine.CUT,
                "B reads better.\nVerdict: [[B>A]]", "B is clearer.\nVerdict: [[B>A]]"][i]

    items = [{"prompt": "Which is better?", "response_a": "good", "response_b": "bad", "label": "A>B"}]
    config, catalog, _ = rationale_setup(tmp_path, engines, items, judge, "order: as_given\n", engine_cls=CutEngine,
                                         model="scripted-cut-only")
    st = json.loads(run("rationalize", str(config), "--catalog", catalog, "--json"))["stats"]
    assert st["judgments"] == {"ok": 4} and st["incomplete"] == 2
    assert st["agreement_with_reference"] == 0.5  # the cut replies still vote
    assert st["rationale_pairs"] == 0 and st["sft_rows"] == 0
    assert st["no_target"] == {"only incomplete judgments agree": 1}
    con = duckdb.connect(catalog, read_only=True)
    assert con.execute("SELECT best_id, right_ids FROM rationale_items").fetchone()[0] is None
    con.close()


@pytest.mark.usefixtures("prefect_harness")
def test_items_overlap_in_groups_on_a_server_with_the_same_records(tmp_path, monkeypatch):
    """issue 13 item 3 for rationalize: with a server engine the items are judged in overlapping groups (each
    group's re-asks go out as soon as its replies are in); the version is the one stage by stage gives."""
    from prefsynth.runtime.calls import CallRunner
    from prefsynth.tasks import rationale_items
    from tests.latency_server import LatencyServer

    groups = []
    real = rationale_items.sample_judgments
    monkeypatch.setattr(rationale_items, "sample_judgments", lambda c, items, calls: groups.append(len(items)) or
                        real(c, items, calls))
    items = [{"prompt": f"Q{i}?", "response_a": f"a{i}", "response_b": f"b{i}", "label": "A>B"} for i in range(6)]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    with LatencyServer() as server:
        engine = (f"{{kind: openai, base_url: '{server.base_url}', model: sim, api_key_env: null, "
                  "max_concurrency: 4, backoff_s: 0.05}")
        (tmp_path / "r.yaml").write_text(f"name: judge-data\nitems: {{path: items.jsonl}}\nengines: {{j: {engine}}}\n"
                                         "judge: {engine: j, temperature: 0.9}\nk: 3\n")
        streamed = json.loads(run("rationalize", str(tmp_path / "r.yaml"), "--catalog", str(tmp_path / "a.duckdb"),
                                  "--json"))
        assert len(groups) == 6  # one group per item here
        monkeypatch.setattr(CallRunner, "all_stream", lambda self: False)
        staged = json.loads(run("rationalize", str(tmp_path / "r.yaml"), "--catalog", str(tmp_path / "b.duckdb"),
                                "--json"))
    assert groups[6:] == [6] and streamed["rows"] == staged["rows"] == 6
    assert streamed["content_hash"] == staged["content_hash"]
