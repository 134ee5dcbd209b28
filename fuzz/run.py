"""Run the fuzz targets for a bounded time each and summarise (`make fuzz`).

    python fuzz/run.py                   # every target, 60 s each (FUZZ_SECONDS overrides)
    python fuzz/run.py rules pcap -t 10  # some targets, 10 s each

Each target runs as its own libFuzzer process (atheris) with -rss_limit_mb=2048 and -timeout=10
(one input taking over 10 s is a finding), starting from a corpus seeded with the project's own
files (models, scenarios, rules, logs, crafted captures). Corpora and crash artifacts live under
var/fuzz/ (GOVNET_VAR overrides var), never in the repository. Exit 1 when any target found a crash,
a timeout or an out-of-memory; turn each artifact into a regression test (tests/test_fuzz_seeds.py
replays fuzz/regressions/<target>/*).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("model", "scenario", "rules", "pcap", "loglines", "policy", "ledger")


def var_dir() -> Path:
    return Path(os.environ.get("GOVNET_VAR") or ROOT / "var")


def seed_corpus(target: str, into: Path) -> int:
    """Copy (or make) the seeds of one target into its corpus directory; returns how many."""
    into.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, data in seeds(target):
        (into / f"seed-{name}").write_bytes(data)
        n += 1
    regress = ROOT / "fuzz" / "regressions" / target
    for f in sorted(regress.glob("*")) if regress.is_dir() else []:
        shutil.copyfile(f, into / f"regression-{f.name}")
        n += 1
    return n


def seeds(target: str) -> list[tuple[str, bytes]]:
    """The seed inputs of a target: its SEEDS globs, or made ones for '@' entries."""
    sys.path.insert(0, str(ROOT))
    if target == "pcap":
        return _pcap_seeds()
    if target == "policy":
        return [
            (
                "default.yaml",
                b"account: {failures: 5, window_s: 900, lock_s: 1800}\nnever_block: [10.0.0.0/8]\n",
            ),
            ("p.json", b'{"password": {"min_length": 12}}'),
        ]
    if target == "ledger":
        return [("empty", b""), ("ops", bytes(range(64)))]
    patterns = {
        "model": ["topology/models/*.yaml"],
        "scenario": ["labs/scenarios/*.yaml"],
        "rules": ["ids/nids/rules/*.rules"],
        "loglines": ["tests/data/audit/*.log"],
    }[target]
    out = []
    for pat in patterns:
        for f in sorted(glob.glob(str(ROOT / pat))):
            out.append((Path(f).name, Path(f).read_bytes()[:200_000]))
    return out


def _pcap_seeds() -> list[tuple[str, bytes]]:
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    from ids_craft import get, syn, timed
    from scapy.all import IP, TCP, Ether, Raw, fragment, wrpcap
    from scapy.utils import PcapNgWriter

    pkts = timed([get("/etc/passwd"), syn("203.0.113.66", "10.50.0.10", 22), get("/?id=1 union select 1,2")])
    frag = (
        IP(src="203.0.113.66", dst="10.50.0.10")
        / TCP(dport=80, flags="PA")
        / Raw(b"GET /etc/passwd HTTP/1.1\r\n\r\n")
    )
    pkts += timed([Ether() / f for f in fragment(frag, fragsize=8)])
    with tempfile.TemporaryDirectory() as d:
        wrpcap(f"{d}/a.pcap", pkts)
        with PcapNgWriter(f"{d}/a.pcapng") as w:
            for p in pkts:
                w.write(p)
        return [
            ("a.pcap", Path(f"{d}/a.pcap").read_bytes()),
            ("a.pcapng", Path(f"{d}/a.pcapng").read_bytes()),
        ]


def run_target(target: str, seconds: int, workdir: Path) -> dict[str, object]:
    corpus = workdir / "corpus" / target
    artifacts = workdir / "artifacts" / target
    artifacts.mkdir(parents=True, exist_ok=True)
    seed_corpus(target, corpus)
    cmd = [
        sys.executable,
        str(ROOT / "fuzz" / f"fuzz_{target}.py"),
        f"-max_total_time={seconds}",
        "-rss_limit_mb=2048",
        "-timeout=10",
        "-max_len=65536",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace")
    took = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    (workdir / f"{target}.log").write_text(log)
    runs = re.findall(r"Done (\d+) runs", log) or re.findall(r"#(\d+)\s", log)
    found = sorted(str(p) for p in artifacts.iterdir())
    return {
        "target": target,
        "execs": int(runs[-1]) if runs else 0,
        "seconds": took,
        "rc": proc.returncode,
        "findings": found,
        "tail": "\n".join(log.strip().splitlines()[-12:]) if proc.returncode else "",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python fuzz/run.py",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "targets",
        nargs="*",
        choices=[[], *TARGETS],
        metavar="TARGET",
        help=f"default: all of {', '.join(TARGETS)}",
    )
    p.add_argument("-t", "--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    a = p.parse_args(argv)
    if a.seconds <= 0:
        p.error(f"--seconds must be positive (got {a.seconds})")
    unknown = [t for t in a.targets if t not in TARGETS]
    if unknown:
        p.error(f"unknown target {unknown[0]!r}; choose from {', '.join(TARGETS)}")
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed; run 'make fuzz' (it installs the fuzz extra)", file=sys.stderr)
        return 2
    workdir = var_dir() / "fuzz"
    results = []
    for t in a.targets or TARGETS:
        print(f"fuzz: {t} for {a.seconds} s ...", flush=True)
        results.append(run_target(t, a.seconds, workdir))
    print(f"\n{'target':10} {'execs':>9} {'seconds':>8}  findings")
    bad = 0
    for r in results:
        ok = r["rc"] == 0 and not r["findings"]
        bad += not ok
        print(
            f"{r['target']:10} {r['execs']:>9,} {r['seconds']:>8.0f}  "
            + ("none" if ok else str(r["findings"] or f"rc={r['rc']}"))
        )
        if not ok:
            print("    " + str(r["tail"]).replace("\n", "\n    "))
    print(f"\nlogs and corpora: {workdir}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
