"""Reading input rows (JSONL, CSV, Parquet) with errors that name the file, line and field."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from pydantic import ValidationError

from ..schemas.engine import Message
from ..schemas.preference import Prompt
from .prompt_stream import PromptSequence


class InputError(ValueError):
    """A bad input row: `str(err)` is `FILE:LINE: field 'F': what is wrong`."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field, problem
        where = f"{path}:{line}" if line is not None else str(path)
        what = f"field '{field}': {problem}" if field else problem
        super().__init__(f"{where}: {what}")


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    for name, suffixes in {"jsonl": (".jsonl", ".ndjson", ".json"), "csv": (".csv",), "parquet": (".parquet",)}.items():
        if suffix in suffixes:
            return name
    raise InputError(path, None, None, f"cannot tell the format from the suffix {suffix!r}; set format")


def read_rows(
    path: Path, fmt: str = "auto", skipped: list[InputError] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) pairs; line numbers are 1-based file lines (Parquet: row number).

    With a `skipped` list, a JSONL line that cannot be read (bad UTF-8, not a JSON object) is added to it and
    reading goes on; without one it is raised. File-level problems are always raised.
    """
    if not path.is_file():
        raise InputError(path, None, None, "file not found")
    fmt = detect_format(path, fmt)
    if fmt == "jsonl":
        yield from _jsonl_rows(path, skipped)
    elif fmt == "csv":
        yield from _csv_rows(path)
    else:
        yield from _parquet_rows(path)


def _parquet_rows(path: Path, batch_rows: int = 1024) -> Iterator[tuple[int, dict[str, Any]]]:
    """A batch of rows at a time (a prompt file is read again while a whole build runs: storage/prompt_stream.py)."""
    import pyarrow.parquet as pq

    rows = (row for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows) for row in batch.to_pylist())
    yield from enumerate(rows, start=1)


def _decode(path: Path, data: bytes, line: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, line, None, f"invalid UTF-8 at byte {exc.start}") from None


def _jsonl_rows(path: Path, skipped: list[InputError] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                row = _jsonl_row(path, lineno, raw)
            except InputError as exc:
                if skipped is None:
                    raise
                skipped.append(exc)
                continue
            if row is not None:
                yield lineno, row


def _jsonl_row(path: Path, lineno: int, raw: bytes) -> dict[str, Any] | None:
    """One JSONL line as a row; None for a blank line."""
    text = _decode(path, raw, lineno).strip()
    if not text:
        return None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, lineno, None, f"malformed JSON ({exc.msg}; column {exc.colno})") from None
    if not isinstance(row, dict):
        raise InputError(path, lineno, None, f"expected a JSON object, got {type(row).__name__}")
    return row


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, line, None, f"invalid UTF-8 at byte {exc.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, row


@dataclass
class PromptFile:
    """The prompts of a file and, with `on_error: skip`, the bad rows left out (one `InputError` each)."""

    prompts: Sequence[Prompt]  # a PromptSequence from `read_prompt_file`: read again on demand
    skipped: list[InputError] = dc_field(default_factory=list)


def load_prompts(
    path: Path | str, field: str = "prompt", fmt: str = "auto", max_chars: int | None = None,
    reference_field: str | None = None,
) -> list[Prompt]:
    """Prompts from a file, all in memory; the first bad row is raised (see `read_prompt_file`)."""
    return list(read_prompt_file(path, field, fmt, max_chars, reference_field).prompts)


def read_prompt_file(
    path: Path | str, field: str = "prompt", fmt: str = "auto", max_chars: int | None = None,
    reference_field: str | None = None, on_error: Literal["fail", "skip"] = "fail",
) -> PromptFile:
    """Prompts from a file. The `field` holds a string or a list of chat messages ({role, content}); the
    optional `reference_field` a reference answer for pointwise judges.

    Identical prompts are kept once (identity is the content hash), in first-seen order. A bad row is raised,
    or with `on_error="skip"` recorded in `skipped`; a file with no good row is an error either way.
    """
    path = Path(path)
    skipped: list[InputError] | None = [] if on_error == "skip" else None
    first: dict[str, int] = {}  # prompt id → the line it is first on (identical prompts are kept once)
    for lineno, row in read_rows(path, fmt, skipped):
        try:
            prompt = prompt_from_row(path, lineno, row, field, max_chars, reference_field)
        except InputError as exc:
            if skipped is None:
                raise
            skipped.append(exc)
            continue
        first.setdefault(prompt.id, lineno)
    if not first:
        why = f" ({len(skipped)} bad rows skipped; first: {skipped[0]})" if skipped else ""
        raise InputError(path, None, None, f"no prompts in the file{why}")
    # Only where each prompt is, not the prompts: the flow reads them again chunk by chunk (storage/prompt_stream.py).
    prompts = PromptSequence.of(path, lambda: read_rows(path, fmt, []),
                                lambda line, row: prompt_from_row(path, line, row, field, max_chars, reference_field),
                                first)
    return PromptFile(prompts, skipped or [])


def prompt_from_row(
    path: Path, lineno: int, row: dict, field: str, max_chars: int | None, reference_field: str | None = None
) -> Prompt:
    if field not in row or row[field] is None:
        raise InputError(path, lineno, field, f"missing (row has: {', '.join(map(str, row)) or 'no fields'})")
    value = row[field]
    source = f"{path.name}:{lineno}"
    reference = _reference(path, lineno, row, reference_field)
    if isinstance(value, str):
        _check_text(path, lineno, field, value, max_chars)
        return Prompt.of(value, source, reference)
    if isinstance(value, list):
        messages = _messages(path, lineno, field, value)
        for m in messages:
            _check_text(path, lineno, field, m.content, max_chars)
        return Prompt.of(messages, source, reference)
    raise InputError(path, lineno, field, f"expected a string or a list of messages, got {type(value).__name__}")


def _reference(path: Path, lineno: int, row: dict, reference_field: str | None) -> str | None:
    """The row's reference answer; a missing or empty one is no reference (references are optional per row)."""
    if reference_field is None or row.get(reference_field) in (None, ""):
        return None
    value = row[reference_field]
    if not isinstance(value, str):
        raise InputError(path, lineno, reference_field, f"expected a string, got {type(value).__name__}")
    return value


def _check_text(path: Path, lineno: int, field: str, text: str, max_chars: int | None) -> None:
    if not text.strip():
        raise InputError(path, lineno, field, "empty prompt")
    if max_chars is not None and len(text) > max_chars:
        raise InputError(path, lineno, field, f"prompt has {len(text)} characters, more than max_prompt_chars={max_chars}")


def _messages(path: Path, lineno: int, field: str, value: list) -> tuple[Message, ...]:
    if not value:
        raise InputError(path, lineno, field, "empty message list")
    try:
        messages = tuple(Message.model_validate(m) for m in value)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(path, lineno, field, f"bad chat message ({loc}: {err['msg']})") from None
    if messages[-1].role != "user":
        raise InputError(path, lineno, field, "the last message must have role 'user'")
    return messages
