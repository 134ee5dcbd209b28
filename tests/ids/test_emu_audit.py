"""The login audit on the emulated small network (root): hydra against a lab sshd in a server, and an
OA password-guessing burst from a bureau desktop, both across the inner firewall.

One network for the module. The lab sshd (lab-only accounts) and the OA service run in `srv-oa`;
`LabAudit` follows the sshd log and the OA's audit database into one ledger, and its policy's
decisions lock lab accounts and block sources at the lab sshd and on every firewall.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.emu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (Mininet); CI runs these as root"),
]

from govnet.netns import socket_in_netns  # noqa: E402
from ids.attacks import hydra_ssh, hydra_web, wordlist  # noqa: E402
from ids.audit import Limit, Policy  # noqa: E402
from ids.audit.lab import LabAudit  # noqa: E402
from ids.labsshd import LabAccount  # noqa: E402
from topology import load_model  # noqa: E402
from topology.emulator.handle import EmulatorHandle  # noqa: E402
from topology.model import Network  # noqa: E402

SERVER = "srv-oa"
ATTACKER = "bureau-education-pc1"  # guesses ssh passwords
GUESSER = "bureau-finance-pc1"  # guesses OA passwords
BYSTANDER = "bureau-b03-pc1"
POLICY = Policy(
    account=Limit(failures=3, window_s=60, lock_s=600),
    source=Limit(failures=20, window_s=60, lock_s=600),
)
ACCOUNTS = [LabAccount("alice", "Spring-2026x"), LabAccount("bob", "Bob-lab-pass1")]


def _ip(net: Network, host: str) -> str:
    return str(net.node(host).addr).split("/")[0]


def _connects(emu: EmulatorHandle, src: str, ip: str, port: int, timeout: float = 2.0) -> bool:
    s = socket_in_netns(emu.pid(src), socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorHandle, LabAudit, Path]]:
    from topology.emulator import Emulation

    net = load_model("small")
    work = tmp_path_factory.mktemp("audit")
    (work / "users.json").write_text(json.dumps({"dave": "Dave-oa-pass9", "erin": "Erin-oa-pass9"}))
    with Emulation(net, work) as emu:
        oa = emu.node(SERVER).popen(
            [
                sys.executable,
                "-m",
                "apps.oa",
                "--db",
                str(work / "oa.db"),
                "--bind",
                "0.0.0.0",
                "--port",
                "80",
                "--users",
                str(work / "users.json"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not _connects(emu, SERVER, _ip(net, SERVER), 80, 1.0):
                assert oa.poll() is None and time.monotonic() < deadline, "the OA service did not start"
                time.sleep(0.2)
            with LabAudit(
                emu,
                work,
                POLICY,
                sshd_host=SERVER,
                accounts=ACCOUNTS,
                app_dbs=[work / "oa.db"],
                log=lambda m: None,
            ) as audit:
                yield emu, audit, work
        finally:
            oa.send_signal(signal.SIGTERM)
            oa.wait(timeout=10)


def _until(cond: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def test_hydra_on_ssh_is_locked_and_blocked_at_the_firewall_within_2s(
    lab: tuple[EmulatorHandle, LabAudit, Path],
) -> None:
    emu, audit, work = lab
    net = emu.model
    server, attacker = _ip(net, SERVER), _ip(net, ATTACKER)
    assert _connects(emu, ATTACKER, server, 22) and _connects(emu, ATTACKER, server, 80)
    # hydra tries every word for alice, then for root: alice locks at her 3rd failure, and the
    # source is blocked at the 20th
    words = wordlist(24, seed=7, include=[("Spring-2026x", 20)])
    attack = hydra_ssh(server, work / "hydra-ssh", ["alice", "root"], passwords=words)
    attack.prepare()
    proc = emu.node(ATTACKER).popen(["bash", "-c", attack.command()], stdout=-1, stderr=-1, text=True)
    assert audit.enforcer is not None and audit.firewall is not None
    enforcer, firewall = audit.enforcer, audit.firewall

    def done() -> bool:
        locked = ("lock_account", "alice") in {(a.kind, a.subject) for a in enforcer.applied}
        return locked and ("block_source", attacker) in {(a.kind, a.subject) for a in firewall.applied}

    try:
        assert _until(done, 90), (enforcer.applied, firewall.applied)
    finally:
        # blocked at the firewall, hydra would wait out its timeouts; mnexec -d made it a session
        # (and process group) leader, so the group is hydra and its children
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate(timeout=10)[0]
    # whether hydra reached alice's right password before her lock took effect is a race with its
    # 4 tasks on a loaded box; what must hold is that the lock is there and refuses her from now on
    assert audit.sshd.shadow.locked("alice"), out[-500:]

    # within 2 s of the threshold-crossing log line, at the lab sshd and on every firewall
    by = {(a.kind, a.subject): a for a in enforcer.applied}
    delay = by[("lock_account", "alice")].delay
    assert delay is not None and 0 <= delay < 2.0, by
    assert ("lock_account", "bob") not in by  # never guessed
    assert audit.failures == []
    fw = next(a for a in firewall.applied if a.kind == "block_source" and a.subject == attacker)
    assert fw.delay is not None and 0 <= fw.delay < 2.0, fw
    assert set(fw.nodes) == {"fw-a", "fw-b", "fw-inner"}
    print(
        f"\nthreshold -> in effect: lock alice {delay * 1000:.0f} ms, firewall block {fw.delay * 1000:.0f} ms"
    )
    left = firewall.blocked("fw-inner")[attacker]
    assert left is not None and 0 < left <= 600

    # the block is on the path: the attacker reaches nothing behind the inner firewall, others do
    assert not _connects(emu, ATTACKER, server, 80) and not _connects(emu, ATTACKER, server, 22)
    assert _connects(emu, BYSTANDER, server, 80)

    # every try that reached sshd is one counted attempt in the ledger
    time.sleep(0.3)
    assert audit.ledger is not None
    logins = [
        e for e in audit.ledger.entries(kind="login") if e.detail.get("counted") and e.source == attacker
    ]
    tries = Counter(e.user for e in logins if e.reason.startswith("failed-"))
    logged = Counter(
        m.group(1)
        for m in re.finditer(
            rf"Failed password for (?:invalid user )?(\S+) from {re.escape(attacker)}",
            audit.sshd.log.read_text(),
        )
    )
    assert tries == logged and sum(tries.values()) >= POLICY.source.failures
    decisions = {(e.detail["decision"], e.detail["subject"]) for e in audit.ledger.entries(kind="decision")}
    assert ("block_source", attacker) in decisions and ("lock_account", "alice") in decisions


def test_an_oa_guessing_burst_locks_the_account_and_every_attempt_is_ledgered(
    lab: tuple[EmulatorHandle, LabAudit, Path],
) -> None:
    emu, audit, work = lab
    net = emu.model
    server, guesser = _ip(net, SERVER), _ip(net, GUESSER)
    words = wordlist(12, seed=3)  # dave's password is not among them
    attack = hydra_web(server, work / "hydra-web", ["dave"], service="oa", port=80, passwords=words, tasks=2)
    result = attack.run(runner=emu.node(GUESSER).cmd)
    assert result.hydra_found() == [] and result.hydra_attempts()["dave"] == 12, result.output[-800:]

    db = sqlite3.connect(work / "oa.db")
    rows = [
        json.loads(d)
        for (d,) in db.execute("SELECT detail FROM events WHERE kind = 'login' AND user = 'dave'")
    ]
    db.close()
    results = Counter(r["result"] for r in rows)
    assert results["failure"] == 5 and results["locked"] == len(rows) - 5 > 0  # the OA's own lock
    assert all(r["source"] == guesser for r in rows)
    assert audit.ledger is not None

    def ledgered() -> int:
        assert audit.ledger is not None
        return sum(1 for e in audit.ledger.entries(kind="login") if e.service == "oa" and e.user == "dave")

    assert _until(lambda: ledgered() == len(rows), 5), (ledgered(), len(rows))  # every attempt
    decisions = {(e.detail["decision"], e.detail["subject"]) for e in audit.ledger.entries(kind="decision")}
    assert ("lock_account", "dave") in decisions
    assert ("block_source", guesser) not in decisions  # 12 tries: under the source limit (20)
    assert _connects(emu, GUESSER, server, 80)
    assert audit.ledger.verify().ok
