"""Reading the JSONL files users bring: imported judgments and gold labels. Every bad line is reported, each
as FILE:LINE: field 'F': problem. Strict by default: nothing is returned unless the whole file is good. With a
`skipped` list (`--on-error skip`), bad lines are left out and recorded there, one `InputError` per problem, and
the good lines are returned; a file with no good line is an error either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ..schemas.imported import GoldRow, ImportedJudgmentRow
from .inputs import InputError

Row = TypeVar("Row", bound=BaseModel)
_SHOWN = 50  # a file with thousands of bad lines should not flood the terminal


class BadRows(InputError):
    """Several bad lines; `errors` holds one `InputError` per problem, in file order."""

    def __init__(self, path: Path | str, errors: list[InputError]):
        self.errors = errors
        first = errors[0]
        super().__init__(path, first.line, first.field, first.problem)
        shown = "\n".join(str(e) for e in errors[:_SHOWN])
        more = f"\n… and {len(errors) - _SHOWN} more problems" if len(errors) > _SHOWN else ""
        lines = len({e.line for e in errors})
        self.args = (f"{lines} bad line(s) in {path} ({len(errors)} problems):\n{shown}{more}",)

    def __str__(self) -> str:
        return self.args[0]


def read_validated(path: Path | str, model: type[Row], skipped: list[InputError] | None = None) -> list[tuple[int, Row]]:
    """(line, row) for every line of a JSONL file, or `BadRows` listing every problem of every bad line (with a
    `skipped` list: the good lines, the problems appended to it)."""
    path = Path(path)
    rows: list[tuple[int, Row]] = []
    errors: list[InputError] = []
    lines = _lines(path, errors)
    for lineno, raw in lines:
        try:
            rows.append((lineno, model.model_validate(raw)))
        except ValidationError as exc:
            errors.extend(_row_errors(path, lineno, exc))
    return _good_rows(path, rows, errors, skipped)


def _good_rows(path: Path, rows: list, errors: list[InputError], skipped: list[InputError] | None) -> list:
    errors = sorted(errors, key=lambda e: e.line or 0)
    if errors and skipped is None:
        raise BadRows(path, errors)
    if errors:
        bad = {e.line for e in errors}
        rows = [(line, row) for line, row in rows if line not in bad]
        skipped.extend(errors)
    if not rows:
        why = f" ({len(errors)} bad line problems; first: {errors[0]})" if errors else ""
        raise InputError(path, None, None, ("no good line in the file" if errors else "no lines in the file") + why)
    return rows


def _lines(path: Path, errors: list[InputError]) -> list[tuple[int, dict]]:
    """Every line that is a JSON object; malformed lines are recorded as errors and reading goes on."""
    if not path.is_file():
        raise InputError(path, None, None, "file not found")
    out = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                out.extend(_line(path, lineno, raw))
            except InputError as exc:
                errors.append(exc)
    return out


def _line(path: Path, lineno: int, raw: bytes) -> list[tuple[int, dict]]:
    """One JSONL line through the same checks as prompt files (UTF-8, JSON object); blank lines yield nothing."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError(path, lineno, None, f"invalid UTF-8 at byte {exc.start}") from None
    if not text:
        return []
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, lineno, None, f"malformed JSON ({exc.msg}; column {exc.colno})") from None
    if not isinstance(row, dict):
        raise InputError(path, lineno, None, f"expected a JSON object, got {type(row).__name__}")
    return [(lineno, row)]


def _row_errors(path: Path, lineno: int, exc: ValidationError) -> list[InputError]:
    seen, out = set(), []
    for err in exc.errors():
        loc = err["loc"]
        cause = (err.get("ctx") or {}).get("error")
        field = str(loc[0]) if loc else getattr(cause, "field", None)
        problem = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problem = "missing"
        if (field, problem) not in seen:  # a union reports each alternative: one line per field is enough
            seen.add((field, problem))
            out.append(InputError(path, lineno, field, problem))
    return _one_per_field(out)


def _one_per_field(errors: list[InputError]) -> list[InputError]:
    firsts: dict[str | None, InputError] = {}
    for e in errors:
        firsts.setdefault(e.field, e)
    return list(firsts.values())


def read_imported_judgments(path: Path | str, skipped: list[InputError] | None = None
                            ) -> list[tuple[int, ImportedJudgmentRow]]:
    rows = read_validated(path, ImportedJudgmentRow, skipped)
    duplicates = _duplicate_pair_ids(Path(path), rows)
    return _good_rows(Path(path), rows, duplicates, skipped)


def _duplicate_pair_ids(path: Path, rows: list[tuple[int, ImportedJudgmentRow]]) -> list[InputError]:
    """A judge judges a `pair_id` once per order: a second line for it is a copy or a contradiction."""
    first: dict[tuple[str, str, str], int] = {}
    errors = []
    for lineno, row in rows:
        if row.pair_id is None:
            continue
        key = (row.judge, row.pair_id, row.order)
        if key in first:
            errors.append(InputError(path, lineno, "pair_id", f"duplicate id {row.pair_id!r}: judge {row.judge!r} "
                                     f"already judged it in order {row.order} on line {first[key]}"))
        first.setdefault(key, lineno)
    return errors


def read_gold(path: Path | str, skipped: list[InputError] | None = None) -> list[tuple[int, GoldRow]]:
    return read_validated(path, GoldRow, skipped)
