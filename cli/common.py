"""Helpers every verb module shares: how lines are printed, progress on stderr, shared help texts."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # what register(sub) gets

MODEL_HELP = "model file, or a bundled model name (weihai, small); default: the reference model"


def say(msg: str) -> None:
    """One line of the command's output (stdout, flushed)."""
    print(msg, flush=True)


def progress(msg: str) -> None:
    """A time-stamped progress line on stderr (stdout stays the result)."""
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
