"""Combinator checkers for YAML documents, each declaring its JSON Schema beside it: strict structural
validation with defaults, one Problem per mistake (unknown fields are errors). The network model's
schema (topology.model_schema) and the lab scenario schema are built from them.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from govnet.errors import Problem

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
SUBNET_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/([0-9]|[12][0-9]|30)$"
NAME_FIX = "use lower-case letters, digits and '-', starting with a letter, at most 40 characters"
REQUIRED = object()

Checker = Callable[["Checker_", Any, str], Any]

# The JSON Schema (draft 2020-12) of each checker, declared beside it, so that the file an editor
# checks against (`govnet topo schema`) is derived from the same declarations that validate the model.
_JSON: dict[Checker, dict[str, Any]] = {}


def described(schema: dict[str, Any]) -> Callable[[Checker], Checker]:
    """Declare the JSON Schema of a checker (a decorator)."""

    def mark(check: Checker) -> Checker:
        _JSON[check] = schema
        return check

    return mark


def json_schema_of(check: Checker) -> dict[str, Any]:
    """The JSON Schema of a checker; {} (anything) for one that declared none."""
    return dict(_JSON.get(check, {}))


class Checker_:
    """Collects problems while walking one model file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def err(self, path: str, message: str, got: object = None, fix: str = "", has_value: bool = True) -> None:
        self.problems.append(Problem(self.source, path, message, got, fix, has_value))


MISSING = object()  # what a checker returns for a value it rejected (the caller leaves it out)


def type_name(value: object) -> str:
    """The name of a value's type, for messages: str, int, list; null for None."""
    return type(value).__name__ if value is not None else "null"


@described({"type": "string", "pattern": NAME_RE.pattern})
def name_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        v.err(path, f"must be a name (text), not {type_name(value)}", value, NAME_FIX)
        return MISSING
    if not NAME_RE.match(value):
        v.err(path, "is not a valid name", value, NAME_FIX)
        return MISSING
    return value


@described({"type": "string"})
def text_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        v.err(path, f"must be text, not {type_name(value)}", value, "quote it")
        return MISSING
    return value


def int_field(lo: int, hi: int) -> Checker:
    def check(v: Checker_, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            v.err(
                path, f"must be a whole number, not {type_name(value)}", value, f"use an integer {lo}..{hi}"
            )
            return MISSING
        if not lo <= value <= hi:
            v.err(path, f"must be between {lo} and {hi}", value, f"use an integer {lo}..{hi}")
            return MISSING
        return value

    return described({"type": "integer", "minimum": lo, "maximum": hi})(check)


@described({"type": "number", "exclusiveMinimum": 0, "maximum": 100_000, "description": "Mbit/s"})
def bw_field(v: Checker_, value: Any, path: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        v.err(path, f"bandwidth must be a number of Mbit/s, not {type_name(value)}", value, "e.g. 100")
        return MISSING
    if value != value:  # NaN compares false with everything and would slip through the range checks
        v.err(path, "bandwidth must be a number of Mbit/s, not NaN", value, "e.g. 100")
        return MISSING
    if value <= 0:
        v.err(path, "bandwidth must be positive", value, "give the link rate in Mbit/s, e.g. 1000")
        return MISSING
    if value > 100_000:
        v.err(path, "bandwidth is above 100000 Mbit/s", value, "give the rate in Mbit/s, e.g. 1000")
        return MISSING
    return value


def nonneg_number(hi: float, unit: str) -> Checker:
    def check(v: Checker_, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            v.err(path, f"must be a number of {unit}, not {type_name(value)}", value, f"e.g. 0 (0..{hi})")
            return MISSING
        if not 0 <= value <= hi:
            v.err(path, f"must be between 0 and {hi} {unit}", value, f"use 0..{hi}")
            return MISSING
        return value

    return described({"type": "number", "minimum": 0, "maximum": hi, "description": unit})(check)


@described({"type": "boolean"})
def bool_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, bool):
        v.err(path, f"must be true or false, not {type_name(value)}", value, "write true or false")
        return MISSING
    return value


@described({"type": "string", "pattern": SUBNET_PATTERN, "description": "IPv4 ADDRESS/PREFIX, /30 or larger"})
def subnet_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        v.err(path, f"must be an IPv4 subnet like 10.10.0.0/16, not {type_name(value)}", value, "quote it")
        return MISSING
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        fix = "write it as ADDRESS/PREFIX with the host bits zero, e.g. 10.10.0.0/16"
        try:
            loose = ipaddress.IPv4Network(value, strict=False)
            fix = f"did you mean {loose}?"
        except ValueError:
            pass
        v.err(path, f"is not a valid IPv4 subnet ({exc})", value, fix)
        return MISSING
    if net.prefixlen > 30:
        v.err(path, "subnet is too small (longer than /30)", value, "use a /30 or larger")
        return MISSING
    return str(net)


def list_of(item: Checker, min_len: int = 0) -> Checker:
    def check(v: Checker_, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            v.err(path, f"must be a list, not {type_name(value)}", value, "write a YAML list (- item)")
            return MISSING
        if len(value) < min_len:
            v.err(path, f"needs at least {min_len} item(s)", value, "add the missing entries")
            return MISSING
        out = []
        for i, x in enumerate(value):
            r = item(v, x, f"{path}[{i}]")
            if r is not MISSING:
                out.append(r)
        return out

    schema: dict[str, Any] = {"type": "array", "items": json_schema_of(item)}
    if min_len:
        schema["minItems"] = min_len
    return described(schema)(check)


def dict_of(item: Checker) -> Checker:
    """A mapping of names to values checked by `item`."""

    def check(v: Checker_, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            v.err(path, f"must be a mapping, not {type_name(value)}", value, "write name: value pairs")
            return MISSING
        out = {}
        for key, x in value.items():
            if name_field(v, key, _join(path, str(key))) is MISSING:
                continue
            r = item(v, x, _join(path, str(key)))
            if r is not MISSING:
                out[key] = r
        return out

    return described(
        {
            "type": "object",
            "propertyNames": {"pattern": NAME_RE.pattern},
            "additionalProperties": json_schema_of(item),
        }
    )(check)


def obj(fields: dict[str, tuple[Checker, Any]], doc: str = "") -> Checker:
    """A mapping with exactly these fields; (checker, default) where default may be REQUIRED."""

    def check(v: Checker_, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            v.err(
                path or "(top level)",
                f"must be a mapping{doc}, not {type_name(value)}",
                value,
                "write key: value pairs",
            )
            return MISSING
        out: dict[str, Any] = {}
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                fix = f"did you mean '{close[0]}'?" if close else f"allowed fields: {', '.join(fields)}"
                v.err(_join(path, str(key)), "unknown field", key, fix)
        for key, (checker, default) in fields.items():
            sub = _join(path, key)
            if key in value:
                r = checker(v, value[key], sub)
                if r is not MISSING:
                    out[key] = r
            elif default is REQUIRED:
                v.err(sub, "is required", None, f"add '{key}:'", has_value=False)
            elif default is dict:
                r = checker(v, {}, sub)
                if r is not MISSING:
                    out[key] = r
            elif default is list:
                out[key] = []
            elif callable(default):
                out[key] = default()
            else:
                out[key] = default
        return out

    props: dict[str, Any] = {}
    for key, (checker, default) in fields.items():
        props[key] = json_schema_of(checker)
        if isinstance(default, str | int | float | bool) and default is not REQUIRED:
            props[key]["default"] = default
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [k for k, (_c, d) in fields.items() if d is REQUIRED]
    if required:
        schema["required"] = required
    return described(schema)(check)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def enum_field(*allowed: str) -> Checker:
    """One of these words."""

    def check(v: Checker_, value: Any, path: str) -> Any:
        if value not in allowed:
            v.err(path, "is not one of the allowed values", value, f"use one of: {', '.join(allowed)}")
            return MISSING
        return value

    return described({"enum": list(allowed)})(check)
