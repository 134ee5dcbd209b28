"""The firewall pair without root: steering plan, slot table logic, conntrackd and steering configs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall import SLOTS, FirewallError, Pair, SlotTable, evenness, pair_plan
from firewall.conntrackd import render as render_conntrackd
from topology import load_model, load_model_text

Variant = Callable[[Callable[[dict[str, Any]], object]], str]


def test_plan_of_the_small_pair() -> None:
    plan = pair_plan(load_model("small"))
    assert plan is not None
    assert plan.names == ["fw-a", "fw-b"]
    assert [p.node for p in plan.points] == ["core1", "isp", "dmz-portal"]
    core1, isp, portal = plan.points
    assert core1.prefixes == ("default", "10.50.0.0/24")
    assert "10.50.0.0/16" in isp.prefixes and "default" not in isp.prefixes
    assert portal.prefixes == ("default",)
    # routers reach each member over its own link; a DMZ host over one LAN device
    assert len({v.dev for v in core1.via}) == 2 and len({v.dev for v in portal.via}) == 1
    assert [v.gateway for v in portal.via] == ["10.50.0.1", "10.50.0.2"]
    assert plan.sync_subnet == "10.255.255.240/28"
    assert [m.sync_addr for m in plan.members] == ["10.255.255.241/28", "10.255.255.242/28"]


def test_reference_plan_has_every_dmz_host() -> None:
    plan = pair_plan(load_model("weihai"))
    assert plan is not None
    assert [p.node for p in plan.points] == ["core1", "isp", "dmz-portal", "dmz-proxy"]


def test_single_member_has_no_pair(small_variant: Variant) -> None:
    text = small_variant(lambda d: d["parameters"].update(firewall_members=1))
    net = load_model_text(text, "one.yaml")
    assert pair_plan(net) is None
    assert not any(lk.kind == "sync" for lk in net.links)


def test_three_members_sync_by_multicast(small_variant: Variant, tmp_path: Path) -> None:
    net = load_model_text(small_variant(lambda d: d["parameters"].update(firewall_members=3)), "three.yaml")
    plan = pair_plan(net)
    assert plan is not None and plan.names == ["fw-a", "fw-b", "fw-c"]
    conf = render_conntrackd(plan, plan.members[2], tmp_path)
    assert "Multicast {" in conf and "IPv4_interface 10.255.255.243" in conf
    two = pair_plan(load_model("small"))
    assert two is not None
    conf2 = render_conntrackd(two, two.members[0], tmp_path)
    assert "IPv4_Destination_Address 10.255.255.242" in conf2 and "Multicast" not in conf2
    assert f"LockFile {tmp_path / 'conntrackd.lock'}" in conf2  # nothing under /var or /etc


def test_slot_table_even_remove_add() -> None:
    t = SlotTable.even(["a", "b"])
    assert t.counts() == {"a": SLOTS // 2, "b": SLOTS // 2}
    before = list(t.slots)
    moved = t.remove("a")
    assert len(moved) == SLOTS // 2 and t.counts() == {"a": 0, "b": SLOTS}
    # only the removed member's slots changed
    assert all(before[i] == t.slots[i] for i in range(SLOTS) if i not in moved)
    moved = t.add("a")
    assert len(moved) == SLOTS // 2 and t.counts() == {"a": 32, "b": 32}


def test_adding_a_third_member_moves_about_a_third() -> None:
    t = SlotTable.even(["a", "b", "c"], ["a", "b"])
    before = list(t.slots)
    moved = t.add("c")
    changed = [i for i in range(SLOTS) if before[i] != t.slots[i]]
    assert changed == sorted(moved)
    assert len(moved) == SLOTS // 3  # ~1/N of flows, nothing moved between a and b
    assert all(t.slots[i] == "c" for i in moved)
    assert max(t.counts().values()) - min(t.counts().values()) <= 1


def test_survivors_share_a_lost_member_evenly() -> None:
    t = SlotTable.even(["a", "b", "c"])
    t.remove("b", ["a", "c"])
    c = t.counts()
    assert c["b"] == 0 and abs(c["a"] - c["c"]) <= 1


def test_rebalance_moves_one_slot_toward_the_idle_member_with_a_dead_band() -> None:
    t = SlotTable.even(["a", "b"])
    assert t.rebalance({"a": 105.0, "b": 100.0}) == []  # inside the 15 % dead band
    moved = t.rebalance({"a": 300.0, "b": 100.0})
    # a gap of 200 over 32 slots carrying 300: half the gap is ~11 slots, capped at 8 per step
    assert len(moved) == 8 and t.counts() == {"a": 24, "b": 40}
    # a small gap moves few slots: 20 over 32 slots carrying 110 -> round(10 / 3.44) = 3
    assert len(SlotTable.even(["a", "b"]).rebalance({"a": 110.0, "b": 90.0})) == 3
    # one elephant flow per slot: moving it would overshoot, so nothing moves
    t2 = SlotTable.even(["a", "b"], n=2)
    assert t2.rebalance({"a": 1000.0, "b": 10.0}) == []


def test_rebalance_converges_on_skewed_synthetic_load() -> None:
    """Synthetic per-slot loads with a heavy tail: repeated rebalancing evens member loads out."""
    import random

    rng = random.Random(7)
    per_slot = [rng.paretovariate(1.5) for _ in range(SLOTS)]
    t = SlotTable.even(["a", "b"])

    def loads() -> dict[str, float]:
        out = {"a": 0.0, "b": 0.0}
        for i, m in enumerate(t.slots):
            out[m] += per_slot[i]
        return out

    start = evenness(loads())
    for _ in range(200):
        if not t.rebalance(loads(), dead_band=0.05):
            break
    assert evenness(loads()) <= min(start, 1.3)


def test_slot_table_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one active member"):
        SlotTable.even(["a"], [])
    with pytest.raises(ValueError, match="unknown member"):
        SlotTable.even(["a", "b"], ["c"])
    t = SlotTable.even(["a", "b"])
    with pytest.raises(ValueError, match="unknown member 'x'"):
        t.remove("x")
    t.remove("a")
    with pytest.raises(ValueError, match="no other member"):
        t.remove("b")
    assert evenness({"a": 0.5, "b": 0.0}) == float("inf")


def _offline_pair(tmp_path: Path) -> Pair:
    plan = pair_plan(load_model("small"))
    assert plan is not None
    pair = Pair(None, plan, tmp_path)
    pair._macs = {"10.50.0.1": "02:00:00:00:00:01", "10.50.0.2": "02:00:00:00:00:02"}
    return pair


def test_steering_batch_is_the_same_table_everywhere(tmp_path: Path) -> None:
    pair = _offline_pair(tmp_path)
    core = pair.batch("core1")
    portal = pair.batch("dmz-portal")
    assert core.count("nexthop replace id 2000") == SLOTS
    assert "nexthop replace id 201000 group 200000/200001/" in core
    assert "route replace default nhid 201000" in core and "route replace 10.50.0.0/24 nhid 201000" in core
    # slot i points at the same member at every point
    for i, member in enumerate(pair.table.slots):
        gw = next(v.gateway for v in pair.plan.points[2].via if v.member == member)
        assert f"nexthop replace id {200000 + i} via {gw} dev" in portal
    assert "rule add fwmark 1 lookup 100 priority 100" in core and "rule del" not in core
    # replies going home from a pinned session must not follow the member table's default route
    assert "route replace throw 10.10.0.0/16 table 100" in core and "throw" not in portal
    pair.members["fw-b"].state = "drained"
    again = pair.batch("core1")
    assert "rule del fwmark 2 lookup 101" in again and "rule add fwmark 2" not in again


def test_pinning_rules_tell_members_apart(tmp_path: Path) -> None:
    pair = _offline_pair(tmp_path)
    core = pair.pin_ruleset("core1")
    assert 'ct state new iifname "gn0e3" ct mark set 1' in core
    assert 'ct mark 0 ct state new oifname "gn0e4" ct mark set 2' in core
    portal = pair.pin_ruleset("dmz-portal")
    assert "ct state new ether saddr 02:00:00:00:00:02 ct mark set 2" in portal
    assert "ct mark 0 ct state new rt ip nexthop 10.50.0.1 ct mark set 1" in portal
    assert "type route hook output" in portal


def test_operator_errors_name_the_members(tmp_path: Path) -> None:
    pair = _offline_pair(tmp_path)
    with pytest.raises(FirewallError, match="no firewall member named 'fw-z'; members: fw-a, fw-b"):
        pair.drain("fw-z")
    with pytest.raises(FirewallError, match="already in service"):
        pair.add("fw-a")
