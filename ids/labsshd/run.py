"""Supervisor of one lab sshd, run inside its own private mount namespace.

    unshare --mount --propagation private -- python -m ids.labsshd.run --dir DIR --name NAME \
        --listen ADDR --port PORT

It refuses to touch anything unless its mount namespace is new and private (not init's, not its
parent's, no shared mounts), then bind-mounts the lab passwd/shadow/group/nsswitch.conf over /etc's
(read-only), mounts a private tmpfs on /run (sshd's /run/sshd), binds empty record files over
/var/log/{btmp,wtmp,lastlog}, and checks that the lab view holds only lab accounts and that init's
view is unchanged.

It then listens on ADDR:PORT itself and runs one `sshd -i -e` per connection (inetd mode, as
Debian's socket-activated ssh@.service does). So:
- every connection reads the current sshd_config: a new `DenyUsers` applies to the next connection,
  with no restart and no moment without a listener (sshd's own SIGHUP restart has one of ~10 ms,
  and clients see "connection refused");
- sshd's `-e` lines (no time, no pid) arrive on one pipe per connection, so the supervisor writes
  each to `sshd.log` as `ISO-TIME NAME sshd[PID]: message` with the receive time (µs) and the real
  pid of that connection's sshd: what the audit's LogFollower and `Attempts` need.

Signals: SIGHUP installs `sshd_config.new` once `sshd -t` accepts it (a bad one is refused and the
old config stays); SIGTERM closes the listener and ends every process left in the namespace, which
then goes away. `status.json` says where it is (starting, listening, stopped, failed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import pwd
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govnet.children import die_with_parent
from govnet.supervise import stop_all
from ids.labsshd.accounts import LabSshdError
from ids.labsshd.config import ETC_BINDS, RECORD_BINDS, SSHD, Layout
from ids.labsshd.procs import mnt_ns, processes_in


def iso(ts: float) -> str:
    """The high-precision syslog stamp of a log line (RFC 3339, UTC, µs), as ids.audit reads it."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).isoformat(timespec="microseconds")


def write_status(layout: Layout, **fields: Any) -> None:
    """Replace status.json atomically (it is not bind-mounted)."""
    tmp = layout.status.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": time.time(), **fields}, sort_keys=True))
    os.replace(tmp, layout.status)


# --- the namespace ------------------------------------------------------------------------------
def check_private_namespace() -> str:
    """Our mount namespace must be a new one whose mounts do not propagate anywhere."""
    ours = mnt_ns()
    for other, what in ((mnt_ns(1), "init's"), (mnt_ns(os.getppid()), "the parent's")):
        if ours == other:
            raise LabSshdError(
                f"refusing to mount: this process shares {what} mount namespace ({ours}); "
                "start it with `unshare --mount --propagation private`"
            )
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ", 1)[0].split()
        if any(f.startswith("shared:") for f in fields[6:]):
            raise LabSshdError(
                f"refusing to mount: {fields[4]} is a shared mount here (use --propagation private)"
            )
    return ours


def _mount(*argv: str) -> None:
    r = subprocess.run(["mount", *argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise LabSshdError(f"mount {' '.join(argv)} failed: {r.stderr.strip()}")


def mount_lab_view(layout: Layout) -> list[str]:
    """Bind the lab files over /etc's and the login records; a private tmpfs on /run."""
    done = []
    for name, target in ETC_BINDS:
        _mount("--bind", "-o", "ro", str(layout.etc / name), target)
        done.append(target)
    _mount("-t", "tmpfs", "-o", "mode=0755,size=1m,nosuid,nodev", "govnet-labsshd", "/run")
    os.mkdir("/run/sshd", 0o755)
    done.append("/run")
    for name, target in RECORD_BINDS:
        if os.path.exists(target):
            _mount("--bind", str(layout.records / name), target)
            done.append(target)
    return done


def check_lab_view(layout: Layout) -> None:
    """/etc shows the lab files here, init still sees the real ones, and no real account is visible."""
    for name, target in ETC_BINDS:
        lab, here = os.stat(layout.etc / name), os.stat(target)
        if (here.st_dev, here.st_ino) != (lab.st_dev, lab.st_ino):
            raise LabSshdError(f"{target} is not the lab file after mounting it")
        try:  # init's view, where the kernel lets us see it (the starter checks its own view too)
            real = os.stat(f"/proc/1/root{target}")
        except PermissionError:
            continue
        if (real.st_dev, real.st_ino) == (lab.st_dev, lab.st_ino):
            raise LabSshdError(f"the lab {name} leaked into init's mount namespace")
    names = {p.pw_name for p in pwd.getpwall()}
    ours = {line.split(":", 1)[0] for line in (layout.etc / "passwd").read_text().splitlines() if line}
    if names != ours or "root" in names:
        raise LabSshdError(f"the lab view lists accounts that are not lab accounts: {sorted(names - ours)}")


# --- the supervisor -----------------------------------------------------------------------------
_pdeathsig = die_with_parent  # in an sshd child: SIGTERM when the supervisor dies


@dataclass
class _Conn:
    proc: subprocess.Popen[bytes]
    fd: int
    buf: bytes = b""


class Supervisor:
    """Accepts connections, runs `sshd -i` for each, stamps their log lines, installs new configs."""

    def __init__(
        self, layout: Layout, name: str, sshd: str, ns: str, address: str, port: int, max_conns: int = 256
    ) -> None:
        self.layout, self.name, self.sshd_path, self.ns = layout, name, sshd, ns
        self.address, self.port, self.max_conns = address, port, max_conns
        self.requested = 0  # SIGHUPs received
        self.done = 0  # SIGHUPs answered (config installed or refused)
        self.last_reload: dict[str, Any] = {}
        self.state = "starting"
        self.conns: dict[int, _Conn] = {}  # stderr fd -> connection
        self.accepted = 0
        self._zombies: list[subprocess.Popen[bytes]] = []  # ended connections not yet reaped
        self.shadow_inode = os.stat(layout.shadow).st_ino  # the inode bound over /etc/shadow
        self.log_fd = os.open(layout.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    def status(self, **extra: Any) -> None:
        write_status(
            self.layout,
            supervisor=os.getpid(),
            state=self.state,
            mnt_ns=self.ns,
            name=self.name,
            listen=[self.address, self.port],
            shadow_inode=self.shadow_inode,
            requested=self.requested,
            done=self.done,
            last_reload=self.last_reload,
            connections=len(self.conns),
            accepted=self.accepted,
            **extra,
        )

    def note(self, msg: str) -> None:
        """A line of our own in the log (listening, refused configs and connections)."""
        os.write(self.log_fd, f"{iso(time.time())} {self.name} labsshd[{os.getpid()}]: {msg}\n".encode())

    def check(self, path: Path) -> str:
        """sshd's verdict on a config file in this view: "" when it is good, else the error."""
        r = subprocess.run([self.sshd_path, "-t", "-f", str(path)], capture_output=True, text=True)
        return "" if r.returncode == 0 else (r.stderr.strip() or f"sshd -t exited {r.returncode}")[:500]

    def run(self) -> int:
        error = self.check(self.layout.config)
        if error:
            self.state = "failed"
            self.status(error=f"sshd refuses {self.layout.config}: {error}")
            return 1
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.address, self.port))
        except OSError as exc:
            self.state = "failed"
            self.status(error=f"cannot listen on {self.address} port {self.port}: {exc}")
            return 1
        listener.listen(128)
        listener.setblocking(False)
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        signal.set_wakeup_fd(wsock.fileno())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, lambda *_: None)  # the wakeup fd carries the signal number
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ, "accept")
        sel.register(rsock, selectors.EVENT_READ, "signal")
        self.state = "listening"
        self.note(f"Server listening on {self.address} port {self.port} (sshd -i per connection).")
        self.status()
        try:
            while True:
                stopping = False
                for key, _ in sel.select(timeout=1.0):
                    if key.data == "accept":
                        self._accept(listener, sel)
                    elif key.data == "signal":
                        for signum in rsock.recv(64):
                            if signum in (signal.SIGTERM, signal.SIGINT):
                                stopping = True
                            elif signum == signal.SIGHUP:
                                self.requested += 1
                    else:
                        self._read(key.fd, sel)
                self._reap()
                if stopping:
                    break
                if self.requested > self.done:
                    self._reload()
        finally:
            sel.close()
            listener.close()
        return self._stop()

    def _accept(self, listener: socket.socket, sel: selectors.BaseSelector) -> None:
        try:
            conn, peer = listener.accept()
        except BlockingIOError:
            return
        with conn:
            if len(self.conns) >= self.max_conns:
                self.note(f"refused connection from {peer[0]} port {peer[1]}: {len(self.conns)} open")
                return
            proc = subprocess.Popen(
                [self.sshd_path, "-i", "-e", "-f", str(self.layout.config)],
                stdin=conn.fileno(),
                stdout=conn.fileno(),
                stderr=subprocess.PIPE,
                preexec_fn=_pdeathsig,
            )
        assert proc.stderr is not None
        fd = proc.stderr.fileno()
        os.set_blocking(fd, False)
        self.conns[fd] = _Conn(proc, fd)
        self.accepted += 1
        sel.register(fd, selectors.EVENT_READ, "conn")

    def _read(self, fd: int, sel: selectors.BaseSelector) -> None:
        c = self.conns[fd]
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        data = c.buf + chunk
        if chunk:
            *lines, c.buf = data.split(b"\n")
        else:
            lines, c.buf = [data], b""
        now = time.time()
        out = "".join(
            f"{iso(now)} {self.name} sshd[{c.proc.pid}]: {msg}\n"
            for raw in lines
            if (msg := raw.decode("utf-8", errors="replace").rstrip("\r"))
        )
        if out:
            os.write(self.log_fd, out.encode())
        if not chunk:
            sel.unregister(fd)
            assert c.proc.stderr is not None
            c.proc.stderr.close()
            del self.conns[fd]
            self._zombies.append(c.proc)

    def _reap(self) -> None:
        self._zombies = [p for p in self._zombies if p.poll() is None]

    def _reload(self) -> None:
        new = self.layout.config.with_name(self.layout.config.name + ".new")
        requested = self.requested
        error = self.check(new) if new.exists() else f"{new} is missing"
        if error:
            self.last_reload = {"ok": False, "at": time.time(), "error": error}
            self.note(f"new config refused, the current one stays: {error}")
        else:
            os.replace(new, self.layout.config)
            self.last_reload = {"ok": True, "at": time.time()}
        self.done = requested
        self.status()

    def _stop(self) -> int:
        # Not govnet.supervise's per-child policy: the session processes each connection's sshd
        # started are no children of ours, so everything in our namespace is ended together, in
        # phases short enough (2 s) that the whole stop fits in the starter's STOP_TIMEOUT_S.
        self._kill_leftovers()
        stop_all([c.proc for c in self.conns.values()] + self._zombies, timeout=1.0)  # reap
        self.state = "stopped"
        self.status(returncode=0)
        return 0

    def _kill_leftovers(self) -> None:
        """Connection and session processes live in our namespace: end exactly those."""
        me = os.getpid()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = processes_in(self.ns, exclude=me)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 2
            while pids and time.monotonic() < deadline:
                for p in [c.proc for c in self.conns.values()] + self._zombies:
                    p.poll()
                time.sleep(0.02)
                pids = [p for p in processes_in(self.ns, exclude=me) if not _zombie(p)]
            if not pids:
                return


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
    except (OSError, IndexError):
        return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ids.labsshd.run", description=__doc__)
    ap.add_argument("--dir", required=True, help="the lab sshd's directory (prepared by LabSshd.prepare)")
    ap.add_argument("--name", required=True, help="server name written in each log line")
    ap.add_argument("--listen", required=True, help="address to listen on")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sshd", default=SSHD)
    args = ap.parse_args(argv)
    layout = Layout(Path(args.dir))
    try:
        ns = check_private_namespace()
        mount_lab_view(layout)
        check_lab_view(layout)
    except (LabSshdError, OSError) as exc:
        write_status(layout, supervisor=os.getpid(), state="failed", error=str(exc), name=args.name)
        print(f"labsshd: {exc}", file=sys.stderr)
        return 3
    return Supervisor(layout, args.name, args.sshd, ns, args.listen, args.port).run()


if __name__ == "__main__":
    sys.exit(main())
