"""`prefsynth import-judgments FILE`: judgments made elsewhere → catalog records a build can use as jurors.

The whole file is checked first; one bad line means nothing is written (errors name FILE:LINE and the field),
unless `on_error="skip"`: then bad lines are left out and listed (`skipped`), the good ones imported.
Importing the same file twice adds nothing: prompts, responses and judgments are stored by content id.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .catalog import Catalog
from .judgment_files import read_imported_judgments
from .records import write_imported


def import_judgments(path: Path | str, catalog_path: Path | str, on_error: str = "fail") -> dict:
    """Validate every line, then store prompts, responses and judgments in one transaction; returns counts (and
    the skipped lines as FILE:LINE: field 'F': problem with `on_error="skip"`)."""
    skipped: list | None = [] if on_error == "skip" else None
    rows = read_imported_judgments(path, skipped)
    prompts, samples, judgments = {}, {}, {}
    for lineno, row in rows:
        prompt, a, b, judgment = row.records(f"{Path(path).name}:{lineno}")
        prompts.setdefault(prompt.id, prompt)
        samples.setdefault(a.id, a)
        samples.setdefault(b.id, b)
        judgments.setdefault(judgment.id, judgment)
    with Catalog(catalog_path) as catalog:
        new = write_imported(catalog, list(prompts.values()), list(samples.values()), list(judgments.values()))
    return {
        "file": str(path),
        "lines": len(rows),
        "judgments": len(judgments),
        "new_judgments": new,
        "judges": dict(sorted(Counter(j.judge for j in judgments.values()).items())),
        **({"skipped": [str(e) for e in skipped], "skipped_lines": len({(e.line, e.path) for e in skipped})}
           if skipped is not None else {}),
    }
