"""Lab scenarios: a model and the parts a scenario names (checks, monitoring, firewall pair, NIDS,
HIDS, traffic, audit, validation, off-site copy, ...) run by one engine -> run directory + report."""

from labs.engine import Lab, LabResult, Step, compose, run_lab
from labs.scenario import list_labs, load_scenario

__all__ = ["Lab", "LabResult", "Step", "compose", "list_labs", "load_scenario", "run_lab"]
