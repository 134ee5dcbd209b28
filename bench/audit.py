"""Benchmark: govnet's login audit (parse + attempts + policy) against fail2ban-regex, in one run.

Generates one sshd/auth log (default 200,000 lines; seeded) in syslog form: brute-force connections
in OpenSSH 7.4, 8.x and 9.x spellings (invalid users, failed passwords and keys, maximum attempts,
preauth closes and resets), PAM failures, accepted logins, scanners and plenty of noise (cron,
kernel, systemd, session ends, key exchange errors). Then, on the same file:

1. govnet: `ids.audit.parse_file(kind="auth")` (sshd's own lines and PAM's) -> `Attempts` ->
   `PolicyEngine.on_attempt` (the account and source limits), in this process; lines/s over wall time.
2. fail2ban-regex (Debian fail2ban) with its stock filter /etc/fail2ban/filter.d/sshd.conf, in each
   mode asked for (default: normal and aggressive), `-o msg` so it prints the failure lines it found;
   lines/s over its wall time minus its start-up time (measured on a one-line log), also shown raw.

It prints both figures and their ratio, and compares the sets of failure lines (line numbers) each
found: ours = every line we parse as a login failure; fail2ban's = every line it reports. Lines
found by only one side are grouped by message so the differences can be explained.

Usage: .venv/bin/python bench/audit.py [--lines 200000] [--modes normal,aggressive] [--keep FILE]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from ids.audit import Attempts, Policy, PolicyEngine, parse_file

FILTER = "/etc/fail2ban/filter.d/sshd.conf"
USERS = ["root", "admin", "oracle", "test", "ubuntu", "postgres", "git", "guest", "user", "pi", "support"]
STAFF = ["alice", "bob", "carol", "dave", "erin", "ops", "deploy"]
MONTHS = ["Nov"]


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


def generate(path: Path, n: int, seed: int = 7) -> None:
    """A syslog sshd log of about n lines (see the module docstring)."""
    rng = random.Random(seed)
    t = 6 * 3600.0
    pid = 10_000
    out: list[str] = []

    def stamp() -> str:
        nonlocal t
        t += rng.expovariate(1 / 0.4)
        s = int(t) % 86_400
        return f"Nov 22 {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d} srv-oa"

    while len(out) < n:
        pid += 1
        port = rng.randint(1024, 65535)
        atk = f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        lan = f"10.{rng.randint(0, 4)}.{rng.randint(0, 9)}.{rng.randint(1, 254)}"
        r = rng.random()
        d = f"sshd[{pid}]:"
        if r < 0.45:  # noise
            k = rng.randint(0, 7)
            s = stamp()
            who = rng.choice(STAFF)
            out.append(
                [
                    f"{s} CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by root",
                    f"{s} CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
                    f"{s} kernel: [{pid}.123] nft drop IN=eth0 SRC={atk} DST=10.0.0.1 PROTO=TCP DPT=23",
                    f"{s} systemd[1]: Started session-{pid}.scope - Session {pid} of User alice.",
                    f"{s} {d} Received disconnect from {lan} port {port}:11: disconnected by user",
                    f"{s} {d} Disconnected from user {who} {lan} port {port}",
                    f"{s} {d} error: kex_exchange_identification: Connection closed by remote host",
                    f"{s} {d} pam_unix(sshd:session): session closed for user {who}",
                ][k]
            )
        elif r < 0.70:  # an invalid-user brute-force connection (8.x/9.x spelling, or 7.4)
            u = rng.choice(USERS) + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "")
            v74 = rng.random() < 0.3
            out.append(f"{stamp()} {d} Invalid user {u} from {atk}" + ("" if v74 else f" port {port}"))
            for _ in range(rng.randint(0, 3)):
                out.append(f"{stamp()} {d} Failed password for invalid user {u} from {atk} port {port} ssh2")
            if v74:
                out.append(f"{stamp()} {d} Connection closed by {atk} port {port} [preauth]")
            else:
                out.append(f"{stamp()} {d} Connection closed by invalid user {u} {atk} port {port} [preauth]")
        elif r < 0.80:  # a root/staff password guesser hitting MaxAuthTries
            u = rng.choice(["root", *STAFF])
            out.append(
                f"{stamp()} {d} pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                f"ruser= rhost={atk}  user={u}"
            )
            for _ in range(rng.randint(1, 6)):
                out.append(f"{stamp()} {d} Failed password for {u} from {atk} port {port} ssh2")
            if rng.random() < 0.5:
                out.append(
                    f"{stamp()} {d} error: maximum authentication attempts exceeded for {u} from {atk} "
                    f"port {port} ssh2 [preauth]"
                )
                out.append(
                    f"{stamp()} {d} Disconnecting authenticating user {u} {atk} port {port}: "
                    "Too many authentication failures [preauth]"
                )
                out.append(
                    f"{stamp()} {d} PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh "
                    f"ruser= rhost={atk}  user={u}"
                )
            else:
                out.append(
                    f"{stamp()} {d} Connection reset by authenticating user {u} {atk} port {port} [preauth]"
                )
        elif r < 0.90:  # staff logins, sometimes after a typo
            u = rng.choice(STAFF)
            if rng.random() < 0.3:
                out.append(f"{stamp()} {d} Failed password for {u} from {lan} port {port} ssh2")
            how = rng.choice(["password", "publickey"])
            key = ": ED25519 SHA256:Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg" if how == "publickey" else ""
            out.append(f"{stamp()} {d} Accepted {how} for {u} from {lan} port {port} ssh2{key}")
            out.append(
                f"{stamp()} {d} pam_unix(sshd:session): session opened for user {u}(uid=1000) by (uid=0)"
            )
        elif r < 0.95:  # scanners and key probes
            k = rng.randint(0, 3)
            s = stamp()
            out.append(
                [
                    f"{s} {d} Connection closed by {atk} port {port} [preauth]",
                    f"{s} {d} Failed publickey for invalid user git from {atk} port {port} ssh2: "
                    "RSA SHA256:Z2l0Z2l0Z2l0Z2l0Z2l0Z2l0Z2l0Z2l0Z2l0Z2l0Z2l",
                    f"{s} {d} Disconnected from authenticating user root {atk} port {port} [preauth]",
                    f"{s} {d} Unable to negotiate with {atk} port {port}: no matching key exchange "
                    "method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
                ][k]
            )
        else:  # keyboard-interactive failures and not-allowed users
            u = rng.choice(STAFF)
            out.append(f"{stamp()} {d} error: PAM: Authentication failure for {u} from {atk}")
            out.append(f"{stamp()} {d} Failed keyboard-interactive/pam for {u} from {atk} port {port} ssh2")
            if rng.random() < 0.3:
                out.append(f"{stamp()} {d} User root from {atk} not allowed because not listed in AllowUsers")
    path.write_text("\n".join(out[:n]) + "\n")


def ours(path: Path) -> tuple[float, set[int], int, int]:
    """Seconds, failure line numbers, counted attempts and policy decisions."""
    clock = _Clock()
    engine = PolicyEngine(Policy(), clock)
    judge = Attempts()
    failures: set[int] = set()
    counted = decisions = 0
    t0 = time.perf_counter()
    for ev in parse_file(path, "auth", year=2026):
        if ev.result == "failure":
            failures.add(ev.line)
        if judge.counts(ev):
            counted += 1
            clock.t = ev.ts
            decisions += len(engine.on_attempt(ev).decisions)
    return time.perf_counter() - t0, failures, counted, decisions


def fail2ban(path: Path, mode: str, lines: list[str]) -> tuple[float, set[int]]:
    """Wall seconds of fail2ban-regex and the line numbers of the failure lines it printed."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["fail2ban-regex", "-o", "msg", str(path), f"{FILTER}[mode={mode}]"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"fail2ban-regex failed: {proc.stderr.strip()[:400]}")
    where: dict[str, deque[int]] = defaultdict(deque)
    for n, text in enumerate(lines, 1):
        where[text].append(n)
    found = set()
    for text in proc.stdout.splitlines():
        q = where.get(text)
        if q:
            found.add(q.popleft())
    return wall, found


def _shape(line: str) -> str:
    msg = line.split(": ", 1)[1] if ": " in line else line
    msg = re.sub(r"\d+(\.\d+){3}", "H", msg)
    msg = re.sub(r"(user|for|Failed \S+ for) \S+", r"\1 U", msg)
    msg = re.sub(r"(user|rhost)=\S+", r"\1=U", msg)
    msg = re.sub(r"\d+", "N", msg)
    return msg[:90]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--modes", default="normal,aggressive")
    ap.add_argument("--keep", help="write the generated log here (default: a temporary file)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(a.keep) if a.keep else Path(tmp) / "auth.log"
        generate(log, a.lines)
        lines = log.read_text().splitlines()
        one = Path(tmp) / "one.log"
        one.write_text(lines[0] + "\n")
        secs, mine, counted, decisions = ours(log)
        print(f"generated {len(lines):,} lines ({log.stat().st_size / 1e6:.1f} MB)")
        print(
            f"govnet parse+attempts+policy: {secs:.2f} s, {len(lines) / secs:,.0f} lines/s; "
            f"{len(mine):,} failure lines, {counted:,} counted attempts, {decisions:,} lock/block decisions"
        )
        startup, _ = fail2ban(one, "normal", lines[:1])
        ours_lps = len(lines) / secs
        figures = [
            Figure("govnet parse auth + attempts + policy", ours_lps, None, "lines/s"),
            Figure(
                "failure lines found by govnet",
                len(mine),
                note=f"{counted:,} counted attempts, {decisions:,} lock/block decisions",
            ),
        ]
        for mode in a.modes.split(","):
            wall, theirs = fail2ban(log, mode, lines)
            net = max(wall - startup, 1e-9)
            f2b_lps = len(lines) / net
            figures += [
                Figure(
                    f"lines/s, fail2ban-regex sshd[mode={mode}] as anchor",
                    ours_lps,
                    f2b_lps,
                    "lines/s",
                    ours_lps / f2b_lps,
                    "govnet/anchor",
                    f"fail2ban {wall:.2f} s wall - {startup:.2f} s start-up",
                ),
                Figure(
                    f"failure lines found, fail2ban mode={mode} as anchor",
                    len(mine),
                    len(theirs),
                    note=f"both {len(mine & theirs):,}, only govnet {len(mine - theirs):,}, only fail2ban "
                    f"{len(theirs - mine):,}, Jaccard {len(mine & theirs) / max(1, len(mine | theirs)):.3f}",
                ),
            ]
            print(
                f"fail2ban-regex sshd[mode={mode}]: {wall:.2f} s wall ({startup:.2f} s start-up), "
                f"{len(lines) / net:,.0f} lines/s; {len(theirs):,} failure lines"
            )
            print(f"  ratio govnet/fail2ban: {(len(lines) / secs) / (len(lines) / net):.1f}x lines/s")
            both = mine & theirs
            union = mine | theirs
            print(
                f"  agreement: {len(both):,} lines found by both, {len(mine - theirs):,} only by govnet, "
                f"{len(theirs - mine):,} only by fail2ban (Jaccard {len(both) / max(1, len(union)):.3f})"
            )
            for label, only in (("only govnet", mine - theirs), ("only fail2ban", theirs - mine)):
                for shape, k in Counter(_shape(lines[i - 1]) for i in only).most_common(6):
                    print(f"    {label:13} {k:>7,}  {shape}")
        write_results(
            "audit",
            "login audit parse + attempts + policy against fail2ban-regex",
            "fail2ban-regex with Debian's stock sshd filter, on the same generated log",
            figures,
            params={"lines": len(lines), "megabytes": round(log.stat().st_size / 1e6, 1), "modes": a.modes},
        )


if __name__ == "__main__":
    main()
