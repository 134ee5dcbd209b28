"""The off-site backup copy across the emulated network (issue 8: backup windows in link load).

A scenario's `offsite: {size_mb: 20, share: 0.5}` runs it after the working day. The archive is a
tar of the services' databases when the lab played a day, padded with random bytes to `size_mb`.
`backup_hsm.offsite.plan_offsite` picks the source (the file server), the off-site host that pulls
(the firewall policy lets nothing start from the servers zone), the path and the paced rate (`share`
of the path's slowest link). `backup_hsm.transfer` serves and pulls it between the two emulated
hosts and verifies its SHA-256. The kernel counters of every link on the path, read before and
after, give the load the copy put on each link. The metrics store sees it too (`iface_utilisation`
during the copy).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from backup_hsm.offsite import plan_offsite
from backup_hsm.transfer import keygen
from govnet.errors import ModelError, Problem
from monitors.linkstats import LinkSampler
from topology.emulator.handle import EmulatorHandle


def parse_offsite(data: Any, source: str, where: str = "offsite") -> dict[str, float]:
    """Check a scenario's offsite section; ModelError names each bad field."""
    if not isinstance(data, dict):
        raise ModelError(
            [Problem(source, where, "must be a mapping", data, "e.g. {size_mb: 20, share: 0.5}")]
        )
    problems = []
    out = {"size_mb": 20.0, "share": 0.5}
    for key, value in data.items():
        if key not in out:
            problems.append(Problem(source, f"{where}.{key}", "unknown key", key, "use size_mb or share"))
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(Problem(source, f"{where}.{key}", "must be a number > 0", value))
        elif key == "share" and value > 1:
            problems.append(
                Problem(source, f"{where}.share", "must be at most 1 (a share of the link)", value)
            )
        else:
            out[key] = float(value)
    if problems:
        raise ModelError(problems)
    return out


def make_archive(path: Path, data_dir: Path, size: int) -> tuple[int, str]:
    """A tar of the service databases in `data_dir` (`*.db`, if any; the services have stopped, so
    the files are consistent), padded with random bytes to `size` bytes; (bytes, sha256)."""
    with path.open("wb") as fh:
        dbs = sorted(data_dir.glob("*.db")) if data_dir.is_dir() else []
        if dbs:
            with tarfile.open(fileobj=fh, mode="w") as tar:
                for db in dbs:
                    tar.add(str(db), arcname=f"{data_dir.name}/{db.name}")
        left = size - fh.tell()
        while left > 0:
            chunk = os.urandom(min(left, 1 << 20))
            fh.write(chunk)
            left -= len(chunk)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def run_offsite(emu: EmulatorHandle, run: Path, size_mb: float, share: float) -> dict[str, Any]:
    """Copy one archive off-site over the emulated network; the plan, the result, the load per link."""
    net = emu.model
    d = run / "offsite"
    (d / "pulled").mkdir(parents=True, exist_ok=True)
    archive = d / "lab-backup.tar"
    size, sha = make_archive(archive, run / "apps", int(size_mb * 1e6))
    plan = plan_offsite(net, "lab-backup", size, sha, share=share)
    key = d / "offsite.key"  # 0600, in the run directory; both hosts share the filesystem
    if not key.exists():  # a second copy in the same run (a backup window on the timeline) reuses it
        keygen(key)
    cmds = plan.commands(str(archive), str(d / "pulled"), str(key))
    sampler = LinkSampler(net, {n.name: emu.pid(n.name) for n in net.nodes if not n.is_switch})
    serve = emu.node(plan.source).popen(
        cmds[plan.source], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert serve.stderr is not None
        line = serve.stderr.readline()  # "serving ... on ADDR:PORT" once it listens
        if "serving" not in line:
            raise RuntimeError(f"the off-site source did not start: {line.strip()}")
        before, t0 = sampler.sample(), time.monotonic()
        pull = emu.node(plan.destination).popen(
            cmds[plan.destination], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        out, err = pull.communicate(timeout=plan.duration_s * 3 + 60)
        elapsed = time.monotonic() - t0
        after = sampler.sample()
        # the source exits once it has sent; after a failed pull it would wait for another: killed below
        with contextlib.suppress(subprocess.TimeoutExpired):
            serve.wait(timeout=30 if pull.returncode == 0 else 2)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"ok": False, "error": (err or out).strip()[-300:]}
    on_path = set(zip(plan.path, plan.path[1:], strict=False))
    loads = []
    for lk in net.links:
        if (lk.a, lk.b) in on_path or (lk.b, lk.a) in on_path:
            forward = lk.b if (lk.b, lk.a) in on_path else lk.a  # the end the data leaves from
            ifname = lk.a_if if forward == lk.a else lk.b_if
            a, b = before.get((forward, ifname)), after.get((forward, ifname))
            if a is not None and b is not None:
                loads.append(
                    {
                        "link": lk.name,
                        "capacity_mbps": lk.bw_mbps,
                        "mbps": round((b.tx_bytes - a.tx_bytes) * 8 / elapsed / 1e6, 2),
                    }
                )
    archive.unlink()  # the pulled copy stays as the off-site copy
    return {
        "plan": plan.to_dict(),
        "ok": bool(result.get("ok")),
        "result": result,
        "wall_s": round(elapsed, 2),
        "mbps": round(size * 8 / elapsed / 1e6, 2),
        "links": loads,
    }
