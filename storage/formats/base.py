"""What an export format is: per dataset kind, a row query, a label derivation and an Arrow schema.

A `TableFormat` is one dataset kind written in one format: `query` reads the version's stored rows from the
catalog (the only part that touches DuckDB), `derive` turns them into the exported records (labels, margins,
message lists: a plain function of the rows and the export options), and `schema` is the Arrow schema those
records are written with. `version` is the format version (`prefsynth.format` in the Parquet schema metadata and
`format_version` in the manifest); None for formats that never changed meaning and carry none.

An `ExportFormat` is what `prefsynth export --format NAME` names: the table formats it writes, by dataset kind,
and its layout (a Parquet file + manifest, or a Hugging Face folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import pyarrow as pa

from ...schemas.dataset import DatasetVersion
from ..catalog import Catalog

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))  # a chat, TRL's conversational form


class ExportError(ValueError):
    pass


@dataclass(frozen=True)
class ExportOptions:
    """Stepwise label options: `threshold` is the label threshold (a step whose MC is <= it is an error),
    `truncate` keeps each row's steps up to its first error. Other formats ignore them."""

    threshold: float = 0.0
    truncate: bool = False


@dataclass(frozen=True)
class TableFormat:
    """One dataset kind in one format (see the module docstring)."""

    format: str  # the format's name, e.g. "trl-preference"
    kind: str  # the dataset kind it reads
    version: str | None  # e.g. "trl-preference/2"; None: the format carries no version
    query: Callable[[Catalog, DatasetVersion], list[Any]]
    derive: Callable[[list[Any], ExportOptions], list[dict]]
    schema: Callable[[list[dict]], pa.Schema]  # the schema of these derived records
    card_tag: str  # the dataset card's task tag
    manifest: Callable[[ExportOptions], dict] = lambda options: {}  # options the export recorded

    def table(self, catalog: Catalog, version: DatasetVersion, options: ExportOptions = ExportOptions()) -> pa.Table:
        """The version's rows in this format."""
        records = self.derive(self.query(catalog, version), options)
        return pa.Table.from_pylist(records, schema=self.schema(records))

    def columns(self) -> list[str]:
        return self.schema([]).names


@dataclass(frozen=True)
class ExportFormat:
    """A `--format` choice: `tables` maps each dataset kind it accepts to how that kind is written."""

    name: str
    summary: str  # one line for `--help` and README's format table
    tables: Mapping[str, TableFormat] = field(default_factory=dict)
    layout: Literal["parquet", "hf"] = "parquet"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.tables)


def format_metadata(version: str | None, **extra: str) -> dict[str, str] | None:
    """Parquet schema metadata naming the format version (and anything else the format states about a column)."""
    meta = {**({"prefsynth.format": version} if version else {}), **{f"prefsynth.{k}": v for k, v in extra.items()}}
    return meta or None
