"""Flow-level simulator and capacity what-ifs (issue 9).

Public surface: `simulate(net, demands, failures=()) -> Result`, the demand model (`Demand`,
`builtin_demands`, `load_demands`, `CLASSES`), `erlang_b`, and `run_whatif` behind `govnet whatif`.
"""

from capacity.demands import CLASSES, Demand, TrafficClass, builtin_demands, load_demands
from capacity.simulate import Failure, LinkResult, Result, Simulator, simulate
from capacity.solve import erlang_b, max_min
from capacity.whatif import WhatIf, resolve_failure, run_whatif

__all__ = [
    "CLASSES",
    "Demand",
    "Failure",
    "LinkResult",
    "Result",
    "Simulator",
    "TrafficClass",
    "WhatIf",
    "builtin_demands",
    "erlang_b",
    "load_demands",
    "max_min",
    "resolve_failure",
    "run_whatif",
    "simulate",
]
