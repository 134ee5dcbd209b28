"""Fuzz the network model loader: YAML text -> strict YAML -> schema -> expansion."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import expected, main
    from topology.loader import load_model_text

SEEDS = ["topology/models/*.yaml"]


def TestOneInput(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    expected(lambda: load_model_text(text, "<fuzz>"))


if __name__ == "__main__":
    main(TestOneInput)
