"""Dagster run config from a task's settings dataclasses: each setting is defined once — its type, default and
description (the dataclass docstring's ``Attributes:`` entry) — and the launchpad shows it.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Example:
    ...     '''Attributes:
    ...         epochs: passes over the data (2).
    ...     '''
    ...     epochs: int = 2
    >>> list(config_shape(Example).fields), settings_from_config(Example, {"epochs": 3}).epochs
    (['epochs'], 3)
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from dagster import Array, Field, Noneable, Shape

_SCALARS = (int, float, str, bool)


def attribute_descriptions(cls: type) -> dict[str, str]:
    """``name: description`` entries of a Google-style ``Attributes:`` docstring section."""
    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^Attributes:\n((?:[ \t]+.*\n?|\n)+)", doc, re.M)
    if not match:
        return {}
    descriptions: dict[str, str] = {}
    current = None
    for line in match.group(1).splitlines():
        item = re.match(r"^ {4}(\w+): (.*)$", line)
        if item:
            current = item.group(1)
            descriptions[current] = item.group(2).strip()
        elif current and line.strip():
            descriptions[current] += " " + line.strip()
    return descriptions


def _config_type(hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        [inner] = [a for a in args if a is not type(None)]
        return Noneable(_config_type(inner))
    if origin in (tuple, list):
        return Array(_config_type(args[0]))
    if dataclasses.is_dataclass(hint):
        return config_shape(hint)
    if hint in _SCALARS:
        return hint
    raise TypeError(f"no Dagster config type for {hint!r}")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _default(cls: type, field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise TypeError(f"{cls.__name__}.{field.name} has no default, so it cannot be optional run config")


def run_config_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of a settings dataclass that are run config (not those it takes from the environment)."""
    excluded = set(getattr(cls, "from_settings", ()))
    return [f for f in dataclasses.fields(cls) if f.init and f.name not in excluded]


def config_shape(cls: type, *, extra: Mapping[str, Field] | None = None) -> Shape:
    """The Dagster config shape of a settings dataclass, every field optional with its default; ``extra``
    adds fields that are not settings (e.g. an explicit upstream id)."""
    hints = typing.get_type_hints(cls)
    descriptions = attribute_descriptions(cls)
    fields = {
        f.name: Field(
            _config_type(hints[f.name]),
            default_value=_plain(_default(cls, f)),
            is_required=False,
            description=descriptions.get(f.name),
        )
        for f in run_config_fields(cls)
    }
    return Shape({**fields, **(extra or {})})


def settings_from_config(cls: type, values: Mapping[str, Any]) -> Any:
    """The settings dataclass from run config values (nested dataclasses and tuples rebuilt; keys that are
    not its run config fields are ignored). Raises ValueError when the dataclass refuses a value."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in run_config_fields(cls):
        if f.name not in values:
            continue
        hint, value = hints[f.name], values[f.name]
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = settings_from_config(hint, value)
        elif typing.get_origin(hint) is tuple and value is not None:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
