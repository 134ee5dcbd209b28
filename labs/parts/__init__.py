"""Every component a lab runs is a Part (labs/parts/base.py); `PARTS` maps scenario keys to them.

Importing this package registers the bundled parts, in the order their keys appear in a scenario.
A new part is one class with `@register` in a module imported here (docs/parts.md shows how).
"""

from labs.parts.base import ActionProblem, EventBus, LabContext, Part, PartStatus, Verdict
from labs.parts.registry import PARTS, register

# registration order = the scenario's field order (as listed in "allowed fields" messages)
from labs.parts import network  # noqa: F401  isort: skip  (checks, links)
from labs.parts import monitoring  # noqa: F401  isort: skip
from labs.parts import nids  # noqa: F401  isort: skip
from labs.parts import validation  # noqa: F401  isort: skip
from labs.parts import apps  # noqa: F401  isort: skip
from labs.parts import offsite  # noqa: F401  isort: skip
from labs.parts import firewall  # noqa: F401  isort: skip
from labs.parts import hids  # noqa: F401  isort: skip
from labs.parts import audit  # noqa: F401  isort: skip
from labs.parts import probe  # noqa: F401  isort: skip
from labs.parts import attacks  # noqa: F401  isort: skip

__all__ = ["PARTS", "ActionProblem", "EventBus", "LabContext", "Part", "PartStatus", "Verdict", "register"]
