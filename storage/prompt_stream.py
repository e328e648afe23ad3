"""The prompts of a file without holding them: a sequence that reads its file again for the prompts it is asked.

A build checks the whole file before it sends anything (a bad row fails it, or is skipped and reported, before
any engine call), keeping only where each distinct prompt is (its line) and its content id; the flow then reads
the prompts again `CHUNK_PROMPTS` at a time (`chunked`). ~0.8 KB a prompt held as `Prompt` objects becomes ~100
bytes: the one part of a preference build's Python memory that grew with its number of prompts.

The file is read once more per pass: a file that changed in between fails the build with the line whose prompt
is no longer the one checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, overload

from ..schemas.preference import Prompt

RowReader = Callable[[], Iterator[tuple[int, dict[str, Any]]]]  # the file's rows as (line, row), in order
MakePrompt = Callable[[int, dict[str, Any]], Prompt]  # the prompt of a row that was checked good


class PromptSequence(Sequence[Prompt]):
    """Distinct prompts of a file in first-seen order, read on demand; `ids` are theirs, in the same order."""

    def __init__(self, path: Path, rows: RowReader, make: MakePrompt, lines: list[int], ids: list[str]):
        self.path, self._rows, self._make, self._lines, self.ids = path, rows, make, lines, ids

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
        return PromptSequence(self.path, self._rows, self._make, self._lines[:n], self.ids[:n])

    def without(self, ids: set[str] | frozenset[str]) -> PromptSequence:
        """The prompts whose id is not in `ids` (an incremental build's new prompts), still not read."""
        kept = [(line, pid) for line, pid in zip(self._lines, self.ids) if pid not in ids]
        return PromptSequence(self.path, self._rows, self._make, [ln for ln, _ in kept], [p for _, p in kept])

    def chunks(self, size: int) -> Iterator[list[Prompt]]:
        """The prompts, `size` at a time, in one pass over the file."""
        wanted = dict(zip(self._lines, self.ids))
        chunk: list[Prompt] = []
        found = 0
        for line, row in self._rows():
            if line not in wanted:
                continue
            prompt = self._make(line, row)
            if prompt.id != wanted[line]:
                from .inputs import InputError  # inputs builds these sequences: imported when needed

                raise InputError(self.path, line, None, "the prompt file changed since it was read (its prompt on "
                                 "this line is not the one checked); rerun the build")
            chunk.append(prompt)
            found += 1
            if len(chunk) == size:
                yield chunk
                chunk = []
            if found == len(self._lines):
                break
        if chunk:
            yield chunk
        if found < len(self._lines):
            from .inputs import InputError

            raise InputError(self.path, None, None, "the prompt file changed since it was read (it has fewer "
                             "prompts now); rerun the build")


def chunked(prompts: Sequence[Prompt], size: int) -> Iterator[list[Prompt]]:
    """`size` prompts at a time: a `PromptSequence` in one pass over its file, a list by slicing."""
    if isinstance(prompts, PromptSequence):
        yield from prompts.chunks(size)
        return
    for start in range(0, len(prompts), size):
        yield list(prompts[start : start + size])
