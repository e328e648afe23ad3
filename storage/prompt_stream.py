"""The prompts of a file without holding them: a sequence that reads its file again for the prompts it is asked.

A build checks the whole file before it sends anything (a bad row fails it, or is skipped and reported, before
any engine call), keeping only where each distinct prompt is (its line) and the first 64 bits of its content id,
16 bytes a prompt in two arrays; the flow then reads the prompts again `CHUNK_PROMPTS` at a time (`chunked`). Held
as `Prompt` objects they took ~0.8 KB each: the one part of a preference build's Python memory that grew with its
number of prompts.

The file is read once more per pass: a file that changed in between fails the build with the line whose prompt
is no longer the one checked.
"""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, overload

from ..schemas.preference import Prompt

RowReader = Callable[[], Iterator[tuple[int, dict[str, Any]]]]  # the file's rows as (line, row), in order
MakePrompt = Callable[[int, dict[str, Any]], Prompt]  # the prompt of a row that was checked good


def id_tag(prompt_id: str) -> int:
    """The first 64 bits of a content id: enough to tell that a line's prompt is still the one checked."""
    return int(prompt_id[:16], 16)


class PromptSequence(Sequence[Prompt]):
    """Distinct prompts of a file in first-seen order, read on demand: their `lines` and id tags are held."""

    def __init__(self, path: Path, rows: RowReader, make: MakePrompt, lines: array, tags: array):
        self.path, self._rows, self._make, self._lines, self._tags = path, rows, make, lines, tags

    @classmethod
    def of(cls, path: Path, rows: RowReader, make: MakePrompt, first_lines: dict[str, int]) -> PromptSequence:
        """From {prompt id: its first line}, in first-seen order."""
        return cls(path, rows, make, array("q", first_lines.values()), array("Q", map(id_tag, first_lines)))

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[Prompt]:
        for chunk in self.chunks(1000):
            yield from chunk

    @overload
    def __getitem__(self, i: int) -> Prompt: ...
    @overload
    def __getitem__(self, i: slice) -> list[Prompt]: ...
    def __getitem__(self, i):
        """One prompt or a slice of them: a pass over the file up to the last one (`chunks` goes through all)."""
        if not isinstance(i, slice):
            return self[range(len(self))[i] : range(len(self))[i] + 1][0]
        wanted = range(len(self))[i]
        if not wanted:
            return []
        picked, last = set(wanted), max(wanted)
        got = {}
        for k, prompt in enumerate(self):
            if k in picked:
                got[k] = prompt
            if k == last:
                break
        return [got[k] for k in wanted]

    def limited(self, n: int) -> PromptSequence:
        """The first `n` prompts."""
        return PromptSequence(self.path, self._rows, self._make, self._lines[:n], self._tags[:n])

    def without(self, ids: set[str] | frozenset[str]) -> PromptSequence:
        """The prompts whose id is not in `ids` (an incremental build's new prompts): one pass over the file."""
        keep = array("b", (p.id not in ids for p in self))
        lines = array("q", (ln for ln, k in zip(self._lines, keep) if k))
        tags = array("Q", (t for t, k in zip(self._tags, keep) if k))
        return PromptSequence(self.path, self._rows, self._make, lines, tags)

    def chunks(self, size: int) -> Iterator[list[Prompt]]:
        """The prompts, `size` at a time, in one pass over the file (lines are held in ascending order)."""
        chunk: list[Prompt] = []
        k = 0  # the next wanted prompt
        for line, row in self._rows():
            if k == len(self._lines):
                break
            if line != self._lines[k]:
                continue
            prompt = self._make(line, row)
            if id_tag(prompt.id) != self._tags[k]:
                raise _changed(self.path, line, "its prompt on this line is not the one checked")
            chunk.append(prompt)
            k += 1
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        if k < len(self._lines):
            raise _changed(self.path, None, "it has fewer prompts now")


def _changed(path: Path, line: int | None, how: str):
    from .inputs import InputError  # inputs builds these sequences: imported when needed

    return InputError(path, line, None, f"the prompt file changed since it was read ({how}); rerun the build")


def chunked(prompts: Sequence[Prompt], size: int) -> Iterator[list[Prompt]]:
    """`size` prompts at a time: a `PromptSequence` in one pass over its file, a list by slicing."""
    if isinstance(prompts, PromptSequence):
        yield from prompts.chunks(size)
        return
    for start in range(0, len(prompts), size):
        yield list(prompts[start : start + size])
