"""Checks behind every config value: the message names the value and what is accepted."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal

from nfpo.errors import ConfigError


def check(ok: bool, name: str, value: Any, accepted: str) -> None:
    if not ok:
        raise ConfigError(f"invalid {name}={value!r}: expected {accepted}")


def choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    check(value in choices, name, value, "one of " + ", ".join(choices))


def type_ok(value: Any, tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is Literal:
        return isinstance(value, str) and value in args
    if origin is tuple:
        return isinstance(value, tuple) and all(type_ok(v, args[0]) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(type_ok(value, a) for a in args)
    if tp is type(None):
        return value is None
    return True


def check_types(section: Any) -> None:
    """Every field has the type its annotation names (values loaded from JSON included)."""
    hints = typing.get_type_hints(type(section))
    for f in dataclasses.fields(section):
        value, tp = getattr(section, f.name), hints[f.name]
        if typing.get_origin(tp) is Literal:
            choice(f.name if f.name != "kind" else "policy", value, typing.get_args(tp))
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"invalid {f.name}={value!r}: expected a finite number")
        elif not type_ok(value, tp):
            name = getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
            raise ConfigError(f"invalid {f.name}={value!r}: expected a value of type {name}")
