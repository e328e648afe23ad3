"""The `hf` export layout: the Hub folder layout with a dataset card, `save_to_disk`, and publishing.

The token comes from `HF_TOKEN` at publish time and is never written anywhere. Tests replace `publish_folder`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ...schemas.dataset import DatasetVersion
from .base import TableFormat
from .card import dataset_card
from .layout import replacing


class PublishError(RuntimeError):
    pass


def write_hf_folder(table: pa.Table, version: DatasetVersion, table_format: TableFormat, folder: Path,
                    license: str = "other") -> Path:
    """FOLDER (OUT/NAME/vN/hf, layout.py): data/train-00000-of-00001.parquet (`table`, in `table_format`) +
    README.md (the card; Hub layout, `load_dataset(folder)` reads it) and disk/ (`Dataset.save_to_disk`, for
    `load_from_disk`). Built in a temp folder, then renamed into place; returns FOLDER, the one to publish."""
    try:
        import datasets
    except ImportError:  # the hf extra is optional
        raise PublishError("the hf format needs the `datasets` package: pip install 'prefsynth[hf]'") from None
    with replacing(folder) as tmp:
        (tmp / "data").mkdir()
        pq.write_table(table, tmp / "data" / "train-00000-of-00001.parquet")
        (tmp / "README.md").write_text(dataset_card(version, table_format, license), encoding="utf-8")
        datasets.Dataset(table).save_to_disk(str(tmp / "disk"))
    return folder


def publish_folder(folder: Path, repo_id: str, private: bool) -> str:
    """Upload a Hub-layout folder as a dataset repo; returns its URL. Needs HF_TOKEN in the environment."""
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise PublishError("pushing to the Hub needs HF_TOKEN in the environment")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(folder), ignore_patterns=["disk/*"])
    except Exception as exc:  # HTTP, network and validation errors alike: one line, never the token
        # `from None`: the original traceback carries the server's reply, which may echo our headers.
        raise PublishError(f"push to {repo_id} failed: {_redact(f'{type(exc).__name__}: {exc}', token)}") from None
    return f"https://huggingface.co/datasets/{repo_id}"


def _redact(text: str, token: str, limit: int = 500) -> str:
    """The error text without the token (a server may echo request headers), redacted before it is shortened."""
    text = text.replace(token, "***")
    return text if len(text) <= limit else text[: limit - 1] + "…"
