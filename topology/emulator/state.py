"""Track what an emulation creates, so teardown and `govnet clean` remove exactly that.

Every emulation writes var/emu/<pid>.json before it creates anything: the Mininet node names it
will make (their shells run as `mininet:<name>`) and the interface prefix it owns (`gn<N>`,
`gn<N>e<K>`). Clean-up kills every process inside those nodes' network namespaces (daemons,
probes), then the shells, then deletes leftover root-namespace interfaces with govnet's prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet.paths import var_dir
from govnet.supervise import kill_pids

IFACE_RE = re.compile(r"^gn\d+(e\d+)?$")


def state_dir() -> Path:
    return var_dir() / "emu"


def write_state(record: dict[str, Any]) -> Path:
    """(Re)write this process's state file atomically."""
    d = state_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    return path


def remove_state() -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir() / f"{os.getpid()}.json").unlink()


def active_owners() -> list[int]:
    """PIDs of live govnet processes that own an emulation (other than this one)."""
    out = []
    for f in sorted(state_dir().glob("*.json")) if state_dir().exists() else []:
        with contextlib.suppress(ValueError):
            pid = int(f.stem)
            cmd = _cmdline(pid)
            if pid != os.getpid() and _alive(pid) and ("python" in cmd or "govnet" in cmd):
                out.append(pid)
    return out


def active_records() -> list[dict[str, Any]]:
    """State records of live emulations (this process's own included), newest first."""
    out = []
    for f in sorted(state_dir().glob("*.json")) if state_dir().exists() else []:
        with contextlib.suppress(ValueError, OSError):
            pid = int(f.stem)
            if _alive(pid):
                rec = json.loads(f.read_text())
                if isinstance(rec, dict):
                    out.append(rec)
    return sorted(out, key=lambda r: -float(r.get("started", 0)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def shell_pids(names: set[str]) -> dict[str, int]:
    """PIDs of Mininet node shells (`bash ... mininet:<name>`) for the given node names."""
    out: dict[str, int] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        cmd = _cmdline(int(p.name))
        m = re.search(r"mininet:(\S+)\s*$", cmd)
        if m and m.group(1) in names and "bash" in cmd:
            out[m.group(1)] = int(p.name)
    return out


def _netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def netns_inodes(shells: dict[str, int]) -> list[int]:
    """The network-namespace inodes of these node shells (recorded so clean finds orphans later)."""
    own = _netns_inode(os.getpid())
    return sorted({i for pid in shells.values() if (i := _netns_inode(pid)) is not None and i != own})


def processes_in(inodes: set[int], extra_marks: tuple[str, ...] = ()) -> list[int]:
    """Processes in these namespaces, or whose command line names one of our temp dirs."""
    own = _netns_inode(os.getpid())
    inodes = inodes - {own}
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) in (os.getpid(), 1):
            continue
        pid = int(p.name)
        if _netns_inode(pid) in inodes or (extra_marks and any(m in _cmdline(pid) for m in extra_marks)):
            out.append(pid)
    return out


def namespace_processes(shells: dict[str, int]) -> list[int]:
    """Every process (except the shells) living in the network namespaces of these shells."""
    # Our own namespace is the "root" one of the emulation (switch shells live there): never sweep it.
    root_ns = _netns_inode(os.getpid())
    inodes = {i for pid in shells.values() if (i := _netns_inode(pid)) is not None and i != root_ns}
    if root_ns is None:
        return []
    keep = set(shells.values()) | {os.getpid(), 1}
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) not in keep and _netns_inode(int(p.name)) in inodes:
            out.append(int(p.name))
    return out


def govnet_interfaces() -> list[str]:
    """Root-namespace interfaces that carry govnet's prefix."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@")[0]
            if IFACE_RE.match(name):
                names.append(name)
    return names


def delete_interfaces(names: list[str]) -> int:
    """Delete bridges first (ports detach), then veths; a deleted veth also removes its peer."""
    bridges = [n for n in names if "e" not in n[2:]]
    ports = [n for n in names if n not in bridges]
    done = 0
    for name in bridges + ports:
        r = subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
        done += r.returncode == 0
    return done


@dataclass
class CleanReport:
    state_files: int = 0
    processes: int = 0
    shells: int = 0
    interfaces: int = 0
    skipped_owners: list[int] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"removed {self.processes} process(es) in emulated nodes, {self.shells} node shell(s), "
            f"{self.interfaces} interface(s), {self.state_files} state file(s)"
        )
        if self.skipped_owners:
            text += f"; left running emulation(s) of live process(es) {self.skipped_owners} (use --force)"
        return text


def clean(force: bool = False) -> CleanReport:
    """Remove what crashed (or, with force, running) govnet emulations left behind."""
    report = CleanReport()
    live = active_owners()
    names: set[str] = set()
    temp_dirs: list[Path] = []
    inodes: set[int] = set()
    files = sorted(state_dir().glob("*.json")) if state_dir().exists() else []
    for f in files:
        pid = int(f.stem) if f.stem.isdigit() else -1
        if pid in live and not force:
            report.skipped_owners.append(pid)
            continue
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(f.read_text())
            names |= set(record.get("nodes", []))
            inodes |= set(record.get("netns_inodes", []))
            temp_dirs += [Path(d) for d in record.get("temp_dirs", []) if "govnet-" in d]
        if pid in live:
            kill_pids([pid], grace_s=2.0)
        f.unlink(missing_ok=True)
        report.state_files += 1
    shells = shell_pids(names)
    # Node shells die with a SIGKILLed owner, but daemons keep their namespaces alive: find those by
    # the namespace inodes recorded at build time and by the temp dirs named on their command lines.
    inodes |= set(netns_inodes(shells))
    orphans = processes_in(inodes, tuple(str(d) for d in temp_dirs))
    report.processes = kill_pids(sorted(set(orphans) - set(shells.values())))
    report.shells = kill_pids(list(shells.values()))
    if not report.skipped_owners:
        report.interfaces = delete_interfaces(govnet_interfaces())
    for d in temp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    return report
