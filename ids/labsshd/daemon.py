"""A lab sshd: OpenSSH's sshd with a lab-only account database, in a private mount namespace.

    lab = LabSshd(run_dir / "labsshd" / "dmz-web", [LabAccount("alice", "Winter-2026")],
                  address="10.40.0.10", port=22, name="dmz-web")
    lab.prepare()                              # files only, no root needed
    proc = node.popen(lab.command())           # in an emulated host (or lab.start() right here)
    lab.wait_ready(proc=proc)
    ...
    lab.stop()                                 # sshd, its connections and the namespace are gone

`command()` is `unshare --mount --propagation private -- python -m ids.labsshd.run ...`: a new mount
namespace (never a network namespace: the caller's, e.g. a Mininet host's, is kept). See `run` for
what happens inside and `config` for the files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from govnet.children import die_with_parent
from govnet.supervise import STOP_TIMEOUT_S, kill_pids, running, stop_process
from ids.labsshd.accounts import (
    NSSWITCH,
    LabAccount,
    LabSshdError,
    ShadowFile,
    assign_uids,
    hash_password,
    privsep_uid,
    real_uids,
    render_group,
    render_passwd,
    render_shadow,
    write_in_place,
)
from ids.labsshd.config import ETC_BINDS, RECORD_BINDS, SSHD, Layout, deny_pattern, render_sshd_config
from ids.labsshd.procs import processes_in


class LabSshd:
    """One lab sshd: its directory, accounts, listen address, deny list; start, reload and stop."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        accounts: Sequence[LabAccount],
        *,
        address: str,
        port: int = 22,
        name: str = "labsshd",
        sshd: str = SSHD,
        python: str = sys.executable,
        max_auth_tries: int = 6,
    ) -> None:
        names = [a.name for a in accounts]
        if len(set(names)) != len(names):
            raise LabSshdError(f"lab sshd {name}: duplicate account names in {names}")
        self.layout = Layout(Path(directory).resolve())
        self.accounts = list(accounts)
        self.address, self.port, self.name = address, port, name
        self.sshd, self.python, self.max_auth_tries = sshd, python, max_auth_tries
        self._proc: subprocess.Popen[bytes] | None = None
        self.render_config()  # bad address/port/accounts fail here, before anything is written

    # --- files ----------------------------------------------------------------------------------
    @property
    def log(self) -> Path:
        """The stamped sshd log to follow: `LogFollower(lab.log, "sshd", auditor)`."""
        return self.layout.log

    def denied(self) -> dict[str, float | None]:
        """Blocked sources -> block end (POSIX time; None: until unblocked)."""
        try:
            data = json.loads(self.layout.deny.read_text())
        except FileNotFoundError:
            return {}
        return {str(k): (None if v is None else float(v)) for k, v in data.items()}

    def render_config(self, denied: Iterable[str] = ()) -> str:
        return render_sshd_config(
            self.layout,
            name=self.name,
            address=self.address,
            port=self.port,
            users=[a.name for a in self.accounts],
            denied=denied,
            max_auth_tries=self.max_auth_tries,
        )

    def prepare(self) -> None:
        """Write the directory: accounts, host key, records, config (keeps the host key and blocks)."""
        lay = self.layout
        for d in (lay.dir, lay.etc, lay.records):
            d.mkdir(mode=0o700 if d != lay.etc else 0o755, parents=True, exist_ok=True)
        os.chmod(lay.dir, 0o755)  # sshd's privsep child must reach nothing here; root reads all
        if not lay.hostkey.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"govnet-lab-{self.name}",
                    "-f",
                    str(lay.hostkey),
                ],
                check=True,
            )
        uids = assign_uids(self.accounts, real_uids())
        hashes = {a.name: hash_password(a.password) for a in self.accounts}
        write_in_place(lay.etc / "passwd", render_passwd(uids, privsep_uid()))
        write_in_place(lay.etc / "group", render_group(uids))
        write_in_place(lay.etc / "nsswitch.conf", NSSWITCH)
        write_in_place(lay.shadow, render_shadow(hashes), 0o600)
        for name, _ in RECORD_BINDS:
            write_in_place(lay.records / name, "", 0o600)
        self._write_config()
        with contextlib.suppress(FileNotFoundError):
            lay.status.unlink()

    def _write_config(self, path: Path | None = None) -> None:
        path = path or self.layout.config
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.render_config(self.denied()))
        os.replace(tmp, path)  # each connection's sshd reads the path; not bind-mounted

    @property
    def shadow(self) -> ShadowFile:
        """The lab shadow file; checks that it is still the inode the running sshd reads."""
        inode = self.status().get("shadow_inode")
        return ShadowFile(self.layout.shadow, inode if isinstance(inode, int) else None)

    # --- process --------------------------------------------------------------------------------
    def command(self) -> list[str]:
        """argv that runs this lab sshd in a new private mount namespace (in the caller's netns)."""
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            self.python,
            "-m",
            "ids.labsshd.run",
            "--dir",
            str(self.layout.dir),
            "--name",
            self.name,
            "--listen",
            self.address,
            "--port",
            str(self.port),
            "--sshd",
            self.sshd,
        ]

    def start(self, timeout: float = 10.0) -> None:
        """prepare() and run it in this process's network namespace; raises if it is not listening.
        It ends with the thread that started it (parent-death signal): start it from a lasting one."""
        if os.geteuid() != 0:
            raise LabSshdError("a lab sshd needs root (mount namespace, bind mounts, sshd)")
        self.prepare()
        with open(self.layout.supervisor_log, "ab") as out:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                cwd=self.layout.dir,
                preexec_fn=die_with_parent,  # a killed starter leaves no lab sshd in this namespace
            )
        try:
            self.wait_ready(timeout, proc=self._proc)
        except BaseException:
            self.stop()
            raise

    def status(self) -> dict[str, Any]:
        """The supervisor's status.json ({} before it starts)."""
        try:
            data = json.loads(self.layout.status.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def wait_ready(self, timeout: float = 10.0, proc: subprocess.Popen[Any] | None = None) -> dict[str, Any]:
        """Wait until sshd listens; `proc` (a Popen, e.g. from `node.popen`) lets an early exit show."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st.get("state") == "listening":
                self.check_not_leaked()
                return st
            if st.get("state") == "failed":
                raise LabSshdError(f"lab sshd {self.name} failed to start: {st.get('error')}{self._tail()}")
            if proc is not None and proc.poll() is not None:
                rc = proc.returncode
                raise LabSshdError(
                    f"lab sshd {self.name} exited with status {rc} before listening{self._tail()}"
                )
            time.sleep(0.02)
        raise LabSshdError(f"lab sshd {self.name} is not listening after {timeout:g} s{self._tail()}")

    def check_not_leaked(self) -> None:
        """This process's /etc files must not be the lab's (the bind mounts stayed in the namespace)."""
        for name, target in ETC_BINDS:
            lab, here = os.stat(self.layout.etc / name), os.stat(target)
            if (lab.st_dev, lab.st_ino) == (here.st_dev, here.st_ino):
                raise LabSshdError(f"lab {name} is visible at {target} outside the lab sshd's namespace")

    def _tail(self) -> str:
        lines: list[str] = []
        for path in (self.layout.supervisor_log, self.layout.log):
            with contextlib.suppress(OSError):
                lines += path.read_text(errors="replace").splitlines()[-3:]
        return ("\n  " + "\n  ".join(lines)) if lines else ""

    def supervisor_pid(self) -> int:
        """The running supervisor's pid; raises LabSshdError when it is not running."""
        st = self.status()
        pid = st.get("supervisor")
        if not isinstance(pid, int) or st.get("state") in ("stopped", "failed") or not _alive(pid):
            raise LabSshdError(
                f"lab sshd {self.name} is not running (state {st.get('state', 'never started')!r}, "
                f"supervisor {pid}); start it first"
            )
        return pid

    def reload(self, timeout: float = 2.0) -> float:
        """Render the config from the deny list and have the supervisor check and install it (the
        next connection uses it); returns the seconds it took. Raises when the lab sshd is gone,
        refuses the config, or does not answer within `timeout`. Not for concurrent callers: the
        enforcer serialises its reloads."""
        t0 = time.monotonic()
        pid = self.supervisor_pid()
        self._write_config(self.layout.new_config)
        before = int(self.status().get("requested", 0))
        os.kill(pid, signal.SIGHUP)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if int(st.get("done", 0)) > before:
                last = st.get("last_reload") or {}
                if not last.get("ok"):
                    raise LabSshdError(f"lab sshd {self.name} refused the new config: {last.get('error')}")
                return time.monotonic() - t0
            if not _alive(pid):
                raise LabSshdError(f"lab sshd {self.name} died while reloading{self._tail()}")
            time.sleep(0.005)
        raise LabSshdError(f"lab sshd {self.name} did not reload within {timeout:g} s{self._tail()}")

    def set_denied(self, denied: dict[str, float | None], reload: bool = True) -> float:
        """Replace the deny list (source -> until) and reload; returns the reload time."""
        for addr in denied:
            deny_pattern(addr)  # validates
        tmp = self.layout.deny.with_suffix(".tmp")
        tmp.write_text(json.dumps(denied, sort_keys=True))
        os.replace(tmp, self.layout.deny)
        return self.reload() if reload else 0.0

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop sshd, its connections and the namespace; raises if anything of it is left."""
        st = self.status()
        pid, ns = st.get("supervisor"), st.get("mnt_ns", "")
        if self._proc is not None:
            # started here: the supervisor is our child (unshare execs it), stopped by the one policy
            stop_process(self._proc, timeout)
            self._proc = None
        if isinstance(pid, int) and _alive(pid):
            # started by someone else (e.g. `node.popen(lab.command())`, who reaps it): signal and wait
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        # what is left in the namespace (a connection's sshd whose listener died, still exiting):
        # the one policy — TERM, grace, KILL, wait until gone; only what survives that is an error
        left = [p for p in processes_in(ns) if running(p)] if ns else []
        if isinstance(pid, int) and _alive(pid):
            left.append(pid)
        if left:
            kill_pids(sorted(set(left)))
            left = [p for p in set(left) if running(p)]
        if left:
            raise LabSshdError(
                f"lab sshd {self.name}: processes still running after stop: {sorted(set(left))}"
            )

    # --- checks ---------------------------------------------------------------------------------
    def verify_real_accounts_refused(self, names: Iterable[str], source: str | None = None) -> dict[str, str]:
        """Try each real account name with a password and with a key; every try must fail and sshd
        must log `Invalid user NAME` (the account does not exist in the lab view). Returns
        name -> the log line that shows it."""
        lab = {a.name for a in self.accounts}
        out: dict[str, str] = {}
        for user in names:
            if user in lab:
                raise LabSshdError(f"{user!r} is a lab account; give real account names")
            if password_login(self.address, self.port, user, "not-the-password-" + user, source=source):
                raise LabSshdError(f"lab sshd {self.name} ACCEPTED a password for real account {user!r}")
            if key_login(self.address, self.port, user, source=source):
                raise LabSshdError(f"lab sshd {self.name} ACCEPTED a key for real account {user!r}")
        deadline = time.monotonic() + 2
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                for user in list(pending):
                    if f": Invalid user {user} from " in line:
                        out[user] = line
                        pending.discard(user)
            time.sleep(0.05)
        if pending:
            raise LabSshdError(f"lab sshd {self.name} did not log 'Invalid user' for {sorted(pending)}")
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _sock(address: str, port: int, source: str | None, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout, (source, 0) if source else None)


def password_login(
    address: str, port: int, user: str, password: str, *, source: str | None = None, timeout: float = 5.0
) -> bool:
    """True when an SSH password login succeeds (paramiko; `source` binds the client address)."""
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            address,
            port,
            user,
            password,
            sock=_sock(address, port, source, timeout),
            allow_agent=False,
            look_for_keys=False,
            timeout=timeout,
            auth_timeout=timeout,
            banner_timeout=timeout,
        )
        return True
    except paramiko.AuthenticationException:
        return False
    finally:
        client.close()


def key_login(address: str, port: int, user: str, *, source: str | None = None, timeout: float = 5.0) -> bool:
    """True when a login with a fresh ed25519 key succeeds (it never should: no keys are accepted)."""
    import paramiko

    key = _fresh_key()
    transport = paramiko.Transport(_sock(address, port, source, timeout))
    try:
        transport.start_client(timeout=timeout)
        transport.auth_publickey(user, key)
        return bool(transport.is_authenticated())
    except (paramiko.AuthenticationException, paramiko.SSHException):
        return False
    finally:
        transport.close()


def _fresh_key() -> Any:
    import paramiko

    return paramiko.ECDSAKey.generate()
