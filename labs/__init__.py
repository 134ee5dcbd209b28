"""Lab scenarios: model + checks (later: traffic, timeline, expectations) -> run directory + report."""

from labs.runner import LabResult, list_labs, load_scenario, run_lab

__all__ = ["LabResult", "list_labs", "load_scenario", "run_lab"]
