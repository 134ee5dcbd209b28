"""The SNMP poller: pysnmp 7 asyncio, numeric OIDs, every device polled concurrently each cycle.

It runs where a network-management station would: inside the NOC host's namespace (the emulated
network is not routed to the root namespace), and prints one JSON line per device per cycle and
one per cycle about itself; the lab's collector in the root namespace turns those into points.

    python -m monitors.poller --targets targets.json --creds creds.json --interval 1 --cycles 30

A device that does not answer is a recorded timeout; the cycle goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import Any

from govnet.errors import GovnetError
from govnet.safeload import load_json_file
from monitors.cycles import print_cycle

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SCALARS = {
    SYS_UPTIME: "uptime_cs",
    "1.3.6.1.4.1.2021.11.11.0": "cpu_idle_pct",  # UCD ssCpuIdle
    "1.3.6.1.4.1.2021.4.5.0": "mem_total_kb",  # UCD memTotalReal
    "1.3.6.1.4.1.2021.4.6.0": "mem_avail_kb",  # UCD memAvailReal
}
COLUMNS = {
    "1.3.6.1.2.1.31.1.1.1.1": "name",  # IF-MIB ifName
    "1.3.6.1.2.1.31.1.1.1.6": "in_octets",  # ifHCInOctets
    "1.3.6.1.2.1.31.1.1.1.10": "out_octets",  # ifHCOutOctets
    "1.3.6.1.2.1.2.2.1.13": "in_discards",
    "1.3.6.1.2.1.2.2.1.14": "in_errors",
    "1.3.6.1.2.1.2.2.1.19": "out_discards",
    "1.3.6.1.2.1.2.2.1.20": "out_errors",
    "1.3.6.1.2.1.2.2.1.8": "oper_status",
}
MAX_IFACES = 24


def _auth(creds: dict[str, Any]) -> Any:
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        UsmUserData,
        usmAesCfb128Protocol,
        usmHMACSHAAuthProtocol,
    )

    if str(creds.get("version", "3")) == "3":
        return UsmUserData(
            creds["user"],
            creds["auth_key"],
            creds["priv_key"],
            authProtocol=usmHMACSHAAuthProtocol,
            privProtocol=usmAesCfb128Protocol,
        )
    return CommunityData(creds["community"], mpModel=1)


def parse_bulk(var_binds: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Turn one GETBULK answer (scalars, then interface columns) into a device record."""
    rec: dict[str, Any] = {"ifaces": {}}
    rows: dict[str, dict[str, Any]] = {}
    for oid, value in var_binds:
        if oid in SCALARS:
            rec[SCALARS[oid]] = int(value)
            continue
        for col, key in COLUMNS.items():
            if oid.startswith(col + "."):
                index = oid[len(col) + 1 :]
                rows.setdefault(index, {})[key] = str(value) if key == "name" else int(value)
                break
    for index, row in rows.items():
        name = row.pop("name", f"if{index}")
        rec["ifaces"][name] = row
    return rec


async def poll_device(
    engine: Any, auth: Any, name: str, ip: str, timeout: float, reps: int = MAX_IFACES
) -> dict[str, Any]:
    """One GETBULK round trip: uptime, CPU, memory and every interface's counters."""
    from pysnmp.hlapi.v3arch.asyncio import (
        ContextData,
        ObjectIdentity,
        ObjectType,
        UdpTransportTarget,
        bulk_cmd,
    )

    t0 = time.monotonic()
    out: dict[str, Any] = {"node": name, "ip": ip, "t": time.time(), "ok": False}
    try:
        target = await UdpTransportTarget.create((ip, 161), timeout=timeout, retries=0)
        # GETBULK non-repeaters use GETNEXT semantics: ask for the object, get its `.0` instance back
        scalars = [o.removesuffix(".0") for o in SCALARS]
        objs = [ObjectType(ObjectIdentity(o)) for o in (*scalars, *COLUMNS)]
        # repetitions = the device's interfaces (+ lo): more would only decode the next columns
        err, status, _idx, vbs = await bulk_cmd(
            engine, auth, target, ContextData(), len(SCALARS), reps, *objs
        )
        if err or status:
            out["error"] = str(err or status.prettyPrint())
        else:
            out.update(parse_bulk([(str(vb[0]), vb[1]) for vb in vbs]))
            out["ok"] = True
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["rtt_s"] = time.monotonic() - t0
    return out


async def run(
    targets: list[tuple[str, str, int]],
    creds: dict[str, Any],
    interval: float,
    cycles: int,
    timeout: float,
    concurrency: int = 0,
) -> None:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    engine = SnmpEngine()
    auth = _auth(creds)
    gate = asyncio.Semaphore(concurrency or len(targets) or 1)

    async def one(name: str, ip: str, reps: int) -> dict[str, Any]:
        async with gate:
            return await poll_device(engine, auth, name, ip, timeout, reps)

    start = time.monotonic()
    for cycle in range(cycles):
        t0 = time.monotonic()
        results = await asyncio.gather(*(one(n, ip, r) for n, ip, r in targets))
        print_cycle("snmp", cycle, t0, results)
        next_at = start + (cycle + 1) * interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m monitors.poller",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--targets", required=True, help="JSON file: [[node, ip, interfaces], ...] (interfaces optional)"
    )
    ap.add_argument("--creds", required=True, help="JSON file with version/user/auth_key/priv_key/community")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between cycles (default 1)")
    ap.add_argument("--cycles", type=int, default=10**9, help="stop after this many cycles")
    ap.add_argument("--timeout", type=float, default=0.8, help="per-request timeout in seconds")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight at once (default 16)")
    args = ap.parse_args(argv)
    try:
        targets = [
            (str(t[0]), str(t[1]), int(t[2]) + 1 if len(t) > 2 else MAX_IFACES)
            for t in load_json_file(args.targets)
        ]
        creds = load_json_file(args.creds)
    except (OSError, ValueError, TypeError, GovnetError) as exc:
        print(f"poller: cannot read targets/credentials: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(targets, creds, args.interval, args.cycles, args.timeout, args.concurrency))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
