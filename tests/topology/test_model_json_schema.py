"""The JSON Schemas that `govnet topo schema` and `govnet lab schema` print are derived from the same
declarations that validate model and scenario files: a real validator (jsonschema, draft 2020-12)
accepts every bundled file, and refuses what `topo check` / `lab run` refuse structurally."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from govnet.errors import ModelError
from labs.scenario import SCENARIOS, load_scenario, scenario_json_schema
from topology.model_schema import model_json_schema, validate_structure

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "topology" / "models").glob("*.yaml"))


def _model_validator() -> Draft202012Validator:
    schema = model_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _small() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "topology" / "models" / "small.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_every_bundled_model_is_valid_against_the_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [e.message for e in _model_validator().iter_errors(data)]
    assert errors == []


def test_the_normalised_model_is_valid_too() -> None:
    """`topo show --yaml` writes every default: an editor must accept such a file as well."""
    normalised = validate_structure(_small(), "small.yaml")
    normalised = {k: v for k, v in normalised.items() if v is not None}  # absent sections
    assert [e.message for e in _model_validator().iter_errors(normalised)] == []


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda m: m.update(vlanz=[]), "vlanz"),  # unknown field (typo)
        (lambda m: m["vlans"][0].update(id=5000), "vlans[0].id"),  # out of range
        (lambda m: m["vlans"][0].update(subnet=42), "vlans[0].subnet"),  # wrong type
        (lambda m: m["vlans"][0].update(name="Bad_Name"), "vlans[0].name"),  # not a name
        (lambda m: m.pop("name"), "name"),  # required
        (lambda m: m["policy"].append({"from": "a", "to": "b", "services": ["tcp/x"]}), "policy"),
    ],
)
def test_a_structural_mistake_is_refused_by_both(edit: Any, path: str) -> None:
    model = _small()
    edit(model)
    assert list(_model_validator().iter_errors(model)), "the JSON Schema let the mistake through"
    with pytest.raises(ModelError) as exc:
        validate_structure(model, "small.yaml")
    assert any(p.path.startswith(path) for p in exc.value.problems), exc.value.problems


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_scenario_is_valid_against_its_schema(path: Path) -> None:
    schema = scenario_json_schema()
    Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in Draft202012Validator(schema).iter_errors(data)] == []
    load_scenario(str(path))  # and the loader agrees


def test_the_scenario_schema_names_every_part_and_refuses_unknown_keys(tmp_path: Path) -> None:
    from labs.parts import PARTS

    schema = scenario_json_schema()
    assert {k for k, c in PARTS.items() if c.in_scenario} <= set(schema["properties"])
    bad = {"name": "x", "ids": "yes", "offsite": {"size_mb": 0}, "monitr": True}
    messages = sorted(e.json_path for e in Draft202012Validator(schema).iter_errors(bad))
    assert messages == ["$", "$.ids", "$.offsite.size_mb"]  # monitr (additional), ids, size_mb
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    with pytest.raises(ModelError) as exc:
        load_scenario(str(f))
    assert {p.path for p in exc.value.problems} >= {"monitr", "ids", "offsite.size_mb"}


@pytest.mark.parametrize(
    ("verb", "title"), [("topo", "govnet network model"), ("lab", "govnet lab scenario")]
)
def test_the_commands_print_the_schema(verb: str, title: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli", verb, "schema"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    doc = json.loads(out)
    assert doc["title"] == title
    here = model_json_schema() if verb == "topo" else scenario_json_schema()
    # this process may have registered parts of other tests' (a part is one class): compare the
    # command's properties with this process's, key by key
    assert set(doc["properties"]) <= set(here["properties"])
    assert doc["properties"] == {k: here["properties"][k] for k in doc["properties"]}
    assert {k: v for k, v in doc.items() if k != "properties"} == {
        k: v for k, v in here.items() if k != "properties"
    }
