"""Strict, bounded YAML loading for models and scenarios: see `govnet.safeload` (the one loader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govnet.safeload import load_yaml_text

__all__ = ["load_yaml_file", "load_yaml_text"]


def load_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file; unreadable files are user mistakes, not tracebacks."""
    from govnet.safeload import load_yaml_file as _load

    return _load(path, what="file", hint="check the path (bundled models: small, weihai)")
