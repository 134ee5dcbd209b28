"""`python -m apps.replay`: play a traffic plan over the network — client operations and background flows.

    python -m apps.replay --plan plan.json --out DIR

One process plays every emulated host: each connection's socket is created inside the namespace of
the host it stands for (`govnet.netns`), so requests really cross the emulated links, routers and
firewalls, and a host's packets carry that host's address. `apps.lab` writes the plan:

    {"t0": 1790000000.0,                        # wall clock (epoch s) of plan time 0 (default: now + 1)
     "hosts": {"pc1": {"pid": 4242, "ip": "10.10.1.2"}, ...},   # pid null: this namespace
     "servers": {"oa": "10.30.0.2:80", "approval": "10.30.0.2:8081", "portal": "10.50.0.2:80"},
     "passwords": {"pc1-u1": "...", ...},
     "departments": {"pc1-u1": "bureau-education", ...},       # approval staff -> their department
     "oa_users": {"pc1-u1": "bureau-education", ...},          # OA users -> bureau (document roles)
     "events": [[t, app, user, src, op, bytes_up, bytes_down, ok, via], ...],   # apps.traffic.Event
     "flows": [[start, duration, src, dst, cls, bps, packet_bytes], ...],        # apps.background.Flow
     "seed": 1, "udp_port": 5004, "timeout_s": 30}

Every user's operations run in order (a lane), each at its planned time or as soon as the previous
one finished; lanes run in parallel on a thread pool. An operation is what a person does, so it may
take several requests (`flow` reads the to-do list, then acts on the first item). Failures (refused
connections while a server restarts, timeouts, 4xx/5xx) are recorded and the lane goes on.

Background flows are paced UDP streams (rates and packet sizes from apps.background) between one UDP
socket per host bound to `udp_port`. Just before a flow starts, its receiver sends a "hello" to the
sender, as an RTSP or SIP client would, so the stateful firewalls see the inside host open the
stream. Each datagram carries its flow number and sequence, so the receivers count delivery per flow.

Writes DIR/ops.jsonl (one line per operation), DIR/flows.json (per flow: planned, sent, received
packets) and DIR/replay.json (the summary).

The plan is read in `apps.replay_plan`, the users' operations are `apps.replay_ops`, the background
flows `apps.replay_flows` and the summary `apps.replay_summary`.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from apps.replay_flows import ReplayFlows
from apps.replay_ops import SHARED_WORK, HttpFailure, Lane, ReplayOps
from apps.replay_plan import PlanError
from apps.replay_summary import summarise
from govnet.safeload import load_json_file

__all__ = ["PlanError", "Replayer", "main", "summarise"]


class Replayer(ReplayOps, ReplayFlows):
    """Plays one plan; `run()` returns the summary."""

    def _step(self, lane: Lane, rng: random.Random) -> None:
        o = lane.ops.popleft()
        lag = time.time() - (self.t0 + o.t)
        t_start = time.perf_counter()
        rec: dict[str, Any] = {
            "t": round(o.t, 3),
            "lag_s": round(lag, 3),
            "app": o.app,
            "user": o.user,
            "src": o.src,
            "op": o.op,
        }
        try:
            if o.op == "login":
                did, up, down = self._login(lane, o)
            elif o.app == "oa":
                did, up, down = self._oa(lane, o, rng)
            else:
                did, up, down = self._approval(lane, o, rng)
            rec.update(did=did, status="ok", up=up, down=down)
        except HttpFailure as exc:
            # 409 on a shared work item: a colleague took it first (the user picks another next time)
            status = "conflict" if exc.status == 409 and o.op in SHARED_WORK else "error"
            rec.update(did=o.op, status=status, http=exc.status, error=str(exc)[:200], up=0, down=0)
            if exc.status == 401:
                lane.tokens.pop(o.app, None)
        except Exception as exc:  # a bug must not stop the other lanes; it is in the record
            rec.update(
                did=o.op, status="error", http=-1, error=f"{type(exc).__name__}: {exc}"[:200], up=0, down=0
            )
        rec["latency_s"] = round(time.perf_counter() - t_start, 5)
        rec["wall"] = round(time.time(), 3)
        with self._rec_lock:
            self._records.append(rec)

    # --- the run -------------------------------------------------------------------------------------
    def run(self, workers: int = 32) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        lanes: dict[str, Lane] = {}
        for o in sorted(self.ops, key=lambda o: o.t):
            lanes.setdefault(o.user, Lane(o.user)).ops.append(o)
        end_plan = max([o.t for o in self.ops] + [float(f[0]) + float(f[1]) for f in self.flows] + [0.0])
        socks = self._udp_sockets()
        stats = [[int(float(f[1]) * float(f[5]) / (8 * int(f[6]))), 0, 0, 0] for f in self.flows]
        threads = [
            threading.Thread(target=self._receive, args=(socks, stats), name="udp-rx", daemon=True),
            threading.Thread(
                target=self._background, args=(socks, stats, self.t0 + end_plan), name="udp-tx", daemon=True
            ),
        ]
        for th in threads:
            th.start()
        heap = [(self.t0 + lane.ops[0].t, u) for u, lane in lanes.items()]
        heapq.heapify(heap)
        cond = threading.Condition()
        busy = 0
        rngs = {u: random.Random(f"{self.seed}/{u}") for u in lanes}

        def done(u: str) -> None:
            nonlocal busy
            with cond:
                busy -= 1
                lane = lanes[u]
                if lane.ops:
                    heapq.heappush(heap, (max(self.t0 + lane.ops[0].t, time.time()), u))
                cond.notify()

        began = time.time()
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lane") as pool:
            with cond:
                while (heap or busy) and not self._stop.is_set():
                    if not heap:
                        cond.wait(0.2)
                        continue
                    t, u = heap[0]
                    now = time.time()
                    if t > now:
                        cond.wait(min(t - now, 0.2))
                        continue
                    heapq.heappop(heap)
                    busy += 1
                    fut = pool.submit(self._step, lanes[u], rngs[u])
                    fut.add_done_callback(functools.partial(_after, done, u))
            # background flows may outlast the last operation
            while time.time() < self.t0 + end_plan + 0.5 and not self._stop.is_set():
                time.sleep(0.1)
        time.sleep(0.3)  # the last datagrams in flight
        self._stop.set()
        for th in threads:
            th.join(timeout=2)
        for lane in lanes.values():
            for conn in lane.conns.values():
                conn.close()
        for s in socks.values():
            s.close()
        return self._write(stats, time.time() - began)

    def stop(self) -> None:
        self._stop.set()

    def _write(self, stats: list[list[int]], wall_s: float) -> dict[str, Any]:
        recs = sorted(self._records, key=lambda r: (r["wall"], r["user"]))
        with (self.out / "ops.jsonl").open("w") as fh:
            for r in recs:
                fh.write(json.dumps(r, sort_keys=True) + "\n")
        flows = [
            {
                "src": f[2],
                "dst": f[3],
                "class": f[4],
                "bps": f[5],
                "packet_bytes": f[6],
                "planned": s[0],
                "sent": s[1],
                "received": s[2],
                "send_errors": s[3],
            }
            for f, s in zip(self.flows, stats, strict=True)
        ]
        (self.out / "flows.json").write_text(json.dumps(flows, indent=1) + "\n")
        summary = summarise(recs, flows)
        summary["wall_s"] = round(wall_s, 2)
        (self.out / "replay.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        return summary


def _after(done: Callable[[str], None], user: str, _fut: object) -> None:
    done(user)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m apps.replay", description=__doc__.splitlines()[0])
    p.add_argument("--plan", required=True, help="plan JSON (see the module docstring)")
    p.add_argument("--out", required=True, help="directory for ops.jsonl, flows.json, replay.json")
    p.add_argument("--workers", type=int, default=32, help="parallel operations (default 32)")
    a = p.parse_args(argv)
    try:
        plan = load_json_file(a.plan)
        if not isinstance(plan, dict):
            raise PlanError("the plan must be a JSON object")
        rep = Replayer(plan, Path(a.out))
    except (OSError, ValueError) as exc:
        print(f"{a.plan}: {exc}", file=sys.stderr)
        return 2
    import signal

    signal.signal(signal.SIGTERM, lambda *_: rep.stop())
    try:
        summary = rep.run(a.workers)
    except KeyboardInterrupt:
        rep.stop()
        return 130
    except (OSError, PlanError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 1
    print(f"replay: {summary['operations']} operations, {summary['errors']} errors in {summary['wall_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
