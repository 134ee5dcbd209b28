"""Lab scenarios: the schema (base fields plus one key per registered part), the bundled library,
and loading with one clear line per mistake before anything starts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from govnet.errors import ModelError, Problem
from labs.expect import expectations_field
from labs.parts import PARTS
from labs.timeline import timeline_field
from topology.schema import (
    REQUIRED,
    Checker,
    Checker_,
    int_field,
    json_schema_of,
    name_field,
    obj,
    text_field,
)
from topology.yamlload import load_yaml_file

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def _default(cls: Any) -> Any:
    return lambda: cls.default()


def scenario_schema() -> Checker:
    fields: dict[str, tuple[Checker, Any]] = {
        "name": (name_field, REQUIRED),
        "description": (text_field, ""),
        "model": (text_field, "weihai"),
        "seed": (SEED, 1),
    }
    for key, cls in PARTS.items():
        if cls.in_scenario:
            fields[key] = (cls.parse, _default(cls))
    fields["timeline"] = (timeline_field, list)
    fields["expectations"] = (expectations_field, list)
    return obj(fields)


SEED = int_field(0, 2**32 - 1)
BASE_DOCS = {
    "seed": "the run's random seed, recorded in results.json; the traffic's unless it sets its own",
    "timeline": "actions at offsets from the end of the start steps: {at: +5s, do: links.cut, with: {...}}",
    "expectations": "typed checks evaluated after the run (no_event, event_within, max_outage_ms, ...)",
}


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def scenario_json_schema() -> dict[str, Any]:
    """The lab scenario's JSON Schema (draft 2020-12), for editors: `govnet lab schema`. The part keys
    come from the registered parts, so a new part's key appears here without an edit."""
    body = json_schema_of(scenario_schema())
    for key, cls in PARTS.items():
        if cls.in_scenario:
            part = cls.json_schema()
            part.setdefault("description", _first_line(cls.__doc__ or sys.modules[cls.__module__].__doc__))
            body["properties"][key] = part
    for key, doc in BASE_DOCS.items():
        body["properties"][key].setdefault("description", doc)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "govnet lab scenario",
        "description": "A lab: the model and the parts to run on it (govnet lab run checks it first).",
        **body,
    }


def list_labs() -> list[tuple[str, str]]:
    out = []
    for f in sorted(SCENARIOS.glob("*.yaml")):
        data = load_yaml_file(f)
        out.append((f.stem, str(data.get("description", "")) if isinstance(data, dict) else ""))
    return out


def scenario_path(name: str) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or "/" in name:
        return p
    bundled = SCENARIOS / f"{name}.yaml"
    if not bundled.exists():
        known = ", ".join(n for n, _ in list_labs())
        raise ModelError(
            [Problem(name, "", "no such lab scenario", has_value=False, fix=f"use one of: {known}")]
        )
    return bundled


def load_scenario(name: str) -> dict[str, Any]:
    path = scenario_path(name)
    data = load_yaml_file(path)
    v = Checker_(str(path))
    if data is None:
        raise ModelError(
            [Problem(str(path), "", "the file is empty", has_value=False, fix="see labs/scenarios/")]
        )
    out = scenario_schema()(v, _seed_traffic(data), "")
    if v.problems:
        raise ModelError(v.problems)
    assert isinstance(out, dict)
    return out


def _seed_traffic(data: Any) -> Any:
    """The scenario's `seed` becomes the traffic's when the traffic section sets none."""
    if not isinstance(data, dict) or not isinstance(data.get("traffic"), dict) or "seed" in data["traffic"]:
        return data
    seed = data.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return data  # the schema says what is wrong with it
    return {**data, "traffic": {**data["traffic"], "seed": seed}}
