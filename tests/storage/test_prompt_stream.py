"""A prompt file is read whole once to check it, then again chunk by chunk: a build holds one chunk of prompts.

Before, the preference flow held every prompt of the file for the whole build (~0.8 KB each: 70 MB of the
10x throughput workload's 100,000, the one part of its Python memory that grew with its size).
"""

from __future__ import annotations

import json
import tracemalloc

import pytest

from prefsynth.storage.inputs import InputError, read_prompt_file
from prefsynth.storage.prompt_stream import chunked


def write(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_chunks_give_the_prompts_in_first_seen_order_once_each(tmp_path):
    path = tmp_path / "p.jsonl"
    write(path, [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "a"}, {"prompt": "c"}, {"prompt": "d"}])
    prompts = read_prompt_file(path).prompts
    assert len(prompts) == 4
    chunks = list(chunked(prompts, 3))
    assert [[p.text for p in c] for c in chunks] == [["a", "b", "c"], ["d"]]
    assert [p.source for c in chunks for p in c] == ["p.jsonl:1", "p.jsonl:2", "p.jsonl:4", "p.jsonl:5"]
    assert [p.text for p in prompts] == ["a", "b", "c", "d"] and prompts[2].text == "c"
    assert [p.text for p in prompts[1:3]] == ["b", "c"]
    assert [p.text for p in prompts.limited(2)] == ["a", "b"] and len(prompts.limited(2)) == 2


def test_the_prompts_of_a_file_are_not_held_in_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    write(path, [{"prompt": f"Question {i}: explain topic number {i} in a few sentences."} for i in range(20_000)])
    tracemalloc.start()
    try:
        prompts = read_prompt_file(path).prompts
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(prompts) == 20_000
    assert held < 2**20, f"{held / 2**20:.1f} MB held for 20,000 prompts"  # as Prompt objects: ~16 MB


def test_a_file_changed_between_the_check_and_the_chunks_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "p.jsonl"
    write(path, [{"prompt": "a"}, {"prompt": "b"}])
    prompts = read_prompt_file(path).prompts
    write(path, [{"prompt": "a"}, {"prompt": "changed"}])
    with pytest.raises(InputError, match=r"p\.jsonl:2: .*changed since it was read"):
        list(chunked(prompts, 10))


def test_a_parquet_file_is_read_in_batches_not_whole(tmp_path):
    """The second pass keeps its reader open for the whole build: it must hold a batch of rows, not the file's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "big.parquet"
    texts = [f"Question {i}: " + "explain this topic in a few careful sentences, please. " * 4 for i in range(20_000)]
    pq.write_table(pa.table({"prompt": texts}), path, row_group_size=2_000)
    prompts = read_prompt_file(path).prompts
    tracemalloc.start()
    try:
        chunks = chunked(prompts, 100)
        first = next(chunks)  # the pass is under way, its reader open
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.text for p in first] == texts[:100] and [p.source for p in first[:2]] == ["big.parquet:1",
                                                                                        "big.parquet:2"]
    assert held < 4 * 2**20, f"{held / 2**20:.1f} MB held one chunk into a 20,000-row file"  # whole: ~10 MB
    assert sum(len(c) for c in chunks) + len(first) == 20_000
