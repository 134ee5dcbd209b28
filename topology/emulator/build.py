"""Bring a Network up in Mininet: hosts and routers in namespaces, Linux bridges, shaped veths, FRR.

Usage::

    with Emulation(net, workdir) as emu:      # builds, configures, waits for OSPF to converge
        emu.node("bureau-finance-pc1").cmd("ping -c1 10.30.0.11")
    # torn down here, also on exceptions and Ctrl-C
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govnet.errors import EmulationError, NotRootError
from govnet.signals import note_torn_down
from govnet.supervise import Lifecycle, kill_pids
from topology.emulator import state
from topology.emulator.caps import Capabilities, detect, require_for
from topology.emulator.handle import EmulatorHandle, NodeHandle
from topology.model import Link, Network
from topology.render import NodeConfig, bridge_name, rate_line, render

FRR_DIR = "/usr/lib/frr"
CONVERGE_TIMEOUT_S = 90.0

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


class Emulation(Lifecycle):
    """One emulated network; owns its Mininet object, daemons and state file (an EmulatorHandle)."""

    def __init__(
        self, net: Network, workdir: Path, log: Log = _quiet, caps: Capabilities | None = None
    ) -> None:
        self.model = net
        self.workdir = Path(workdir)
        self.log = log
        self.caps = caps
        self.mn: Any = None
        self.timings: dict[str, float] = {}
        self._nodes: dict[str, NodeHandle] = {}
        self._configs: dict[str, NodeConfig] = {}
        self.frr_dir: Path | None = None

    # lifecycle (`with` from Lifecycle: a failed start is torn down) ---------------------------
    def start(self) -> None:
        """Build, configure and converge; raises EmulationError (the caller must still stop())."""
        if os.geteuid() != 0:
            raise NotRootError("the emulator needs root (network namespaces): run as root or with sudo")
        caps = self.caps or detect()
        require_for(self.model, caps)
        owners = state.active_owners()
        if owners:
            raise EmulationError(
                f"another govnet emulation is running (pid {', '.join(map(str, owners))}); only one may own "
                "Mininet at a time. Stop it, or run 'govnet clean --force' if it is stuck"
            )
        leftovers = state.govnet_interfaces()
        if leftovers:
            raise EmulationError(
                f"{len(leftovers)} interface(s) from an earlier run are still present "
                f"(e.g. {leftovers[0]}); run 'govnet clean' first"
            )
        t0 = time.monotonic()
        names = [bridge_name(n) if n.is_switch else n.name for n in self.model.nodes]
        self.frr_dir = Path(tempfile.mkdtemp(prefix="govnet-frr-"))
        self.frr_dir.chmod(0o755)
        self._state: dict[str, Any] = {
            "pid": os.getpid(),
            "workdir": str(self.workdir),
            "nodes": names,
            "model": self.model.name,
            "started": time.time(),
            "temp_dirs": [str(self.frr_dir)],
        }
        state.write_state(self._state)
        self._configs, root_tc = render(self.model)
        self._write_configs(root_tc)
        self._build_mininet()
        self._state["netns_inodes"] = state.netns_inodes(state.shell_pids(set(names)))
        state.write_state(self._state)
        self.timings["build_s"] = time.monotonic() - t0
        t1 = time.monotonic()
        self._configure(root_tc)
        self.timings["configure_s"] = time.monotonic() - t1
        t2 = time.monotonic()
        self._start_frr()
        self.wait_converged()
        self.timings["converge_s"] = time.monotonic() - t2
        self.timings["up_s"] = time.monotonic() - t0

    def stop(self) -> None:
        """Tear down everything this emulation made; safe to call twice or after a failed start."""
        t0 = time.monotonic()
        try:
            names = {bridge_name(n) if n.is_switch else n.name for n in self.model.nodes}
            shells = state.shell_pids(names)
            kill_pids(state.namespace_processes(shells))
            # a node whose shell died (its namespace lives on through a child) is found by its recorded
            # namespace: a survivor holding the shell's terminal would hang Mininet's own clean-up
            recorded = set(getattr(self, "_state", {}).get("netns_inodes", []))
            if recorded:
                live_shells = set(state.shell_pids(names).values())
                kill_pids([p for p in state.processes_in(recorded) if p not in live_shells])
            if self.mn is not None:
                # Not Mininet's stop(): it deletes links through each node's shell and would wait forever
                # on a shell that died. Terminate the shells; the sweep below removes links and bridges.
                for node in list(self.mn.hosts) + list(self.mn.switches):
                    try:
                        node.terminate()
                    except Exception as exc:
                        self.log(f"mininet terminate {node.name}: {exc}")
                self.mn = None
            kill_pids(list(state.shell_pids(names).values()))
            state.delete_interfaces(state.govnet_interfaces())
            self._keep_frr_logs()
            for d in getattr(self, "_state", {}).get("temp_dirs", []):
                if "govnet-" in d:
                    shutil.rmtree(d, ignore_errors=True)
        finally:
            state.remove_state()
            self.timings["down_s"] = time.monotonic() - t0
            note_torn_down(f"emulation of {self.model.name}")

    def _keep_frr_logs(self) -> None:
        """Copy the routers' FRR logs into the run directory, then remove the daemons' directory."""
        if self.frr_dir is None:
            return
        with contextlib.suppress(OSError):
            for log in self.frr_dir.glob("*/*.log"):
                dest = self.workdir / "frr" / log.parent.name
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log, dest / log.name)
        shutil.rmtree(self.frr_dir, ignore_errors=True)
        self.frr_dir = None

    # building ----------------------------------------------------------------------------------
    def _write_configs(self, root_tc: list[str]) -> None:
        cfgdir = self.workdir / "config"
        cfgdir.mkdir(parents=True, exist_ok=True)
        (cfgdir / "root.tc").write_text("\n".join(root_tc) + "\n")
        for name, cfg in self._configs.items():
            d = cfgdir / name
            d.mkdir(exist_ok=True)
            (d / "sysctl.conf").write_text("\n".join(cfg.sysctls) + "\n")
            (d / "ip.batch").write_text("\n".join(cfg.ip_batch) + "\n")
            (d / "tc.batch").write_text("\n".join(cfg.tc_batch) + "\n")
            if cfg.ospfd:
                (d / "ospfd.conf").write_text(cfg.ospfd)
            if cfg.nft:
                (d / "nft.conf").write_text(cfg.nft)

    def _build_mininet(self) -> None:
        from mininet.link import Link as MnLink
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.node import Host
        from mininet.nodelib import LinuxBridge

        setLogLevel("error")
        mn = Mininet(
            topo=None, controller=None, build=False, autoSetMacs=False, link=MnLink, waitConnected=False
        )
        self.mn = mn
        for n in self.model.nodes:
            if n.is_switch:
                self._nodes[n.name] = mn.addSwitch(bridge_name(n), cls=LinuxBridge, stp=False)
            else:
                self._nodes[n.name] = mn.addHost(n.name, cls=Host, ip=None)
        self.log(f"created {len(self._nodes)} nodes")
        for lk in self.model.links:
            mn.addLink(self._nodes[lk.a], self._nodes[lk.b], intfName1=lk.a_if, intfName2=lk.b_if)
        self.log(f"created {len(self.model.links)} links")
        mn.build()
        mn.start()

    def _run(self, node: NodeHandle, script: str, what: str) -> None:
        out = node.cmd(f"{script} 2>&1; echo __rc=$?")
        rc = out.strip().rsplit("__rc=", 1)[-1].strip()
        if rc != "0":
            body = out.rsplit("__rc=", 1)[0].strip()
            raise EmulationError(f"{what} failed on {node.name}: {body[-500:]}")

    def _configure(self, root_tc: list[str]) -> None:
        cfgdir = self.workdir / "config"
        for n in self.model.nodes:
            if n.is_switch:
                br = bridge_name(n)
                subprocess.run(
                    [
                        "ip",
                        "link",
                        "set",
                        br,
                        "type",
                        "bridge",
                        "nf_call_iptables",
                        "0",
                        "nf_call_ip6tables",
                        "0",
                        "nf_call_arptables",
                        "0",
                    ],
                    check=False,
                    capture_output=True,
                )
        if root_tc:
            r = subprocess.run(
                ["tc", "-force", "-batch", str(cfgdir / "root.tc")],
                capture_output=True,
                text=True,
                check=False,
            )
            if r.returncode != 0:
                raise EmulationError(f"shaping bridge ports failed: {r.stderr.strip()[-500:]}")
        for name, cfg in self._configs.items():
            d = cfgdir / name
            parts = [
                f"ip -batch {shlex.quote(str(d / 'ip.batch'))}",
                f"tc -force -batch {shlex.quote(str(d / 'tc.batch'))}",
            ]
            if cfg.nft:
                parts.append(f"nft -f {shlex.quote(str(d / 'nft.conf'))}")
            # after nft: conntrack's sysctls exist once a ruleset with ct has loaded it
            parts.append(f"sysctl -q -p {shlex.quote(str(d / 'sysctl.conf'))} >/dev/null")
            self._run(self._nodes[name], " && ".join(parts), "configuration")
        self.log("addresses, rates and firewall policy applied")

    def _start_frr(self) -> None:
        frr = shutil.which("ospfd", path=FRR_DIR)
        routers = [n for n, c in self._configs.items() if c.ospfd]
        if routers and frr is None:
            raise EmulationError(
                "FRR is not installed (/usr/lib/frr/ospfd missing): run 'make setup' as root"
            )
        for name in routers:
            assert self.frr_dir is not None  # made by start() before any daemon
            d = self.frr_dir / name
            d.mkdir(parents=True, exist_ok=True)
            (d / "zebra.conf").write_text(f"hostname {name}\n")
            (d / "ospfd.conf").write_text(self._configs[name].ospfd)
            shutil.chown(d, "frr", "frr")
            for f in d.iterdir():
                shutil.chown(f, "frr", "frr")
            common = f"-d -u frr -g frr -P 0 --vty_socket {d} -z {d}/zserv.api"
            script = (
                f"{FRR_DIR}/zebra {common} -f {d}/zebra.conf -i {d}/zebra.pid --log file:{d}/zebra.log"
                f" >/dev/null && {FRR_DIR}/ospfd {common} -f {d}/ospfd.conf -i {d}/ospfd.pid"
                f" --log file:{d}/ospfd.log >/dev/null"
            )
            self._run(self._nodes[name], script, "starting FRR")
        self.log(f"FRR (zebra + ospfd) started on {len(routers)} routers")

    def missing_routes(self) -> dict[str, list[str]]:
        """Per router, the routed LAN prefixes (and default route) it does not have yet."""
        # LANs behind OSPF routers; the internet side is reached through the firewalls' default route
        want = {lan.subnet for lan in self.model.lans if lan.gateway and self._configs[lan.gateway].ospfd}
        out: dict[str, list[str]] = {}
        for name, cfg in self._configs.items():
            if not cfg.ospfd:
                continue
            routes = self._nodes[name].cmd("ip -4 route show").splitlines()
            have = {r.split()[0] for r in routes if r.strip()}
            need = set(want)
            if self.model.node(name).kind != "firewall" and any(
                n.kind == "firewall" and n.gateway for n in self.model.nodes
            ):
                need.add("default")
            miss = sorted(need - have)
            if miss:
                out[name] = miss
        return out

    def wait_converged(self, timeout_s: float = CONVERGE_TIMEOUT_S) -> float:
        """Wait until every router has a route to every routed LAN; return the seconds it took."""
        t0 = time.monotonic()
        while True:
            miss = self.missing_routes()
            if not miss:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout_s:
                sample = "; ".join(f"{k}: {', '.join(v[:3])}" for k, v in list(miss.items())[:5])
                raise EmulationError(
                    f"routing did not converge within {timeout_s:.0f} s "
                    f"({len(miss)} router(s) missing routes: {sample})"
                )
            time.sleep(0.5)

    # operations --------------------------------------------------------------------------------
    def temp_dir(self, prefix: str) -> Path:
        """A private directory that `stop()` and `govnet clean` remove (daemon sockets, lock files)."""
        d = Path(tempfile.mkdtemp(prefix=f"govnet-{prefix}-"))
        d.chmod(0o755)
        self._state.setdefault("temp_dirs", []).append(str(d))
        state.write_state(self._state)
        return d

    def annotate(self, key: str, value: Any) -> None:
        """Record a fact about this run in its state file (e.g. a controller's socket for `govnet fw`)."""
        self._state[key] = value
        state.write_state(self._state)

    def reapply(self, name: str) -> None:
        """Re-apply a node's addresses and routes (after its ports were down, as a device does at boot)."""
        batch = self.workdir / "config" / name / "ip.batch"
        self.node(name).cmd(f"ip -force -batch {shlex.quote(str(batch))} >/dev/null 2>&1")

    def pid(self, name: str) -> int:
        """Pid of the shell that holds a node's namespaces (`/proc/<pid>/ns/net`)."""
        return int(self.node(name).pid)

    def node(self, name: str) -> NodeHandle:
        """The Mininet node for a model name (hosts, routers and switches alike)."""
        try:
            return self._nodes[name]
        except KeyError:
            raise EmulationError(f"no node named {name!r} in this emulation") from None

    def find_link(self, a: str, b: str, member: int = 0) -> Link:
        for lk in self.model.links:
            if {lk.a, lk.b} == {a, b} and lk.member == member:
                return lk
        raise EmulationError(f"no link between {a!r} and {b!r} (member {member + 1})")

    def set_rate(self, lk: Link, mbps: float) -> None:
        """Reshape both ends of a link to `mbps` (the model's rate is `lk.bw_mbps`; give it back to
        restore). The link stays up and keeps its traffic."""
        for end, dev in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            lines = rate_line(dev, mbps) + "\n"
            if self.model.node(end).is_switch:
                r = subprocess.run(
                    ["tc", "-batch", "-"], input=lines, capture_output=True, text=True, check=False
                )
                out, rc = r.stderr, r.returncode
            else:
                res = self._nodes[end].cmd(f"printf %s {shlex.quote(lines)} | tc -batch - 2>&1; echo __rc=$?")
                out, _, code = res.rpartition("__rc=")
                rc = int(code.strip() or 1)
            if rc != 0:
                raise EmulationError(f"reshaping {lk.name} at {end} failed: {out.strip()[-300:]}")

    def set_link(self, lk: Link, up: bool) -> None:
        """Cut or restore a cable: both ends lose carrier, as with a fibre cut."""
        state_word = "up" if up else "down"
        for end, dev in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            node = self.model.node(end)
            if node.is_switch:
                subprocess.run(["ip", "link", "set", dev, state_word], check=True)
            else:
                self._nodes[end].cmd(f"ip link set {dev} {state_word}")


def _implements_the_handle(emu: Emulation) -> EmulatorHandle:
    return emu  # mypy checks here that Emulation has every member of the EmulatorHandle protocol
