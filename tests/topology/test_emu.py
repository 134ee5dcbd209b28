"""Real emulation tests: Mininet, Linux bridges, veths, FRR, nftables (root; CI runs them as root).

One small network is shared by the module; the reference network is checked once end to end through
the CLI; crash recovery kills a real `govnet topo up` and asks `govnet clean` to recover.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from govnet.tsdb import Store, free_port
from govnet.tsdb_writer import Writer, WriterStats
from monitors.collector import LabMonitor
from monitors.devcli import cli_nodes
from monitors.snmp import SnmpCredentials, agent_address, agent_nodes, start_agents
from topology import load_model
from topology.emulator import Emulation, run_checks
from topology.emulator.check import measure_rate
from topology.emulator.state import govnet_interfaces, shell_pids
from topology.render import bridge_name

pytestmark = [
    pytest.mark.emu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces); CI runs as root"),
]
SMALL = load_model("small")
# a TCP listener that accepts and closes, for reachability of one port
LISTEN = (
    "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)\nwhile True: s.accept()[0].close()"
)


def _leftovers(net_names: set[str]) -> tuple[list[str], dict[str, int]]:
    return govnet_interfaces(), shell_pids(net_names)


def _names(model: str) -> set[str]:
    net = load_model(model)
    return {bridge_name(n) if n.is_switch else n.name for n in net.nodes}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulation]:
    with Emulation(SMALL, tmp_path_factory.mktemp("small")) as emu:
        yield emu
    assert _leftovers(_names("small")) == ([], {}), "teardown left interfaces or node shells behind"


def test_small_network_passes_all_checks(small: Emulation) -> None:
    report = run_checks(small)
    assert report.ok, report.table()
    checks = {r.check for r in report.rows}
    assert checks == {"reachability", "rate", "heal"}
    # the isolated pairs were really probed and really got no answer
    assert any(not r.expected.startswith("answers") and r.measured == "no answer" for r in report.rows)
    assert report.figures["heal_cut_s"] < 1.0


def test_vlans_are_separate_l2_domains(small: Emulation) -> None:
    """Each VLAN at a site is its own bridge: two VLANs meet only through their gateway (routed)."""
    noc = small.node("noc1")
    srv_ip = SMALL.node("srv-oa").addr.split("/")[0]
    noc_if = next(lk.a_if for lk in SMALL.links if lk.a == "noc1")
    assert " 0% packet loss" in noc.cmd(f"ping -c1 -W1 {srv_ip}"), "routed through fw-inner it answers"
    noc.cmd(f"ip route add {srv_ip}/32 dev {noc_if}")  # pretend srv-oa shares noc1's L2 domain
    try:
        out = noc.cmd(f"ping -c2 -i0.2 -W1 {srv_ip}")
        assert "100% packet loss" in out, "an on-link probe crossed into another VLAN's bridge"
    finally:
        noc.cmd(f"ip route del {srv_ip}/32 dev {noc_if}")


def test_link_rate_follows_the_model(small: Emulation) -> None:
    desk = next(lk for lk in SMALL.links if lk.kind == "access" and lk.bw_mbps == 10)
    got = measure_rate(small, desk, seconds=2.0)
    assert 9.0 <= got <= 11.0, got


def test_set_rate_reshapes_a_link_and_gives_it_back(small: Emulation) -> None:
    desk = next(lk for lk in SMALL.links if lk.kind == "access" and lk.bw_mbps == 10)
    small.set_rate(desk, 4)
    try:
        slowed = measure_rate(small, desk, seconds=2.0)
    finally:
        small.set_rate(desk, desk.bw_mbps)
    assert 3.6 <= slowed <= 4.4, slowed
    back = measure_rate(small, desk, seconds=2.0)
    assert 9.0 <= back <= 11.0, back


def test_cut_ring_link_reroutes_and_restore_returns(small: Emulation) -> None:
    ring = next(lk for lk in SMALL.links if lk.kind == "ring" and {lk.a, lk.b} == {"core1", "core2"})
    pc = SMALL.node("bureau-finance-pc1")  # hangs off core2
    srv = SMALL.node("srv-oa").addr.split("/")[0]  # behind core1
    route = small.node("core2").cmd(f"ip -4 route get {srv}")
    assert f"dev {ring.b_if}" in route
    small.set_link(ring, up=False)
    try:
        deadline = time.monotonic() + 3
        # until OSPF has installed a route around the ring (right after the cut there may be none)
        while (
            f"dev {ring.b_if}" in (r := small.node("core2").cmd(f"ip -4 route get {srv}")) or " via " not in r
        ):
            assert time.monotonic() < deadline, "core2 never moved its route off the cut link"
            time.sleep(0.05)
        assert " 0% packet loss" in small.node(pc.name).cmd(f"ping -c2 -i0.2 -W1 {srv}")
    finally:
        small.set_link(ring, up=True)
    small.wait_converged()


def test_snmp_agents_answer_the_poller_from_the_noc(small: Emulation, tmp_path: Path) -> None:
    """snmpd in every device namespace, SNMPv3 authPriv; the poller runs in noc1 like an NMS."""
    creds = SnmpCredentials.from_settings()
    procs = start_agents(small, tmp_path, creds)
    try:
        targets = [[n.name, agent_address(SMALL, n)] for n in agent_nodes(SMALL)]
        (tmp_path / "targets.json").write_text(json.dumps(targets))
        (tmp_path / "creds.json").write_text(json.dumps(creds.to_dict()))
        time.sleep(0.5)
        out = small.node("noc1").cmd(
            f"{sys.executable} -m monitors.poller --targets {tmp_path}/targets.json "
            f"--creds {tmp_path}/creds.json --cycles 2 --interval 3.5"  # snmpd caches IF-MIB ~3 s
        )
    finally:
        for p in procs.values():
            p.terminate()
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    devices = [r for r in records if "node" in r and r["t"] >= records[0]["t"]]
    cycles = [r for r in records if r.get("poller") == "snmp"]
    assert len(cycles) == 2
    answered = {r["node"] for r in devices if r["ok"]}
    # the small model's policy lets management reach devices and servers, not the DMZ
    assert answered == {n for n, _ in targets} - {"dmz-portal"}
    assert any(r["node"] == "dmz-portal" and not r["ok"] for r in devices), "a timeout is recorded, not fatal"
    core1 = [r for r in devices if r["node"] == "core1" and r["ok"]]
    ring_if = next(lk.a_if for lk in SMALL.links if lk.a == "core1" and lk.kind == "ring")
    assert core1[0]["uptime_cs"] > 0 and core1[0]["mem_total_kb"] > 0
    assert (
        core1[1]["ifaces"][ring_if]["out_octets"] > core1[0]["ifaces"][ring_if]["out_octets"]
    )  # OSPF hellos


@contextlib.contextmanager
def _monitored(
    emu: Emulation, tmp_path: Path, during: Callable[[LabMonitor], object]
) -> Iterator[tuple[Store, LabMonitor, WriterStats]]:
    """Run the lab monitoring stack into a fresh store while `during` acts, then hand over the store."""
    with Store(data_dir=tmp_path / "tsdb", port=free_port()) as store:
        writer = Writer(store.url, spill_dir=tmp_path / "spill")
        monitor = LabMonitor(emu, tmp_path, writer)
        monitor.start()
        try:
            during(monitor)
        finally:
            monitor.stop()
            stats = writer.close()
        store.force_flush()
        time.sleep(1.5)  # the store hides points younger than -search.latencyOffset
        yield store, monitor, stats


def test_monitoring_fills_the_store_with_link_device_and_poller_series(
    small: Emulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lab monitoring stack on a real network: every link, every SNMP device, the poller's health."""
    monkeypatch.delenv("GOVNET_TSDB_URL", raising=False)
    with _monitored(small, tmp_path, lambda _m: time.sleep(5)) as (store, monitor, stats):
        assert monitor.rejected == 0 and stats.rejected == 0, "every point matches the registry"
        assert stats.sent == monitor.points > 0 and stats.dropped == 0
        links = store.query('count(count by (link) (last_over_time(iface_tx_bytes{source="kernel"}[1m])))')
        assert int(float(links[0]["value"][1])) == len(SMALL.links), "a series for every model link"
        devices = store.query("count(last_over_time(device_uptime_s[1m]))")
        assert int(float(devices[0]["value"][1])) == len(agent_nodes(SMALL)) - 1  # dmz-portal: policy denies
        hosts = store.query("count(last_over_time(host_processes[1m]))")
        every_host = [n for n in SMALL.nodes if n.is_host]
        assert int(float(hosts[0]["value"][1])) == len(every_host), "host series for every host"
        pc = store.query('last_over_time(host_processes{node="bureau-finance-pc1"}[1m])')
        assert int(float(pc[0]["value"][1])) >= 1, "a desktop's namespace holds at least its shell"
        routes = store.query("count(last_over_time(device_routes[1m]))")
        assert int(float(routes[0]["value"][1])) == len(cli_nodes(SMALL)), "netmiko read every router"
        sessions = store.query("last_over_time(fw_sessions[1m])")
        assert {r["metric"]["node"] for r in sessions} == {n.name for n in SMALL.by_kind("firewall")}
        assert all(int(float(r["value"][1])) > 0 for r in sessions), "the NOC's own polls are sessions"
        health = store.query('last_over_time(poller_completeness{poller="snmp"}[1m])')
        assert 0.8 <= float(health[0]["value"][1]) < 1.0
        ring = store.query('last_over_time(iface_tx_bps{link="core1--core2",source="kernel"}[1m])')
        assert len(ring) == 2 and all(float(r["value"][1]) > 0 for r in ring), "OSPF hellos at least"


def test_snmp_rates_match_iperf3_ground_truth(small: Emulation, tmp_path: Path) -> None:
    """A known UDP rate across a bureau uplink, polled every second over SNMPv3: error < 2 %."""
    uplink = next(lk for lk in SMALL.links if lk.a == "bureau-finance" and lk.kind == "uplink")
    server_ip = next(lk.b_addr for lk in SMALL.links if lk.a == "dist2" and lk.b == "core2").split("/")[0]
    creds = SnmpCredentials.from_settings()
    agents = start_agents(small, tmp_path, creds)
    (tmp_path / "targets.json").write_text(
        json.dumps([["bureau-finance", agent_address(SMALL, SMALL.node("bureau-finance"))]])
    )
    (tmp_path / "creds.json").write_text(json.dumps(creds.to_dict()))
    server = small.node("core2").popen(["iperf3", "-s", "-1", "-B", server_ip])
    try:
        time.sleep(0.3)
        poller = small.node("noc1").popen(
            [
                sys.executable,
                "-m",
                "monitors.poller",
                "--targets",
                str(tmp_path / "targets.json"),
                "--creds",
                str(tmp_path / "creds.json"),
                "--cycles",
                "12",
                "--interval",
                "1",
            ],
            stdout=-1,
            text=True,
        )
        t_start = time.time()
        client = small.node("bureau-finance").cmd(f"iperf3 -u -c {server_ip} -b 40M -l 1400 -t 10 -J")
        t_end = time.time()
        out = poller.communicate(timeout=30)[0]
    finally:
        server.kill()
        for p in agents.values():
            p.terminate()
    sent_bps = json.loads(client[client.index("{") :])["end"]["sum"]["bits_per_second"]
    on_wire_bps = sent_bps * (1400 + 8 + 20 + 14) / 1400  # UDP + IP + Ethernet headers counted by ifOutOctets
    polls = [
        r
        for r in map(json.loads, filter(None, out.splitlines()))
        if r.get("node") == "bureau-finance" and r["ok"]
    ]
    steady = [r for r in polls if t_start + 2 <= r["t"] <= t_end - 1]
    assert len(steady) >= 5, f"too few polls in the steady window: {len(steady)}"
    rates = [
        (b["ifaces"][uplink.a_if]["out_octets"] - a["ifaces"][uplink.a_if]["out_octets"])
        * 8
        / (b["t"] - a["t"])
        for a, b in itertools.pairwise(steady)
    ]
    mean = sum(rates) / len(rates)
    err = abs(mean - on_wire_bps) / on_wire_bps
    print(f"SNMP {mean / 1e6:.3f} Mbit/s vs iperf3 on the wire {on_wire_bps / 1e6:.3f} Mbit/s: {err:.2%}")
    assert err < 0.02, (mean, on_wire_bps, rates)


def test_store_outage_mid_run_loses_no_sample(
    small: Emulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store goes away for 60 s while every collector keeps writing; on recovery all samples land."""
    monkeypatch.delenv("GOVNET_TSDB_URL", raising=False)
    port = free_port()
    store = Store(data_dir=tmp_path / "tsdb", port=port)
    store.up()
    try:
        writer = Writer(store.url, spill_dir=tmp_path / "spill", memory_points=300, batch_points=100)
        monitor = LabMonitor(small, tmp_path, writer)
        monitor.start()
        try:
            time.sleep(3)
            store.down()  # clean stop (SIGTERM): VictoriaMetrics flushes what it acknowledged
            time.sleep(60)  # the outage the issue names
            assert writer.stats().spilled > 0, "60 s of points overflow 300 in memory and spill to disk"
            store.up()
            time.sleep(3)
        finally:
            monitor.stop()
            stats = writer.close()
        assert stats.dropped == 0 and stats.pending == 0 and stats.sent == monitor.points
        store.force_flush()
        time.sleep(1.5)
        names = "iface_.*|device_.*|host_.*|poller_.*|fw_.*"
        got = store.query(f'sum(count_over_time({{__name__=~"{names}"}}[10m]))')
        assert int(float(got[0]["value"][1])) == monitor.samples, "every sample written is in the store"
    finally:
        store.down()


def test_forbidden_service_is_blocked_counted_and_logged(small: Emulation, tmp_path: Path) -> None:
    """telnet (forbidden in the model) to a server the office may reach: dropped, counted, NFLOG-logged."""
    srv = SMALL.node("srv-oa").addr.split("/")[0]
    pc = small.node("bureau-finance-pc1")
    fw = small.node("fw-inner")
    listeners = [
        small.node("srv-oa").popen([sys.executable, "-c", LISTEN, srv, str(port)]) for port in (23, 8080)
    ]
    cap = fw.popen(
        ["tcpdump", "-i", "nflog:5", "-n", "-l", "-c", "20", "-w", str(tmp_path / "fw.pcap")], stderr=-1
    )
    try:
        time.sleep(1.5)
        ok = pc.cmd(f"timeout 3 bash -c 'echo > /dev/tcp/{srv}/8080' && echo OPEN")
        blocked = pc.cmd(f"timeout 3 bash -c 'echo > /dev/tcp/{srv}/23' && echo OPEN")
        time.sleep(1)
    finally:
        for p in [*listeners, cap]:
            p.terminate()
            p.wait(timeout=5)
    assert "OPEN" in ok, "office -> servers on tcp/8080 is allowed"
    assert "OPEN" not in blocked, "tcp/23 is a forbidden service"
    counters = fw.cmd("nft list chain inet govnet forward")
    line = next((x for x in counters.splitlines() if "govnet forbidden" in x), counters)
    assert int(re.search(r"packets (\d+)", line).group(1)) >= 1, line
    seen = subprocess.run(["tcpdump", "-n", "-r", str(tmp_path / "fw.pcap")], capture_output=True, text=True)
    assert f"{srv}.23" in seen.stdout, "the dropped telnet SYN reached the firewall log (NFLOG group 5)"


def test_agent_restart_makes_no_spike(
    small: Emulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """snmpd on core1 restarts mid-run: its uptime drops, and no rate jumps above the link speed."""
    monkeypatch.delenv("GOVNET_TSDB_URL", raising=False)

    def restart_mid_run(monitor: LabMonitor) -> None:
        time.sleep(5)
        monitor.restart_agent("core1")
        time.sleep(5)

    with _monitored(small, tmp_path, restart_mid_run) as (store, _monitor, _stats):
        uptimes = store.query_range('device_uptime_s{node="core1"}', time.time() - 20, time.time(), 1)
        values = [float(v) for _, v in uptimes[0]["values"]]
        assert any(b < a for a, b in itertools.pairwise(values)), (
            f"the restart shows as an uptime drop: {values}"
        )
        peak = store.query('max_over_time(iface_tx_bps{node="core1",source="snmp"}[1m])')
        ring_bps = 1000e6
        assert peak and all(float(r["value"][1]) < ring_bps for r in peak), "no spike from the counter reset"
