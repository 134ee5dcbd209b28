"""Crash injection: SIGKILL a process in the middle of migrations and backups, reopen, check everything.

After every kill: no file is lost or duplicated, every byte matches its checksum, the catalog matches the
bytes (no stray disk files, archives at their committed ends, no pending journal steps).
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

from hsm_helpers import run_and_kill

from backup_hsm import DISK, OPTICAL, TAPE, BackupStore, Hsm, Job, VirtualClock
from backup_hsm.backup import SITES

KILLS = 14


def _worker(root: str, seed: int) -> None:
    """Move every file round the tiers and copy it to the backup roles until killed."""
    rng = random.Random(seed)
    clock = VirtualClock(1000.0)
    hsm = Hsm.open(root, clock=clock)
    backups = BackupStore(Path(root).parent, clock)
    job = Job("docs", "files", Path(root).parent / "src")
    print("ready", flush=True)
    names = [r.name for r in hsm.catalog.all_files()]
    while True:
        name = rng.choice(names)
        step = rng.random()
        if step < 0.15:
            backups.run(job, rng.choice(["full", "incr"]))
        elif step < 0.6:
            hsm.migrate(name, rng.choice([DISK, OPTICAL, TAPE]))
        elif step < 0.8:
            hsm.read(name)
        else:
            hsm.protect(rng.choice(["online", "isolated", "offsite"]), rng.choice([DISK, TAPE]))
        clock.advance(30)


def _check_backups(base: Path) -> int:
    store = BackupStore(base, VirtualClock())
    hist = store.history("docs")
    recorded = {store._path(site, "docs", b.id, b.mode) for b in hist for site in SITES}
    on_disk = set((base / "backup").glob("*/docs/*"))
    assert on_disk <= recorded, f"unrecorded archives: {on_disk - recorded}"
    for b in hist:
        for site in SITES:
            path = store._path(site, "docs", b.id, b.mode)
            if path.exists():  # retention may have removed old chains
                assert hashlib.sha256(path.read_bytes()).hexdigest() == b.checksum
    store.close()
    return len(hist)


def _check(root: Path, expect: dict[str, str]) -> None:
    with Hsm.open(root) as hsm:
        assert hsm.verify() == []
        names = [r.name for r in hsm.catalog.all_files()]
        assert sorted(names) == sorted(expect)
        for name, text in expect.items():
            row = hsm.stat(name)
            assert hsm._verified(row) == text.encode()
            primaries = [c for c in hsm.copies(row.id) if c.role == "primary"]
            assert len(primaries) == 1 and primaries[0].tier == row.tier


def test_kill_9_during_migration_and_backup(tmp_path: Path) -> None:
    root = tmp_path / "hsm"
    rng = random.Random(42)
    expect = {f"docs/file-{i:02d}.txt": f"document {i} " * rng.randint(1, 400) for i in range(15)}
    with Hsm.open(root) as hsm:
        for name, text in expect.items():
            hsm.put(name, text.encode())
    (tmp_path / "src").mkdir()
    for i in range(5):
        (tmp_path / "src" / f"d{i}.txt").write_text(f"source {i} " * 2000)
    recovered = backups = 0
    for k in range(KILLS):
        run_and_kill(__file__, root, k, rng.uniform(0.02, 0.35))
        with Hsm.open(root) as hsm:
            recovered += len(hsm.recovered)
        _check(root, expect)
        backups = _check_backups(tmp_path)
    assert backups > 0, "no backup ever completed"
    assert recovered > 0, "no kill landed inside a step; the test did not exercise recovery"


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]))
