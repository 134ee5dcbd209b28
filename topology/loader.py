"""Load a model file: parse strictly, validate, expand. The one entry point every consumer uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from topology.expand import expand
from topology.model import Network
from topology.model_schema import validate_structure
from topology.yamlload import load_yaml_file, load_yaml_text

MODELS_DIR = Path(__file__).resolve().parent / "models"


def reference_model_path() -> Path:
    """The reference Weihai-style network (REQUIREMENTS.md §1)."""
    return MODELS_DIR / "weihai.yaml"


def resolve_model(name_or_path: str | None) -> Path:
    """A path as given, or a bare name of a bundled model ('weihai', 'small')."""
    if not name_or_path:
        return reference_model_path()
    p = Path(name_or_path)
    if not p.exists() and "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")):
        bundled = MODELS_DIR / f"{name_or_path}.yaml"
        if bundled.exists():
            return bundled
    return p


def load_model(path: str | Path | None = None) -> Network:
    """Read, validate and expand a model file (default: the reference model)."""
    p = resolve_model(str(path) if path is not None else None)
    data = load_yaml_file(p)
    return expand(validate_structure(data, str(p)), str(p))


def load_model_text(text: str, source: str = "<model>") -> Network:
    """Validate and expand a model given as YAML text (tests, generated variants)."""
    return expand(validate_structure(load_yaml_text(text, source), source), source)


def dump_model_yaml(net: Network) -> str:
    """The normalised model (every default filled in) as YAML that `topo check` accepts."""
    data: dict[str, Any] = {k: v for k, v in net.source.items() if v is not None}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
