"""The flow-level simulator on cases with known answers (no root, no emulator)."""

from __future__ import annotations

import pytest

from capacity import Demand, Failure, Simulator, erlang_b, simulate
from capacity.simulate import resolve_failure
from capacity.whatif import n_minus_1
from topology import load_model, load_model_text
from topology.model import Link, Network, Node

SMALL = load_model("small")


def _net(
    routers: list[str], hosts: dict[str, str], links: list[tuple[str, str, float]], **kw: object
) -> Network:
    """Routers joined by routed (OSPF) links; each host hangs off its router on a 1000 Mbit/s access link."""
    nodes = [Node(r, "core", i, role="router") for i, r in enumerate(routers)]
    nodes += [Node(h, "host", 100 + i, zone="office", role="host") for i, h in enumerate(hosts)]
    lks = [Link(f"{a}--{b}", a, b, bw, "ring", "", "", ospf=True) for a, b, bw in links]
    lks += [Link(f"{h}--{r}", h, r, 1000, "access", "", "") for h, r in hosts.items()]
    return Network("t", tuple(nodes), tuple(lks), (), (), {}, ())


def _load(res: object, name: str) -> float:
    return res.link(name).load_mbps  # type: ignore[attr-defined,no-any-return]


def test_single_bottleneck_shares_equally_and_fills_the_link() -> None:
    net = _net(["r1", "r2"], {"h1": "r1", "h2": "r2"}, [("r1", "r2", 10)])
    res = simulate(net, [Demand("h1", "h2", "file", 8), Demand("h1", "h2", "oa", 8)])
    assert [round(d.rate_mbps, 6) for d in res.demands] == [5.0, 5.0]
    assert res.link("r1--r2").utilisation == pytest.approx(1.0)
    assert [lk.name for lk in res.saturated()] == ["r1--r2"]


def test_demand_below_its_fair_share_keeps_its_wish_and_the_rest_goes_to_the_other() -> None:
    net = _net(["r1", "r2"], {"h1": "r1", "h2": "r2"}, [("r1", "r2", 10)])
    res = simulate(net, [Demand("h1", "h2", "file", 2), Demand("h1", "h2", "oa", 100)])
    assert [round(d.rate_mbps, 6) for d in res.demands] == [2.0, 8.0]


def test_parking_lot_max_min_fair_shares() -> None:
    # long flow over both links; one short flow per link; link 1 is 10, link 2 is 20 Mbit/s
    net = _net(["r0", "r1", "r2"], {"h0": "r0", "h1": "r1", "h2": "r2"}, [("r0", "r1", 10), ("r1", "r2", 20)])
    demands = [
        Demand("h0", "h2", "file", 100),
        Demand("h0", "h1", "file", 100),
        Demand("h1", "h2", "file", 100),
    ]
    rates = [round(d.rate_mbps, 6) for d in simulate(net, demands).demands]
    assert rates == [5.0, 5.0, 15.0]


RING = (
    ["c1", "c2", "c3", "c4"],
    [("c1", "c2", 100), ("c2", "c3", 100), ("c3", "c4", 100), ("c4", "c1", 100)],
)


def test_ring_cut_moves_traffic_the_other_way_round() -> None:
    net = _net(RING[0], {"h1": "c1", "h2": "c2"}, RING[1])
    demands = [Demand("h1", "h2", "file", 30)]
    before = simulate(net, demands)
    assert _load(before, "c1--c2") == pytest.approx(30)
    assert _load(before, "c2--c3") == _load(before, "c4--c1") == 0
    after = simulate(net, demands, ["c1--c2"])
    assert after.link("c1--c2").failed
    assert _load(after, "c1--c2") == 0
    for name in ("c2--c3", "c3--c4", "c4--c1"):
        assert _load(after, name) == pytest.approx(30)
    assert after.demands[0].rate_mbps == pytest.approx(30)


def test_opposite_corners_of_a_ring_split_over_both_ways() -> None:
    net = _net(RING[0], {"h1": "c1", "h3": "c3"}, RING[1])
    res = simulate(net, [Demand("h1", "h3", "file", 40)])
    for name in ("c1--c2", "c2--c3", "c3--c4", "c4--c1"):
        assert _load(res, name) == pytest.approx(20)


def test_ecmp_members_share_and_the_survivor_takes_everything() -> None:
    demands = [
        Demand("srv-oa", "bureau-finance-pc1", "file", 8),
        Demand("srv-oa", "bureau-b03-pc1", "file", 8),
    ]
    res = simulate(SMALL, demands)
    assert _load(res, "fw-inner--core1#1") == pytest.approx(8)
    assert _load(res, "fw-inner--core1#2") == pytest.approx(8)
    cut = simulate(SMALL, demands, ["fw-inner--core1#1"])
    assert _load(cut, "fw-inner--core1#1") == 0
    assert _load(cut, "fw-inner--core1#2") == pytest.approx(16)
    assert [d.rate_mbps for d in cut.demands] == pytest.approx([8, 8])


def test_failing_a_whole_bundle_disconnects_and_is_reported_not_raised() -> None:
    res = simulate(SMALL, [Demand("srv-oa", "bureau-finance-pc1", "file", 8)], ["fw-inner--core1"])
    assert res.demands[0].status == "unroutable"
    assert res.demands[0].rate_mbps == 0
    assert res.unroutable()[0].route.reason


PAIR = load_model_text(
    (load_model("small").source and __import__("yaml").safe_dump(load_model("small").source)).replace(
        "firewall_members: 1", "firewall_members: 2"
    )
)


def test_standby_firewall_member_carries_nothing_until_member_0_fails() -> None:
    demands = [
        Demand("citizen1", "dmz-portal", "portal", 5),
        Demand("dmz-portal", "bureau-finance-pc1", "web", 1),
    ]
    res = simulate(PAIR, demands)
    standby = [lk for lk in PAIR.links if "fw-b" in (lk.a, lk.b)]
    assert standby
    assert all(_load(res, lk.name) == 0 for lk in standby)
    assert all(d.rate_mbps > 0 for d in res.demands)
    down = simulate(PAIR, demands, ["fw-a"])
    assert _load(down, "fw-b--isp#2") == pytest.approx(5)
    assert _load(down, "fw-b--dmz-sw") == pytest.approx(5)
    # the portal's default gateway is fw-a's address and there is no VRRP yet (issue 5): as in the
    # emulator, what the portal sends has no way out while fw-a is down
    assert down.demands[0].rate_mbps == pytest.approx(5)
    assert down.demands[1].status == "unroutable"
    assert "gateway fw-a" in down.demands[1].route.reason


@pytest.mark.parametrize(
    ("erlangs", "servers", "expected"),
    [(10, 15, 0.0365), (2, 4, 0.0952), (1, 1, 0.5), (5, 10, 0.0184), (20, 30, 0.0085)],
)
def test_erlang_b_table_values(erlangs: float, servers: int, expected: float) -> None:
    assert erlang_b(erlangs, servers) == pytest.approx(expected, abs=5e-5)


def test_calls_on_one_link_are_blocked_by_erlang_b() -> None:
    # voice may use 10 % of 10 Mbit/s = 1 Mbit/s = 11 calls of 87 kbit/s; offer 10 erlangs
    net = _net(["r1", "r2"], {"h1": "r1", "h2": "r2"}, [("r1", "r2", 10)])
    res = simulate(net, [Demand("h1", "h2", "voice", 10 * 0.087), Demand("h1", "h2", "file", 100)])
    b = erlang_b(10, 11)
    assert res.demands[0].blocking == pytest.approx(b)
    assert res.demands[0].rate_mbps == pytest.approx(0.87 * (1 - b))
    # the calls load both directions; the elastic flow gets what is left
    assert res.demands[1].rate_mbps == pytest.approx(10 - 0.87 * (1 - b))
    cls = res.classes()["voice"]
    assert cls["blocking"] == pytest.approx(b)


def test_policy_denied_pairs_are_reported() -> None:
    res = simulate(SMALL, [Demand("citizen1", "bureau-finance-pc1", "web", 1)])
    assert res.demands[0].status == "denied"
    assert "fw-a denies internet -> office" in res.demands[0].route.reason


def test_l2_switches_are_hops_whose_links_carry_load() -> None:
    res = simulate(SMALL, [Demand("bureau-finance-pc1", "bureau-education-pc1", "file", 3)])
    for name in ("bureau-finance--dist2", "dist2--core2", "dist1--core1", "bureau-education--dist1"):
        assert _load(res, name) == pytest.approx(3)


def test_n_minus_1_worst_case_on_a_triangle() -> None:
    net = _net(["a", "b", "c"], {"ha": "a", "hb": "b"}, [("a", "b", 10), ("b", "c", 10), ("c", "a", 10)])
    sim = Simulator(net, [Demand("ha", "hb", "file", 6)])
    nm1 = n_minus_1(sim)
    names = [lk.name for lk in net.links]
    worst = dict(zip(names, nm1.worst_utilisation, strict=True))
    who = dict(zip(names, nm1.worst_failure, strict=True))
    assert worst["b--c"] == pytest.approx(0.6) and who["b--c"] == "a--b"
    assert worst["c--a"] == pytest.approx(0.6) and who["c--a"] == "a--b"
    assert worst["a--b"] == pytest.approx(0.6)


def test_incremental_failure_matches_a_fresh_router() -> None:
    net = load_model("small")
    from capacity import builtin_demands

    demands = builtin_demands(net)
    sim = Simulator(net, demands)
    for name in ("core1--core2", "core2", "dist2--core2", "fw-inner--core1#2"):
        f = resolve_failure(net, name)
        fast = sim.result(f)
        fresh = Simulator(net, demands)
        fresh.base_routes = [
            fresh._route(__import__("capacity.routing").routing.Router(net, f.links, f.nodes), i)
            for i in range(len(demands))
        ]
        fresh.rows, fresh.cols, fresh.vals = fresh._coo(fresh.base_routes, range(len(demands)))
        slow = fresh.result(None)
        assert [lk.load_mbps for lk in fast.links] == pytest.approx([lk.load_mbps for lk in slow.links])


def test_unknown_failure_names_suggest_nearest() -> None:
    from govnet.errors import WhatIfError

    with pytest.raises(WhatIfError, match="did you mean core1--core2"):
        simulate(SMALL, [], [Failure("x")] and ["core1--core9"])
