"""Embedded-engine speed: free generation vs judging (free text + re-ask, small grammar, JSON-schema grammar).

Why: structured output must not make judging much slower than free generation. llama.cpp grammars built from
JSON schemas with long string bounds decode far slower than free text; prefsynth judges in free text, parses
the last line, and re-asks once with a tiny choice grammar right after the first call (KV prefix reused).

    .venv/bin/python benchmarks/engine_speed.py [--items 6] [--out benchmarks/results/engine_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from llama_cpp import Llama, LlamaGrammar

from prefsynth.engines.llama_cpp import choice_grammar, embedded_model_path
from prefsynth.tasks.judge.parse import parse_pairwise
from prefsynth.tasks.judge.prompts import REASK_USER, VERDICT_CHOICES, pairwise_messages
from workload import PROMPTS as ALL_PROMPTS  # benchmarks/workload.py (this folder is on sys.path)

PROMPTS = ALL_PROMPTS[:8]

JSON_SCHEMA = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string", "maxLength": 600},
        "verdict": {"enum": ["A>>B", "A>B", "A=B", "B>A", "B>>A"]},
    },
    "required": ["rationale", "verdict"],
}
SMALL_GBNF = r"""root ::= rationale "\nVerdict: [[" verdict "]]"
rationale ::= [^\n\[]{1,400}
verdict ::= "A>>B" | "A>B" | "A=B" | "B>A" | "B>>A"
"""


def timed_chat(llm: Llama, messages, max_tokens: int, grammar=None) -> tuple[str, int, int, float]:
    start = time.perf_counter()
    out = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, seed=0, grammar=grammar)
    elapsed = time.perf_counter() - start
    usage = out["usage"]
    return out["choices"][0]["message"]["content"] or "", usage["prompt_tokens"], usage["completion_tokens"], elapsed


def rate(rows: list[tuple[int, int, float]]) -> dict:
    prompt = sum(r[0] for r in rows)
    completion = sum(r[1] for r in rows)
    seconds = sum(r[2] for r in rows)
    return {
        "calls": len(rows),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "seconds": round(seconds, 2),
        "completion_tokens_per_s": round(completion / seconds, 1) if seconds else None,
        "seconds_per_call": round(seconds / len(rows), 2) if rows else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=6, help="prompts sampled / pairs judged per mode")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="llama.cpp threads")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "engine_speed.json")
    args = ap.parse_args()

    llm = Llama(model_path=str(embedded_model_path()), n_ctx=2048, n_threads=args.threads, verbose=False)
    prompts = PROMPTS[: args.items]
    free, answers = [], []
    for p in prompts:
        text, pt, ct, s = timed_chat(llm, [{"role": "user", "content": p}], 96)
        free.append((pt, ct, s))
        answers.append(text)

    pairs = [(prompts[i], answers[i], answers[(i + 1) % len(answers)]) for i in range(len(prompts))]
    judge_msgs = [[m.model_dump() for m in pairwise_messages(*pair)] for pair in pairs]
    results = {"free_generation": rate(free)}
    results["judge_free_text"], results["judge_reask"], parsed = judge_with_reask(llm, judge_msgs)
    results["judge_free_text"]["parsed_without_reask"] = parsed
    results["judge_small_gbnf"] = rate([timed_chat(llm, m, 160, LlamaGrammar.from_string(SMALL_GBNF, verbose=False))[1:] for m in judge_msgs[:3]])
    schema_grammar = LlamaGrammar.from_json_schema(json.dumps(JSON_SCHEMA), verbose=False)
    results["judge_json_schema_grammar"] = rate([timed_chat(llm, m, 160, schema_grammar)[1:] for m in judge_msgs[:2]])
    results["machine"] = {"cpus": os.cpu_count(), "threads": args.threads, "platform": platform.platform(),
                          "model": embedded_model_path().name}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    for mode, r in results.items():
        if mode != "machine":
            print(f"{mode:28s} {r['completion_tokens_per_s']!s:>7} tok/s  {r['seconds_per_call']!s:>6} s/call  ({r['calls']} calls)")
    print(f"wrote {args.out}")


def judge_with_reask(llm: Llama, judge_msgs) -> tuple[dict, dict, int]:
    """The shipped protocol: free-text judgment, then (if unparsed) a choice-constrained re-ask right after."""
    firsts, reasks, parsed = [], [], 0
    grammar = LlamaGrammar.from_string(choice_grammar(VERDICT_CHOICES), verbose=False)
    for m in judge_msgs:
        text, pt, ct, s = timed_chat(llm, m, 160)
        firsts.append((pt, ct, s))
        if parse_pairwise(text).verdict is not None:
            parsed += 1
            continue
        follow = m + [{"role": "assistant", "content": text}, {"role": "user", "content": REASK_USER}]
        reasks.append(timed_chat(llm, follow, 12, grammar)[1:])
    return rate(firsts), rate(reasks), parsed


if __name__ == "__main__":
    main()
