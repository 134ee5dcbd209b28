"""Expansion of the reference model: what the requirements promise about shape, rates and addresses."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from cli.main import main
from topology import Network, load_model, load_model_text, reference_model_path
from topology.reach import expected_reach


@pytest.fixture(scope="module")
def net() -> Network:
    return load_model()


def _ring_is_one_cycle(net: Network) -> None:
    cores = {n.name for n in net.by_kind("core")}
    ring = [lk for lk in net.links if lk.kind == "ring"]
    assert all(lk.a in cores and lk.b in cores for lk in ring)
    degree = Counter(end for lk in ring for end in (lk.a, lk.b))
    assert degree == dict.fromkeys(cores, 2)
    # walk it: a single cycle visits every core before coming back
    nxt: dict[str, list[str]] = {c: [] for c in cores}
    for lk in ring:
        nxt[lk.a].append(lk.b)
        nxt[lk.b].append(lk.a)
    start = sorted(cores)[0]
    prev, cur, seen = "", start, [start]
    while True:
        step = next(x for x in nxt[cur] if x != prev) if prev else nxt[cur][0]
        prev, cur = cur, step
        if cur == start:
            break
        seen.append(cur)
    assert sorted(seen) == sorted(cores)


def test_ring_of_four_gigabit_cores(net: Network) -> None:
    assert sorted(n.name for n in net.by_kind("core")) == ["core1", "core2", "core3", "core4"]
    ring = [lk for lk in net.links if lk.kind == "ring"]
    assert len(ring) == 4
    assert {lk.bw_mbps for lk in ring} == {1000}
    _ring_is_one_cycle(net)


def test_bureaus_hang_off_distribution_at_100(net: Network) -> None:
    bureaus = [n for n in net.nodes if n.kind == "router" and n.name.startswith("bureau-")]
    assert len(bureaus) >= 60
    dists = {n.name for n in net.by_kind("distribution")}
    for b in bureaus:
        uplinks = [lk for lk in net.links_of(b.name) if lk.kind == "uplink"]
        assert len(uplinks) == 1, b.name
        (up,) = uplinks
        assert up.bw_mbps == 100
        assert ({up.a, up.b} - {b.name}) <= dists, up


def test_desktops_on_10_mbit_access(net: Network) -> None:
    desktops = [n for n in net.nodes if n.kind == "host" and n.site.startswith("bureau-")]
    assert len(desktops) >= 60
    for d in desktops:
        (access,) = net.links_of(d.name)
        assert access.kind == "access"
        assert access.bw_mbps == 10


def test_info_centre_has_two_gigabit_members_to_core1(net: Network) -> None:
    ups = [lk for lk in net.links if lk.kind == "uplink" and {lk.a, lk.b} == {"fw-inner", "core1"}]
    assert len(ups) == 2
    assert {lk.bw_mbps for lk in ups} == {1000}
    assert len({lk.group for lk in ups}) == 1 and ups[0].group
    assert sorted(lk.member for lk in ups) == [0, 1]
    assert {lk.members for lk in ups} == {2}


def test_approval_centre_uplink_is_gigabit(net: Network) -> None:
    gw = next(n for n in net.nodes if n.site == "approval-centre" and n.is_router)
    ups = [lk for lk in net.links_of(gw.name) if lk.kind == "uplink"]
    assert [lk.bw_mbps for lk in ups] == [1000]


def test_two_100_mbit_exits_to_the_isp(net: Network) -> None:
    exits = [lk for lk in net.links if lk.kind == "exit"]
    assert sorted((lk.a, lk.b) for lk in exits) == [("fw-a", "isp"), ("fw-b", "isp")]
    assert {lk.bw_mbps for lk in exits} == {100}


def test_vlan_ids_unique_and_valid(net: Network) -> None:
    ids = [v.id for v in net.vlans]
    assert len(ids) == len(set(ids))
    assert all(1 <= i <= 4094 for i in ids)


def test_addresses_fit_their_subnets_and_never_repeat(net: Network) -> None:
    vlans = {v.name: ipaddress.IPv4Network(v.subnet) for v in net.vlans}
    hosts_checked = 0
    for lan in net.lans:
        subnet = ipaddress.IPv4Network(lan.subnet)
        if lan.vlan:
            assert subnet.subnet_of(vlans[lan.vlan]), lan
        if lan.gateway_addr:
            assert ipaddress.IPv4Address(lan.gateway_addr) in subnet, lan
        for h in lan.hosts:
            addr = ipaddress.IPv4Interface(net.node(h).addr)
            assert addr.network == subnet, (h, addr, subnet)
            hosts_checked += 1
    assert hosts_checked == len([n for n in net.nodes if n.is_host])
    addrs = [ipaddress.IPv4Interface(a).ip for lk in net.links for a in (lk.a_addr, lk.b_addr) if a]
    dupes = [a for a, k in Counter(addrs).items() if k > 1]
    assert not dupes
    assert len(addrs) > len(net.links)  # the check above looked at real data


def test_interface_names_unique_and_short(net: Network) -> None:
    names = [(lk.a, lk.a_if) for lk in net.links] + [(lk.b, lk.b_if) for lk in net.links]
    ifs = [i for _, i in names]
    assert len(set(ifs)) == len(ifs)
    assert max(len(i) for i in ifs) <= 15
    assert all(i for i in ifs)


def test_parameters_scale_the_network() -> None:
    data = yaml.safe_load(reference_model_path().read_text())
    data["parameters"].update(bureaus=70, desktops_per_bureau=3, ring_size=6)
    net = load_model_text(yaml.safe_dump(data, sort_keys=False), "scaled.yaml")
    bureaus = [n for n in net.nodes if n.kind == "router" and n.name.startswith("bureau-")]
    desktops = [n for n in net.nodes if n.kind == "host" and n.site.startswith("bureau-")]
    assert len(bureaus) == 70
    assert len(desktops) == 210
    assert len(net.by_kind("core")) == 6
    assert len([lk for lk in net.links if lk.kind == "ring"]) == 6
    assert len(net.by_kind("distribution")) == 12
    _ring_is_one_cycle(net)


def test_topo_show_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"nodes", "links", "vlans"} <= set(doc)
    assert all({"name", "kind"} <= set(n) for n in doc["nodes"])
    kinds = {n["kind"] for n in doc["nodes"]}
    assert {"core", "distribution", "firewall", "server", "host", "internet"} <= kinds
    assert doc["links"] and all({"a", "b", "bw_mbps"} <= set(lk) for lk in doc["links"])
    assert doc["vlans"] and all({"id", "name", "subnet"} <= set(v) for v in doc["vlans"])
    assert doc == load_model().to_dict()


@pytest.mark.parametrize("model", ["small", "weihai"])
def test_yaml_round_trip(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", model, "--yaml"]) == 0
    dumped = capsys.readouterr().out
    f = tmp_path / "copy.yaml"
    f.write_text(dumped)
    assert main(["topo", "check", str(f)]) == 0
    assert "valid" in capsys.readouterr().out
    assert load_model(f).to_dict() == load_model(model).to_dict()


def _bureau_desktop(net: Network) -> str:
    return next(n.name for n in net.nodes if n.kind == "host" and n.site.startswith("bureau-"))


@pytest.mark.parametrize(
    ("src", "dst", "reaches"),
    [
        ("citizen1", "dmz-portal", True),
        ("citizen1", "srv-oa", False),
        ("DESKTOP", "srv-oa", True),
        ("DESKTOP", "noc1", False),
        ("noc1", "DESKTOP", True),
    ],
)
def test_expected_reach(net: Network, src: str, dst: str, reaches: bool) -> None:
    desktop = _bureau_desktop(net)
    a = net.node(desktop if src == "DESKTOP" else src)
    b = net.node(desktop if dst == "DESKTOP" else dst)
    ok, why = expected_reach(net, a, b)
    assert ok is reaches, why
    assert why
