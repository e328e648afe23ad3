"""The prompts every engine benchmark uses (engine_speed, engine_overhead, peer_distilabel, vllm_speed).

Short everyday instructions: the embedded 135M model answers them in a few dozen tokens, so the benchmarks
measure the plumbing at realistic prompt lengths. The first 8 are the default workload; 16 the largest.
"""

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
