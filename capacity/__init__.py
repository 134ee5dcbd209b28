"""Flow-level simulator and capacity what-ifs (issue 9).

Public surface: `simulate(net, demands, failures=()) -> Result`, the demand model (`Demand`,
`builtin_demands`, `load_demands`, `CLASSES`), `erlang_b`, `run_whatif` behind `govnet whatif`,
sweeps (`load_sweep`, `run_sweep`), plots (`write_plot`), the storage horizon (`storage_report`,
`whatif_growth`: the HSM simulation is passed in, never imported) and `compare_links` (simulator
against measured link loads).
"""

from capacity.demands import CLASSES, Demand, TrafficClass, builtin_demands, load_demands
from capacity.plot import write_plot
from capacity.simulate import Failure, LinkResult, Result, Simulator, resolve_failure, simulate
from capacity.solve import erlang_b, max_min
from capacity.storage import storage_report, whatif_growth
from capacity.sweep import Spec, Sweep, load_sweep, run_sweep
from capacity.validate import Comparison, compare_links
from capacity.whatif import WhatIf, run_whatif

__all__ = [
    "CLASSES",
    "Comparison",
    "Demand",
    "Failure",
    "LinkResult",
    "Result",
    "Simulator",
    "Spec",
    "Sweep",
    "TrafficClass",
    "WhatIf",
    "builtin_demands",
    "compare_links",
    "erlang_b",
    "load_demands",
    "load_sweep",
    "max_min",
    "resolve_failure",
    "run_sweep",
    "run_whatif",
    "simulate",
    "storage_report",
    "whatif_growth",
    "write_plot",
]
