"""The login audit wired into an emulated lab: lab sshd, the apps' events, ledger, policy, enforcement.

    with LabAudit(emu, run_dir, policy, sshd_host="srv-oa", accounts=[LabAccount("alice", "...")],
                  app_dbs=[run_dir / "apps" / "oa.db"]) as audit:
        ...                                   # attacks, users
    audit.ledger_path                         # the hash-chained ledger of every attempt

- A **lab sshd** (`ids.labsshd`) runs in `sshd_host`'s network namespace (its own mount namespace,
  lab-only accounts) on the host's address, port 22.
- **Followers** poll every 20 ms: the lab sshd's log (`LogFollower`, kind sshd) and each service
  database's `events` table (`AppDbFollower`). They feed one `Auditor`, which ledgers every attempt
  in `audit.db` and judges it with the policy.
- **Enforcement**: `lock_account` and `block_source` decisions go to the lab sshd (shadow lock,
  `DenyUsers`). `block_source` also goes to every firewall of the model (`firewall.block`: a timed
  nft set, dropped in forward and input before the zone policy). The apps lock their own accounts
  after 5 failures (`apps.accounts`); the ledger records the audit's decision beside that lock.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firewall.block import FirewallBlock
from govnet.supervise import Lifecycle, stop_process
from ids.audit.auditor import Auditor
from ids.audit.config import Policy
from ids.audit.follow import AppDbFollower, LogFollower
from ids.audit.ledger import Ledger
from ids.labsshd import LabAccount, LabSshd, LabSshdEnforcer

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle

POLL_S = 0.02


class LabAudit(Lifecycle):
    """Start with `with` (or start()/stop()); everything it started is stopped on exit."""

    def __init__(
        self,
        emu: EmulatorHandle,
        run: Path,
        policy: Policy,
        *,
        sshd_host: str,
        accounts: Sequence[LabAccount],
        app_dbs: Sequence[Path] = (),
        log: Callable[[str], None] = print,
    ) -> None:
        self.emu, self.run, self.policy, self.log = emu, run, policy, log
        self.sshd_host = sshd_host
        address = str(emu.model.node(sshd_host).addr).split("/")[0]
        self.sshd = LabSshd(run / "labsshd" / sshd_host, accounts, address=address, port=22, name=sshd_host)
        self.app_dbs = list(app_dbs)
        self.ledger_path = run / "audit.db"
        self.ledger: Ledger | None = None
        self.firewall: FirewallBlock | None = None
        self.enforcer: LabSshdEnforcer | None = None
        self.auditor: Auditor | None = None
        self.followers: list[LogFollower | AppDbFollower] = []
        self._proc: subprocess.Popen[Any] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures: list[Any] = []  # HookFailure: decisions a hook could not carry out

    def start(self) -> None:
        self.sshd.prepare()
        self._proc = self.emu.node(self.sshd_host).popen(self.sshd.command())
        self.sshd.wait_ready(proc=self._proc)
        self.firewall = FirewallBlock(self.emu)
        self.firewall.install()
        self.enforcer = LabSshdEnforcer(self.sshd)
        self.enforcer.start()
        self.ledger = Ledger(self.ledger_path)
        self.auditor = Auditor(self.policy, ledger=self.ledger, hooks=[self.enforcer, self.firewall])
        self.followers = [LogFollower(self.sshd.log, "sshd", self.auditor)]
        self.followers += [AppDbFollower(db, self.auditor) for db in self.app_dbs]
        for f in self.followers:
            t = threading.Thread(target=self._follow, args=(f,), name="audit-follow", daemon=True)
            t.start()
            self._threads.append(t)
        self.log(
            f"audit: lab sshd on {self.sshd_host} ({self.sshd.address}:22), {len(self.app_dbs)} service "
            f"database(s) followed, blocks on {', '.join(self.firewall.nodes)}"
        )

    def _follow(self, follower: LogFollower | AppDbFollower) -> None:
        """Poll one follower until stopped; a hook that failed is kept and logged, not fatal."""
        while True:
            stopping = self._stop.wait(POLL_S)
            try:
                result = follower.poll()
            except Exception as exc:  # a bad line must not end the audit of the lab
                self.log(f"audit: {type(follower).__name__} failed: {type(exc).__name__}: {exc}")
                result = None
            for failure in getattr(result, "failures", []):
                self.failures.append(failure)
                self.log(
                    f"audit: {failure.hook} could not {failure.decision.kind} {failure.decision.subject}: "
                    f"{failure.error}"
                )
            if stopping:
                return

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        if self.enforcer is not None:
            self.enforcer.close()
        if self.firewall is not None:
            self.firewall.close()
        self.sshd.stop()  # signals the supervisor and waits for it: our child is normally gone by now
        stop_process(self._proc)
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
