"""govnet: emulate, watch and plan a city e-government network.

This package holds what every domain package shares: errors, paths, run directories and the CLI.
It imports no domain package (topology, labs, ...) at module level.
"""

from govnet.errors import (
    CapabilityError,
    EmulationError,
    GovnetError,
    MetricError,
    ModelError,
    NotRootError,
    Problem,
    TsdbError,
)

__version__ = "0.1.0"

__all__ = [
    "CapabilityError",
    "EmulationError",
    "GovnetError",
    "MetricError",
    "ModelError",
    "NotRootError",
    "Problem",
    "TsdbError",
    "__version__",
]
