"""The firewall pair: zone policy (rendered by topology.render), state sync, active/active steering.

Public surface: `pair_plan(net)` (where the pair is steered from, as data), `Pair` (the live
controller inside an emulation), `SlotTable` (the steering table's logic), `request` (talk to a
running controller, as `govnet fw` does) and `FirewallError`.
"""

from firewall.errors import FirewallError
from firewall.pair import Pair
from firewall.pair_control import request
from firewall.plan import PairPlan, pair_plan
from firewall.slots import SLOTS, SlotTable, evenness

__all__ = ["SLOTS", "FirewallError", "Pair", "PairPlan", "SlotTable", "evenness", "pair_plan", "request"]
