"""SNMP agent configs and the poller's parsing (no root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitors.poller import COLUMNS, SCALARS, SYS_UPTIME, parse_bulk
from monitors.snmp import SnmpCredentials, agent_address, agent_nodes, render_snmpd_conf
from topology import load_model


def test_agents_run_on_routers_firewalls_and_servers_only() -> None:
    net = load_model("weihai")
    kinds = {n.kind for n in agent_nodes(net)}
    assert kinds == {"core", "firewall", "router", "server"}
    names = {n.name for n in agent_nodes(net)}
    assert "core1" in names and "fw-b" in names and "srv-db" in names
    assert not any(n.startswith("bureau-finance-pc") for n in names)
    assert agent_address(net, net.node("srv-oa")) == net.node("srv-oa").addr.split("/")[0]
    core_ip = agent_address(net, net.node("core1"))
    assert any(lk.a_addr.startswith(core_ip + "/") or lk.b_addr.startswith(core_ip + "/") for lk in net.links)


def test_v3_config_uses_generated_secrets_never_fixed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GOVNET_SNMP_USER", "GOVNET_SNMP_AUTH", "GOVNET_SNMP_PRIV", "GOVNET_SNMP_VERSION"):
        monkeypatch.delenv(var, raising=False)
    a, b = SnmpCredentials.from_settings(), SnmpCredentials.from_settings()
    assert a.auth_key != b.auth_key and a.priv_key != b.priv_key
    assert len(a.auth_key) >= 8 and len(a.priv_key) >= 8  # SNMPv3 minimum pass-phrase length
    conf = render_snmpd_conf(load_model("small").node("core1"), a)
    assert f'createUser govnet SHA "{a.auth_key}" AES "{a.priv_key}"' in conf
    assert "rouser govnet priv" in conf and "rocommunity" not in conf
    assert "sysName core1" in conf
    # the only write access: the agent's own cache table, from inside the device
    assert f"rwcommunity {a.local_rw} 127.0.0.1 .1.3.6.1.4.1.8072.1.5.3" in conf
    assert conf.count("rwcommunity") == 1 and a.local_rw != b.local_rw


def test_settings_override_and_v2c(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVNET_SNMP_VERSION", "2c")
    monkeypatch.setenv("GOVNET_SNMP_COMMUNITY", "labcommunity")
    creds = SnmpCredentials.from_settings()
    conf = render_snmpd_conf(load_model("small").node("srv-oa"), creds)
    assert "rocommunity labcommunity default" in conf and "createUser" not in conf


def test_parse_bulk_groups_columns_by_interface_index() -> None:
    cols = {v: k for k, v in COLUMNS.items()}
    scal = {v: k for k, v in SCALARS.items()}
    vbs = [
        (SYS_UPTIME, 12345),
        (scal["cpu_idle_pct"], 97),
        (scal["mem_total_kb"], 1000),
        (scal["mem_avail_kb"], 400),
        (cols["name"] + ".1", "lo"),
        (cols["name"] + ".7", "gn0e0"),
        (cols["in_octets"] + ".7", 2**64 - 5),
        (cols["out_octets"] + ".7", 42),
        (cols["oper_status"] + ".7", 1),
        ("1.3.6.1.2.1.31.1.1.1.18.7", "beyond the table: ignored"),
    ]
    rec = parse_bulk(vbs)
    assert rec["uptime_cs"] == 12345 and rec["cpu_idle_pct"] == 97 and rec["mem_avail_kb"] == 400
    assert rec["ifaces"]["gn0e0"] == {"in_octets": 2**64 - 5, "out_octets": 42, "oper_status": 1}
    assert rec["ifaces"]["lo"] == {}


def test_device_cli_output_parsing_and_ruleset_drift() -> None:
    from monitors.devcli import MARK, drift, firewall_groups, parse_output, render_sshd_config

    sha = "ab" * 32
    out = f"Last login: ...\n{MARK}routes 17 conntrack 4 ruleset {sha}\n[root@x ~]# "
    assert parse_output(out) == {"routes": 17, "conntrack": 4, "ruleset_sha": sha}
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of no ruleset
    assert parse_output(f"{MARK}routes 3 conntrack -1 ruleset {empty}")["ruleset_sha"] is None
    with pytest.raises(ValueError):
        parse_output("bash: nft: command not found")
    groups = firewall_groups(load_model("weihai"))
    assert groups == {"exit": ["fw-a", "fw-b"]}, "fw-inner stands alone; the pair must match"
    same = [
        {"node": "fw-a", "ok": True, "ruleset_sha": sha},
        {"node": "fw-b", "ok": True, "ruleset_sha": sha},
    ]
    assert drift(same, groups) == {"fw-a": False, "fw-b": False}
    other = [same[0], {"node": "fw-b", "ok": True, "ruleset_sha": "cd" * 32}]
    assert drift(other, groups) == {"fw-a": True, "fw-b": True}
    assert drift([same[0], {"node": "fw-b", "ok": False}], groups) == {"fw-a": False}
    conf = render_sshd_config(Path("/run/x"))
    assert "PasswordAuthentication no" in conf and "UsePAM no" in conf
    assert "AuthorizedKeysFile /run/x/authorized_keys" in conf and "/etc/ssh" not in conf
