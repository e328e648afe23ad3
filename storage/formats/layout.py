"""Where an export goes: OUT/NAME/vN/FORMAT/, one folder per format, which that format alone writes.

Formats of one version share OUT/NAME/vN/ (trl-preference and trl-sft both write a `train.parquet`; hf writes a
whole Hub folder), so each gets its own folder and an export replaces that folder only, never a sibling's.
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ...schemas.dataset import DatasetVersion


def format_folder(out_dir: Path, version: DatasetVersion, fmt: str) -> Path:
    """OUT/NAME/vN/FORMAT: the folder `fmt`'s export of `version` owns."""
    return Path(out_dir) / version.name / f"v{version.version}" / fmt


@contextmanager
def replacing(final: Path) -> Iterator[Path]:
    """Yield an empty temp folder next to `final`; when the body returns, it becomes `final` (the previous
    export of that format goes, nothing else in the parent does). A failed export leaves `final` as it was."""
    final.parent.mkdir(parents=True, exist_ok=True)
    # A unique name: two exports of one format at once must not build in (or delete) each other's temp folder.
    # mkdir (not mkdtemp's 0700) so the export gets the user's usual permissions.
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
    if final.exists():
        final.rename(old)  # moved aside, not deleted first: no moment with neither export
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
