"""Golden files of the generated bridge/VLAN/routing/firewall configuration (no root needed).

Regenerate after an intended change with
    GOVNET_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/topology/test_render_golden.py
then review the diff under tests/golden/ like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from topology import load_model
from topology.render import bridge_name, render

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _rendered_files(model: str) -> dict[str, str]:
    net = load_model(model)
    configs, root_tc = render(net)
    files = {"root.tc": "\n".join(root_tc) + "\n"}
    bridges = [f"{bridge_name(n)} {n.name} vlan={n.vlan or '-'}" for n in net.nodes if n.is_switch]
    files["bridges.txt"] = "\n".join(bridges) + "\n"
    for name, cfg in configs.items():
        files[f"{name}/sysctl.conf"] = "\n".join(cfg.sysctls) + "\n"
        files[f"{name}/ip.batch"] = "\n".join(cfg.ip_batch) + "\n"
        files[f"{name}/tc.batch"] = "\n".join(cfg.tc_batch) + "\n"
        if cfg.ospfd:
            files[f"{name}/ospfd.conf"] = cfg.ospfd
        if cfg.nft:
            files[f"{name}/nft.conf"] = cfg.nft
    return files


@pytest.mark.parametrize("model", ["small"])
def test_rendered_configuration_matches_golden(model: str) -> None:
    files = _rendered_files(model)
    root = GOLDEN / model
    if os.environ.get("GOVNET_UPDATE_GOLDEN"):
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert on_disk == set(files), "golden file set differs (GOVNET_UPDATE_GOLDEN=1 to regenerate)"
    for rel, text in files.items():
        assert (root / rel).read_text() == text, f"{rel} differs from tests/golden/{model}/{rel}"


def test_ring_links_are_point_to_point_ospf_with_fast_timers() -> None:
    configs, _ = render(load_model("weihai"))
    core = configs["core1"].ospfd
    assert core.count("ip ospf network point-to-point") >= 2 + 2 + 2  # two ring, two IC members, fw pair
    assert "timers throttle spf 0 " in core
    assert "ip ospf dead-interval 3" in core
    # the bureaus' office LANs are passive (advertised, no adjacency), so they stay intra-area routes
    bureau = configs["bureau-finance"].ospfd
    assert "passive-interface" in bureau and "redistribute" not in bureau


def test_second_firewall_member_is_the_backup_path() -> None:
    configs, _ = render(load_model("weihai"))
    assert "ip ospf cost" not in configs["fw-a"].ospfd
    assert "ip ospf cost 110" in configs["fw-b"].ospfd
    assert "default-information originate always metric 10 " in configs["fw-a"].ospfd
    assert "default-information originate always metric 110 " in configs["fw-b"].ospfd


def test_firewall_policy_is_default_deny_with_model_pairs() -> None:
    net = load_model("weihai")
    configs, _ = render(net)
    nft = configs["fw-a"].nft
    assert "policy drop;" in nft
    assert "ct state established,related accept" in nft
    # citizens reach the DMZ only for the services the model lists
    assert (
        "ip saddr @zone_internet ip daddr @zone_dmz meta l4proto tcp th dport { 80, 443 } accept "
        'comment "internet -> dmz"' in nft
    )
    assert 'ip saddr @zone_internet ip daddr @zone_dmz accept comment "internet -> dmz"' not in nft
    # forbidden services go first (they win over every allow), are counted and logged
    forbidden = nft.index("th dport { 23, 135, 139, 445 } counter log")
    assert forbidden < nft.index("ip saddr @zone_office ip daddr @zone_office accept")
    assert "meta l4proto udp th dport { 69 } counter log" in nft
    assert 'limit rate 10/second log prefix "govnet drop: " group 5' in nft
    assert "ip saddr @zone_internet ip daddr @zone_office" not in nft
    assert configs["fw-a"].nft == configs["fw-b"].nft, "pair members must carry identical rulesets"
    assert not configs["core1"].nft


def test_every_link_end_is_shaped_at_its_rate() -> None:
    net = load_model("small")
    configs, root_tc = render(net)
    text = "\n".join(root_tc) + "\n".join("\n".join(c.tc_batch) for c in configs.values())
    for lk in net.links:
        for dev in (lk.a_if, lk.b_if):
            assert f"dev {dev} parent 5: classid 5:1 htb rate {round(lk.bw_mbps * 1000)}kbit" in text


def test_access_management_renders_sources_and_hours(small_variant: Any) -> None:
    """Policy `sources` (subnets or user groups) and `hours` become nft matches on the pair's rule."""
    from topology import load_model_text
    from topology.render import render

    def mutate(d: dict[str, Any]) -> None:
        d["groups"] = {"finance-staff": ["10.10.1.0/24"]}
        d["policy"][0].update(sources=["finance-staff", "10.10.2.0/24"], hours="08:00-18:00")
        d["policy"][1].update(hours="22:00-06:00")

    net = load_model_text(small_variant(mutate), "access.yaml")
    nft = render(net)[0]["fw-inner"].nft
    assert (
        "ip saddr @zone_office ip daddr @zone_servers ip saddr { 10.10.1.0/24, 10.10.2.0/24 } "
        'meta hour "08:00"-"18:00" accept comment "office -> servers"'
    ) in nft
    assert 'ip saddr @zone_office ip daddr @zone_dmz meta hour != "06:00"-"22:00" accept' in nft


def test_reachability_expectations_follow_access_management(small_variant: Any) -> None:
    from topology import load_model_text
    from topology.reach import zone_allows

    def mutate(d: dict[str, Any]) -> None:
        d["policy"][0].update(sources=["10.10.1.0/24"], hours="08:00-18:00")

    net = load_model_text(small_variant(mutate), "access.yaml")
    assert zone_allows(net, "office", "servers", src_addr="10.10.1.11", now_hhmm="09:30")
    assert not zone_allows(net, "office", "servers", src_addr="10.10.2.11", now_hhmm="09:30")
    assert not zone_allows(net, "office", "servers", src_addr="10.10.1.11", now_hhmm="18:00")
    wrap = load_model_text(small_variant(lambda d: d["policy"][0].update(hours="22:00-06:00")), "w.yaml")
    assert zone_allows(wrap, "office", "servers", now_hhmm="23:10")
    assert not zone_allows(wrap, "office", "servers", now_hhmm="12:00")
