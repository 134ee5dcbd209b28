"""The attack kit as a part: a timeline runs real attack tools from one lab host against another —
`attacks.scan` (nmap), `attacks.flood` (hping3 SYN flood, bounded), `attacks.guess` (hydra against a
lab sshd it starts on the target, or against the OA/approval login) and `attacks.web` (malicious
requests to the public portal). Enabled by `attacks: true`.

Each attack runs in its source host's namespace, bounded by `timeout_s`, and leaves its output in
`<run>/attacks/`. Its record (tool, source, target, start, duration, outcome) goes into results.json
(`metrics.attacks`, which `no_false_block` reads to know who attacked) and an `attack.done` event.
Only lab addresses are targets (ids.attacks.check_target)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from govnet.events import Event
from ids.attacks import Attack, hping3_syn_flood, hydra_ssh, hydra_web, nmap_scan, scapy_web
from ids.attacks.tools import WEB_PORTS
from ids.labsshd import LabAccount, LabSshd
from labs.parts.base import ActionProblem, LabContext, Part, text_of
from labs.parts.registry import register
from topology.model import Network

ROOT = Path(__file__).resolve().parents[2]
SSH_ACCOUNT = LabAccount("alice", "Spring-2026x")  # the guessed account of `guess` over ssh
_HOST_ARGS = ("src", "dst")


def host_ip(net: Network, name: str) -> str:
    node = net.node(name)
    if not node.addr:
        raise ValueError(f"{name} has no address")
    return str(node.addr).split("/")[0]


@register
class Attacks(Part):
    key = "attacks"
    steps = ()  # started before its first action; it only acts on the timeline
    result_path = ("attacks",)

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.ctx: LabContext | None = None
        self.records: list[dict[str, Any]] = []
        self.sshd: dict[str, tuple[LabSshd, subprocess.Popen[Any]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> Any:
        return False

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        (ctx.run / "attacks").mkdir(parents=True, exist_ok=True)
        super().start(ctx)

    def stop(self) -> None:
        with self._lock:
            daemons, self.sshd = self.sshd, {}
        for sshd, proc in daemons.values():
            try:
                sshd.stop()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        super().stop()

    # --- running one attack ----------------------------------------------------------------------
    def _run(
        self, src: str, dst: str, attack: Attack, timeout_s: float, outcome: Callable[[str], str]
    ) -> str:
        ctx = self.ctx
        if ctx is None:
            raise RuntimeError("the attack kit is not running")
        n = len(self.records) + 1
        log = ctx.run / "attacks" / f"{n:02d}-{attack.name}.log"
        attack.prepare()
        started, t0 = time.time(), time.monotonic()
        proc = ctx.emu.node(src).popen(
            ["bash", "-c", attack.command()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=str(ROOT),
        )
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # mnexec -d: the tool is its own group
            out, _ = proc.communicate(timeout=10)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise
        log.write_text(out or "")
        seconds = round(time.monotonic() - t0, 3)
        what = outcome(out or "") if not timed_out else f"stopped after {timeout_s:g} s (timeout_s)"
        rec = {
            "attack": attack.name,
            "src": src,
            "src_ip": host_ip(ctx.net, src),
            "dst": dst,
            "target": attack.target,
            "started": round(started, 3),
            "seconds": seconds,
            "exit_code": proc.returncode,
            "outcome": what,
            "log": str(log.relative_to(ctx.run)),
        }
        with self._lock:
            self.records.append(rec)
        ctx.emit(Event(self.key, "attack.done", f"{attack.name} {src} -> {dst}: {what}", rec))
        return what

    def _work(self, name: str) -> Path:
        assert self.ctx is not None
        return self.ctx.run / "attacks" / f"{len(self.records) + 1:02d}-{name}"

    def _ip(self, name: str) -> str:
        if self.ctx is None:
            raise RuntimeError("the attack kit is not running")
        return host_ip(self.ctx.net, name)

    # --- the actions -----------------------------------------------------------------------------
    def scan(
        self, src: str, dst: str, ports: str = "1-1024", kind: str = "syn", timeout_s: float = 60
    ) -> str:
        """nmap -sS (or -sT with kind=connect) of `ports` on dst, from src."""
        attack = nmap_scan(self._ip(dst), kind=kind, ports=ports, workdir=self._work("nmap"))
        return self._run(src, dst, attack, timeout_s, _nmap_outcome)

    def flood(
        self,
        src: str,
        dst: str,
        port: int = 443,
        count: int = 2000,
        interval_us: int = 1000,
        timeout_s: float = 60,
    ) -> str:
        """hping3 SYN flood of `count` packets at one per `interval_us` to dst:port, from src."""
        seed = int(self.ctx.scenario.get("seed") or 0) if self.ctx is not None else 0
        attack = hping3_syn_flood(
            self._ip(dst), int(port), count=int(count), interval_us=int(interval_us), seed=seed
        )
        return self._run(src, dst, attack, timeout_s, lambda out: f"{count} SYN sent to port {port}")

    def guess(
        self,
        src: str,
        dst: str,
        service: str = "ssh",
        users: str | list[str] = SSH_ACCOUNT.name,
        size: int = 60,
        tasks: int = 4,
        timeout_s: float = 60,
    ) -> str:
        """hydra password guessing of `users` (comma-separated) with `size` generated passwords: over
        ssh against a lab sshd started on dst (account alice), or against service oa|approval's login."""
        given = users if isinstance(users, list) else str(users).split(",")
        names = [str(u).strip() for u in given if str(u).strip()]
        seed = int(self.ctx.scenario.get("seed") or 0) if self.ctx is not None else 0
        ip = self._ip(dst)
        if service == "ssh":
            port = self._sshd_on(dst)
            attack = hydra_ssh(
                ip, self._work("hydra"), names, port=port, size=int(size), seed=seed, tasks=int(tasks)
            )
        else:
            attack = hydra_web(
                ip, self._work("hydra"), names, service=service, size=int(size), seed=seed, tasks=int(tasks)
            )
        return self._run(src, dst, attack, timeout_s, _hydra_outcome)

    def web(
        self, src: str, dst: str, kinds: str = "traversal,sqli", port: int = 0, timeout_s: float = 60
    ) -> str:
        """Malicious HTTP requests (kinds from ids.attacks: traversal, sqli, …) to dst's portal."""
        seed = int(self.ctx.scenario.get("seed") or 0) if self.ctx is not None else 0
        attack = scapy_web(
            self._ip(dst),
            port=int(port) or WEB_PORTS["approval"],
            kinds=[k.strip() for k in str(kinds).split(",") if k.strip()],
            seed=seed,
            python=sys.executable,
        )
        return self._run(src, dst, attack, timeout_s, lambda out: f"{len(out.splitlines())} lines of replies")

    def _sshd_on(self, dst: str) -> int:
        """A lab sshd on dst (started at the first guess, stopped with the part); its port."""
        assert self.ctx is not None
        with self._lock:
            have = self.sshd.get(dst)
        if have is not None:
            return have[0].port
        sshd = LabSshd(
            self.ctx.run / "attacks" / f"sshd-{dst}", [SSH_ACCOUNT], address=self._ip(dst), name=dst
        )
        sshd.prepare()
        proc = self.ctx.emu.node(dst).popen(sshd.command())
        with self._lock:
            self.sshd[dst] = (sshd, proc)
        sshd.wait_ready(proc=proc)
        return sshd.port

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {"scan": self.scan, "flood": self.flood, "guess": self.guess, "web": self.web}

    def action_problems(self, verb: str, args: Mapping[str, Any], net: Network) -> list[ActionProblem]:
        hosts = {n.name for n in net.nodes if n.is_host and n.addr}
        out = [
            ActionProblem(k, "is no lab host with an address", args[k], "see 'govnet topo show --nodes'")
            for k in _HOST_ARGS
            if k in args and args[k] not in hosts
        ]
        if verb == "guess" and args.get("service", "ssh") not in ("ssh", *WEB_PORTS):
            fix = f"use one of: ssh, {', '.join(WEB_PORTS)}"
            out.append(
                ActionProblem("service", "is not a service hydra can guess against", args["service"], fix)
            )
        if verb == "scan" and args.get("kind", "syn") not in ("syn", "connect"):
            out.append(ActionProblem("kind", "is not an nmap scan kind", args["kind"], "use syn or connect"))
        return out

    # --- results ---------------------------------------------------------------------------------
    def summary(self) -> Any:
        return list(self.records) if self.records else None

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        recs = metrics.get("attacks")
        if not recs:
            return []
        lines = [
            "## Attacks",
            "",
            "| attack | from | to | seconds | outcome |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r['attack']} | {r['src']} | {r['dst']} ({r['target']}) | {text_of(r['seconds'])} "
            f"| {r['outcome']} |"
            for r in recs
        ]
        return [*lines, "", "Each tool's output is in the run's `attacks/` folder.", ""]


def _nmap_outcome(out: str) -> str:
    opened = [ln.split()[0] for ln in out.splitlines() if "/tcp" in ln and " open " in f" {ln} "]
    if "Nmap done" not in out:
        return "nmap did not finish: " + (out.strip().splitlines() or ["no output"])[-1][:120]
    return f"{len(opened)} open ports" + (f" ({', '.join(opened[:8])})" if opened else "")


def _hydra_outcome(out: str) -> str:
    tries = sum(1 for ln in out.splitlines() if ln.startswith("[ATTEMPT]"))
    found = sum(1 for ln in out.splitlines() if "password:" in ln and "host:" in ln)
    errors = [ln.strip() for ln in out.splitlines() if ln.startswith("[ERROR]")]
    said = f"{tries} passwords tried, {found} found"
    return said + (f" ({errors[0][:160]})" if errors else "")
