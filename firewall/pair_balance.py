"""Measurement and balance of the firewall pair: per-member load, the `fw` points, rebalance, parity."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from firewall.pair_ns import ns_run
from firewall.pair_state import PairState
from govnet.metrics import Point


class PairBalance(PairState):
    """Samples every member, moves slots from the busiest to the least busy, checks ruleset parity."""

    rebalance_s: float
    balance: bool
    sample_s: float
    sink: Callable[[list[Point]], None] | None

    # measurement and balance ---------------------------------------------------------------------
    def _sample_loop(self) -> None:
        last_balance = time.monotonic()
        last_parity = 0.0
        while not self._stop.wait(self.sample_s):
            try:
                self._sample()
                if self.sink is not None:
                    self.sink(self.points())
                now = time.monotonic()
                if self.balance and now - last_balance >= self.rebalance_s:
                    last_balance = now
                    self._rebalance()
                if now - last_parity >= 10.0:
                    last_parity = now
                    self._parity()
            except Exception as exc:
                self.log(f"fw sampler: {exc}")

    def _sample(self) -> None:
        sync_devs = {m.sync_dev for m in self.plan.members}
        for m in self.plan.names:
            ms = self.members[m]
            pid = self.emu.pid(m)
            pk = by = 0
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
                    dev, _, rest = line.partition(":")
                    dev = dev.strip()
                    if dev == "lo" or dev in sync_devs:
                        continue
                    f = rest.split()
                    by += int(f[0])
                    pk += int(f[1])
            t = time.monotonic()
            if ms._last is not None:
                dt = t - ms._last[0]
                if dt > 0:
                    a = 0.5  # EWMA over samples
                    ms.pps = (1 - a) * ms.pps + a * max(0, pk - ms._last[1]) / dt
                    ms.bps = (1 - a) * ms.bps + a * max(0, by - ms._last[2]) / dt
            ms._last = (t, pk, by)
            with contextlib.suppress(OSError, ValueError, IndexError):
                rows = Path(f"/proc/{pid}/net/stat/nf_conntrack").read_text().splitlines()[1:]
                ms.sessions = int(rows[0].split()[0], 16)
                invalid = sum(int(r.split()[4], 16) for r in rows if r.strip())
                if ms._last and invalid - ms.invalid > 50 and ms.invalid:
                    self._alarm(f"asymmetric_return:{m}", member=m, invalid_new=invalid - ms.invalid)
                ms.invalid = invalid

    def points(self) -> list[Point]:
        """The `fw` measurement for every member, now (validated by the metric registry on write)."""
        shares = self.table.shares()
        total = sum(s.pps for s in self.members.values() if s.state == "active")
        t_ns = time.time_ns()
        return [
            Point(
                "fw",
                {"node": m},
                {
                    "sessions": s.sessions,
                    "pps": round(s.pps, 3),
                    "bps": round(s.bps * 8, 1),
                    "load_share": round(s.pps / total, 4) if total > 0 and s.state == "active" else 0.0,
                    "slot_share": round(shares[m], 4),
                    "in_service": s.state == "active",
                    "healthy": self._healthy(m),
                },
                t_ns,
            )
            for m, s in self.members.items()
        ]

    def _rebalance(self) -> None:
        with self._lock:
            load = {m: s.pps for m, s in self.members.items() if s.state == "active"}
            if sum(load.values()) < 200:  # too little traffic to judge
                return
            moved = self.table.rebalance(load)
        if moved:
            self.apply()
            self._event(
                "fw",
                action="rebalance",
                moved_slots=moved,
                load_pps={k: round(v) for k, v in load.items()},
                shares=self.table.shares(),
            )

    def _parity(self) -> None:
        digests = {}
        for m in self.plan.names:
            r = ns_run(self.emu.pid(m), ["nft", "list", "table", "inet", "govnet"])
            if r.returncode == 0:
                body = "\n".join(x for x in r.stdout.splitlines() if "counter packets" not in x)
                digests[m] = hashlib.sha256(body.encode()).hexdigest()[:16]
        if len(set(digests.values())) > 1:
            self._alarm("parity_drift", digests=digests)
        else:
            self._clear("parity_drift")
