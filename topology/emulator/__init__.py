"""The Mininet emulator of a Network (needs root): build, check, cut links, clean up."""

from topology.emulator.build import Emulation
from topology.emulator.caps import Capabilities, detect, require_for
from topology.emulator.check import CheckReport, run_checks
from topology.emulator.state import clean

__all__ = ["Capabilities", "CheckReport", "Emulation", "clean", "detect", "require_for", "run_checks"]
