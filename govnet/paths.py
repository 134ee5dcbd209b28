"""Where govnet keeps its state: the project's var/ and runs/ folders, overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout's top folder (the parent of the govnet package)."""
    return Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """Mutable state (emulator state file, TSDB data); GOVNET_VAR overrides."""
    return Path(os.environ.get("GOVNET_VAR") or project_root() / "var")


def runs_dir() -> Path:
    """Run directories of labs and `topo up`; GOVNET_RUNS overrides."""
    return Path(os.environ.get("GOVNET_RUNS") or project_root() / "runs")
