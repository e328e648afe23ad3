"""Loading a flow config from YAML: validate it against its model; errors name the file, line and field.

    FILE:LINE: field 'engines.e.colour': unknown key

Pydantic writes the tag of a discriminated union's member into an error's location (`engines.e.vllm.colour`);
the tags are read from the config model itself (`union_tags`), so a new engine, juror, filter or aggregation
kind needs no entry here.
"""

from __future__ import annotations

import re
import typing
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """A config that does not validate; the message lists FILE:LINE: field 'a.b': problem, one per line."""


def load_config(path: str | Path, model: type[Model]) -> Model:
    """Read and validate a YAML config; relative input paths are resolved against the config's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, text, data, exc, union_tags(model))) from None
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: Model, base: Path) -> Model:
    """Input files (`prompts.path`, `problems.path`, `items.path`, …) and engines' `model_path` are relative to
    the config file, whichever flow the config is for."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel) and isinstance(getattr(value, "path", None), str):
            value.path = str((base / value.path).resolve())
    for engine in (getattr(config, "engines", None) or {}).values():
        if getattr(engine, "model_path", None):
            engine.model_path = str((base / engine.model_path).resolve())
    return config


def _describe(path: Path, text: str, data: dict, exc: ValidationError, tags: frozenset[str]) -> str:
    lines = []
    for err in exc.errors():
        loc = _yaml_loc(data, err["loc"], tags)
        msg = err["msg"].removeprefix("Value error, ")
        named = _named_field(data, msg) if not loc else None
        if named is not None:  # a check across fields that names its field: on that field's line
            line = _line_of(text, named)
            lines.append(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")
            continue
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{where}: field '{field}': {msg}")
    return "\n".join(lines)


def _named_field(data: dict, msg: str) -> list | None:
    """The YAML location of the field a model-level check names first (`policies.0.engine: no engine named
    'x'`: such errors have no location of their own), when the config has that key; else None."""
    head, sep, _ = msg.partition(": ")
    if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", head):
        return None
    loc = [int(p) if p.isdigit() else p for p in head.split(".")]
    return loc if isinstance(data, dict) and loc[0] in data else None


def _yaml_loc(data: Any, loc: tuple, tags: frozenset[str]) -> list:
    """An error's location as the YAML spells it: a union tag is dropped where the YAML has no such key (so an
    engine named `openai` keeps its name in `engines.openai.openai.model`, while the tag after it goes)."""
    kept: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and part in tags:
            continue
        else:
            node = None
        kept.append(part)
    return kept


@cache
def union_tags(model: type[BaseModel]) -> frozenset[str]:
    """Every tag of every discriminated union reachable from `model`'s fields (the members' `kind` literals:
    engine kinds, juror kinds, filter kinds, policy kinds, aggregation kinds)."""
    tags: set[str] = set()
    seen: set[type] = set()

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in seen:
                seen.add(tp)
                for field in tp.model_fields.values():
                    _add_tags(tags, field.annotation, field.discriminator)
                    walk(field.annotation)
            return
        if typing.get_origin(tp) is Annotated:
            inner, *meta = typing.get_args(tp)
            for m in meta:
                if isinstance(m, FieldInfo):
                    _add_tags(tags, inner, m.discriminator)
            walk(inner)
            return
        for arg in typing.get_args(tp):
            walk(arg)

    walk(model)
    return frozenset(tags)


def _add_tags(tags: set[str], union: Any, discriminator: Any) -> None:
    """The literal values of `discriminator` on each member of `union` (when it is a string field name)."""
    if not isinstance(discriminator, str):
        return
    for member in typing.get_args(union):
        field = getattr(member, "model_fields", {}).get(discriminator)
        if field is not None and typing.get_origin(field.annotation) is Literal:
            tags.update(str(v) for v in typing.get_args(field.annotation))


def _line_of(text: str, loc: list) -> int | None:
    """1-based line of the YAML node at `loc` (the deepest one that exists)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    best = node.start_mark.line + 1 if node else None
    for part in loc:
        node = _child(node, part)
        if node is None:
            break
        best = node.start_mark.line + 1
    return best


def _child(node, part):
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
