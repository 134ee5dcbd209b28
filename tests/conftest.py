"""Shared fixtures: the small bundled model as text, and modified copies of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

MODELS = Path(__file__).resolve().parent.parent / "topology" / "models"

Mutation = Callable[[dict[str, Any]], object]


@pytest.fixture
def small_text() -> str:
    """The text of topology/models/small.yaml."""
    return (MODELS / "small.yaml").read_text(encoding="utf-8")


@pytest.fixture
def small_variant(small_text: str) -> Callable[[Mutation], str]:
    """`small_variant(fn)`: small.yaml loaded as a dict, changed in place by fn, dumped back to YAML."""

    def make(mutate: Mutation) -> str:
        data = yaml.safe_load(small_text)
        mutate(data)
        return yaml.safe_dump(data, sort_keys=False)

    return make
