"""The registry of parts: the scenario key → the Part class. `@register` adds one."""

from __future__ import annotations

from typing import TypeVar

from labs.parts.base import Part

PARTS: dict[str, type[Part]] = {}
P = TypeVar("P", bound=type[Part])


def register(cls: P) -> P:
    if cls.key in PARTS and PARTS[cls.key] is not cls:
        raise ValueError(f"two parts claim the scenario key {cls.key!r}: {PARTS[cls.key]} and {cls}")
    PARTS[cls.key] = cls
    return cls
