"""Fuzz the lab scenario loader (a YAML file read by path, then checked against the scenario schema)."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import expected, main, scratch
    from labs.scenario import load_scenario

SEEDS = ["labs/scenarios/*.yaml"]


def TestOneInput(data: bytes) -> None:
    path = scratch(data, "scenario.yaml")
    expected(lambda: load_scenario(str(path)))


if __name__ == "__main__":
    main(TestOneInput)
