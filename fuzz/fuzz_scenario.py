"""Fuzz the lab scenario loader (a YAML file read by path, checked against the scenario schema) and,
for scenarios on the small model, the composition that checks the timeline's actions, their
arguments and the expectations against the parts and the model before anything starts."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import expected, main, scratch
    from labs import compose
    from labs.scenario import load_scenario
    from topology import load_model

SEEDS = ["labs/scenarios/*.yaml"]
SMALL = load_model("small")


def _load_and_compose(path: str) -> None:
    scenario = load_scenario(path)
    if scenario.get("model") == "small":
        compose(scenario, SMALL, path)


def TestOneInput(data: bytes) -> None:
    path = scratch(data, "scenario.yaml")
    expected(lambda: _load_and_compose(str(path)))


if __name__ == "__main__":
    main(TestOneInput)
