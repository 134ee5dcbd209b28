"""Benchmark: govnet's file-integrity baseline and check against Debian's `aide`, on the same tree.

1. Generate a tree of N files (default 20,000; 200 directories, lognormal sizes around 4 KiB, a few
   symlinks) in a temporary directory, and read it once so both tools see a warm page cache.
2. Baseline: `ids.hids.scan(...).save(db)` against `aide --init` with its own config file in the temp
   dir (`--config`, database paths there too; /etc/aide and /var/lib/aide are never touched). AIDE
   checks `p+u+g+s+i+n+l+ftype+sha256` — the attributes govnet records — with num_workers = cores.
3. Changes: content modified (some with the same size), permissions, owners, added, removed,
   setuid, symlink retargets.
4. Check: `ids.hids.check(db)` (and with `trust_ctime`) against `aide --check`; wall time of each,
   their ratio, and whether both report the same set of changed paths.

Usage: .venv/bin/python bench/hids.py [--files 20000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from ids.hids import check, scan

AIDE = "/usr/bin/aide"


def build(root: Path, n: int, seed: int = 6) -> None:
    rng = random.Random(seed)
    dirs = [root / f"d{i:03d}" for i in range(200)]
    for d in dirs:
        d.mkdir(parents=True)
    for i in range(n):
        size = min(256 * 1024, int(rng.lognormvariate(8.3, 1.2)))
        (dirs[i % 200] / f"f{i:06d}.dat").write_bytes(rng.randbytes(size))
    for i in range(50):
        os.symlink(f"f{i:06d}.dat", dirs[i % 200] / f"link{i}")


def change(root: Path, seed: int = 7) -> set[str]:
    """Apply a mix of changes; returns the paths that changed."""
    rng = random.Random(seed)
    files = sorted(str(p) for p in root.rglob("f*.dat"))
    picks = rng.sample(files, 180)
    changed: set[str] = set()
    for p in picks[:40]:  # content, new size
        with open(p, "ab") as fh:
            fh.write(b"tampered")
        changed.add(p)
    for p in picks[40:60]:  # content, same size, mtime put back
        st = os.stat(p)
        with open(p, "r+b") as fh:
            fh.write(b"\xff\xfe")
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        changed.add(p)
    for p in picks[60:90]:
        os.chmod(p, 0o600)
        changed.add(p)
    for p in picks[90:110]:
        os.chown(p, 4321, 4321)
        changed.add(p)
    for p in picks[110:140]:
        os.remove(p)
        changed.add(p)
    for p in picks[140:145]:
        os.chmod(p, 0o4755)
        changed.add(p)
    for i in range(40):
        q = root / f"d{i:03d}" / f"new{i}.dat"
        q.write_bytes(b"dropped")
        changed.add(str(q))
    for i in range(5):
        link = root / f"d{i:03d}" / f"link{i}"
        os.remove(link)
        os.symlink("f000199.dat", link)
        changed.add(str(link))
    return changed


def aide_config(tmp: Path, tree: Path) -> Path:
    conf = tmp / "aide.conf"
    conf.write_text(
        f"database_in=file:{tmp}/aide.db\n"
        f"database_out=file:{tmp}/aide.db.new\n"
        "gzip_dbout=no\n"
        "report_url=stdout\n"
        "log_level=warning\n"
        f"num_workers={os.cpu_count() or 1}\n"
        "GovnetRule = p+u+g+s+i+n+l+ftype+sha256\n"
        f"{tree} GovnetRule\n"
    )
    return conf


def aide(conf: Path, verb: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([AIDE, verb, f"--config={conf}"], capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if verb == "--init" and r.returncode != 0:
        raise SystemExit(f"aide --init failed ({r.returncode}): {r.stderr.strip()}")
    return took, r.stdout


def aide_changed(report: str) -> set[str]:
    out: set[str] = set()
    section = ""
    for line in report.splitlines():
        m = re.match(r"^(Added|Removed|Changed) entries:", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("Detailed information"):
            section = ""
        if section:
            m = re.match(r"^\S[^:]*: (/.+)$", line)
            if m:
                out.add(m.group(1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--keep", help="build in this directory and keep it")
    args = ap.parse_args()
    if not os.path.exists(AIDE):
        raise SystemExit("aide is not installed (apt-get install aide)")
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="govnet-hids-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    tree = tmp / "tree"
    try:
        t0 = time.perf_counter()
        build(tree, args.files)
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
        for p in tree.rglob("*.dat"):  # warm the page cache for both tools
            p.read_bytes()
        print(f"tree: {args.files:,} files, {size / 1e6:.0f} MB, built in {time.perf_counter() - t0:.1f} s")
        conf = aide_config(tmp, tree)
        db = tmp / "govnet.json"

        t0 = time.perf_counter()
        scan([tree]).save(db)
        ours_init = time.perf_counter() - t0
        aide_init, _ = aide(conf, "--init")
        os.replace(tmp / "aide.db.new", tmp / "aide.db")
        print(
            f"baseline: govnet {ours_init:.2f} s, aide --init {aide_init:.2f} s "
            f"(ratio {aide_init / ours_init:.2f})"
        )

        truth = change(tree)
        t0 = time.perf_counter()
        _now, changes = check(db)
        ours_check = time.perf_counter() - t0
        t0 = time.perf_counter()
        _now, changes_fast = check(db, trust_ctime=True)
        ours_fast = time.perf_counter() - t0
        aide_check, report = aide(conf, "--check")
        ours_set = {c.path for c in changes}
        aide_set = aide_changed(report)
        print(
            f"check: govnet {ours_check:.2f} s (trust_ctime {ours_fast:.2f} s), "
            f"aide --check {aide_check:.2f} s "
            f"(ratio {aide_check / ours_check:.2f}; with trust_ctime {aide_check / ours_fast:.2f})"
        )
        print(f"changes made: {len(truth)}; govnet found {len(ours_set)}, aide found {len(aide_set)}")
        same = ours_set == aide_set
        print(f"same set of changed paths: {'yes' if same else 'NO'}")
        if not same:
            print(f"  only govnet: {sorted(ours_set - aide_set)[:8]}")
            print(f"  only aide:   {sorted(aide_set - ours_set)[:8]}")
        print(
            f"govnet found every change made: {'yes' if truth <= ours_set else 'NO'}; "
            f"trust_ctime result identical: {'yes' if {c.path for c in changes_fast} == ours_set else 'NO'}"
        )
        write_results(
            "hids",
            "file-integrity baseline and check against AIDE",
            f"Debian's aide ({AIDE}) checking p+u+g+s+i+n+l+ftype+sha256, num_workers = cores",
            [
                Figure("baseline", ours_init, aide_init, "s", aide_init / ours_init, "anchor/govnet"),
                Figure("check", ours_check, aide_check, "s", aide_check / ours_check, "anchor/govnet"),
                Figure(
                    "check with trust_ctime",
                    ours_fast,
                    aide_check,
                    "s",
                    aide_check / ours_fast,
                    "anchor/govnet",
                ),
                Figure(
                    "changed paths found",
                    len(ours_set),
                    len(aide_set),
                    note=f"{len(truth)} changes made; same set: {'yes' if same else 'NO'}",
                ),
            ],
            params={"files": args.files, "megabytes": round(size / 1e6)},
        )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
