"""What the benchmarks share: the prompts of the engine benchmarks (engine_speed, engine_overhead,
peer_distilabel, vllm_speed) and how a result file records the machine's load.

The prompts are short everyday instructions: the embedded 135M model answers them in a few dozen tokens, so the
benchmarks measure the plumbing at realistic prompt lengths. The first 8 are the default workload; 16 the largest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PROMPTS = [
    "Explain why the sky is blue in two sentences.",
    "Give three tips for staying focused while studying.",
    "Write a haiku about autumn leaves.",
    "What is 17 multiplied by 3?",
    "Translate 'Good morning' into French.",
    "Summarize Little Red Riding Hood in one sentence.",
    "Name two uses of baking soda.",
    "Why do cats purr?",
    "What causes the seasons on Earth?",
    "Suggest a name for a friendly robot.",
    "How do you boil an egg?",
    "List three primary colors.",
    "What is the capital of Japan?",
    "Describe a rainbow to a child.",
    "Why is exercise good for you?",
    "What does a bee do in a garden?",
]


def machine(load_before: tuple[float, float, float]) -> dict:
    """CPUs and the load average before and after a run: llama.cpp slows down sharply under contention."""
    return {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()]}


def write_result(path: Path, result: dict) -> dict:
    """Write the result file (JSON) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result
