"""Fuzz the account policy loader (YAML or JSON by suffix)."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import expected, main, scratch
    from ids.audit.config import load_policy

SEEDS = ["@policy"]


def TestOneInput(data: bytes) -> None:
    suffix = ".json" if data[:1] in (b"{", b"[") else ".yaml"
    path = scratch(data, "policy" + suffix)
    expected(lambda: load_policy(path))


if __name__ == "__main__":
    main(TestOneInput)
