"""The network model (schema, expansion, reference models) and its Mininet emulator.

Public surface: `load_model`, `load_model_text`, `reference_model_path`, `Network` and friends.
The emulator lives in `topology.emulator` and is imported only where root is needed.
"""

from topology.loader import dump_model_yaml, load_model, load_model_text, reference_model_path
from topology.model import Lan, Link, Network, Node, Vlan

__all__ = [
    "Lan",
    "Link",
    "Network",
    "Node",
    "Vlan",
    "dump_model_yaml",
    "load_model",
    "load_model_text",
    "reference_model_path",
]
