"""Content-hash identities: the same item gets the same id in every build."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_id(*parts: Any, length: int = 16) -> str:
    """A short stable hash of JSON-serialisable parts (pydantic models are dumped first)."""
    norm = [p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in parts]
    blob = json.dumps(norm, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
