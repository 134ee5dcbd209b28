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
"""

from __future__ import annotations

import argparse
import base64
import functools
import heapq
import http.client
import json
import random
import selectors
import socket
import struct
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet.netns import socket_in_netns
from govnet.safeload import load_json_file

OA_NEXT = {  # the holder's next action for a document in each state (apps.oa.TRANSITIONS)
    "draft": "submit",
    "review": "review",
    "countersign": "countersign",
    "signing": "sign",
    "signed": "seal",
    "sealed": "send",
    "sent": "receive",
    "received": "route",
    "routed": "archive",
}
SHARED_WORK = frozenset({"review", "decide", "flow"})  # operations on queues that colleagues share
RETURN_SHARE = 0.1  # reviews that send an application back for correction
REJECT_SHARE = 0.15  # final decisions that reject
IP_UDP_ETH = 42  # Ethernet + IPv4 + UDP header bytes: a flow's packet_bytes is the frame size
_HDR = struct.Struct("!IIB")  # flow number, sequence, kind (0 data, 1 hello)


class PlanError(ValueError):
    """The plan file is unusable (names the field)."""


@dataclass
class Op:
    t: float
    app: str
    user: str
    src: str
    op: str
    up: int
    down: int
    ok: bool
    via: str


@dataclass
class Lane:
    """One user's state: their queued operations, session token, documents and applications."""

    user: str
    ops: deque[Op] = field(default_factory=deque)
    tokens: dict[str, str] = field(default_factory=dict)  # application -> session token
    drafts: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # an applicant's open applications
    conns: dict[tuple[str, str], http.client.HTTPConnection] = field(default_factory=dict)


class NsConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket lives in the network namespace of `pid`."""

    def __init__(self, host: str, port: int, pid: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._pid = pid

    def connect(self) -> None:
        s = socket_in_netns(self._pid, socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        self.sock = s


class HttpFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _addr(text: str, where: str) -> tuple[str, int]:
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit():
        raise PlanError(f"{where}: expected HOST:PORT (got {text!r})")
    return host, int(port)


class Replayer:
    """Plays one plan; `run()` returns the summary."""

    def __init__(self, plan: dict[str, Any], out: Path, log: Callable[[str], None] = print) -> None:
        self.out = out
        self.log = log
        try:
            self.hosts: dict[str, dict[str, Any]] = dict(plan["hosts"])
            self.servers = {k: _addr(v, f"servers.{k}") for k, v in dict(plan.get("servers", {})).items()}
            self.passwords: dict[str, str] = dict(plan.get("passwords", {}))
            self.departments: dict[str, str] = dict(plan.get("departments", {}))
            self.oa_users: dict[str, str] = dict(plan.get("oa_users", {}))
            self.ops = [Op(*e) for e in plan.get("events", [])]
            self.flows = [tuple(f) for f in plan.get("flows", [])]
            self.seed = int(plan.get("seed", 1))
            self.udp_port = int(plan.get("udp_port", 5004))
            self.timeout_s = float(plan.get("timeout_s", 30.0))
            self.t0 = float(plan.get("t0") or time.time() + 1.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"plan: {type(exc).__name__}: {exc}") from None
        for o in self.ops:
            for h in (o.src, o.via):
                if h and h not in self.hosts:
                    raise PlanError(f"plan.events: host {h!r} is not in plan.hosts")
            if o.app not in self.servers:
                raise PlanError(f"plan.events: no server for application {o.app!r} in plan.servers")
        self.dept_names = sorted(set(self.departments.values()))
        self._records: list[dict[str, Any]] = []
        self._rec_lock = threading.Lock()
        self._stop = threading.Event()

    # --- HTTP ---------------------------------------------------------------------------------------
    def _call(
        self, lane: Lane, src: str, target: str, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, Any], int, int]:
        """(status, JSON, bytes sent, bytes received) of one request from `src` to server `target`."""
        key = (src, target)
        conn = lane.conns.get(key)
        if conn is None:
            host, port = self.servers[target]
            conn = NsConnection(host, port, self.hosts[src].get("pid"), self.timeout_s)
            lane.conns[key] = conn
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        token = lane.tokens.get("approval" if target == "portal" else target, "")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=data or None, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            lane.conns.pop(key, None)
            raise HttpFailure(0, f"{type(exc).__name__}: {exc}") from None
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {"error": raw[:200].decode(errors="replace")}
        return resp.status, doc if isinstance(doc, dict) else {}, len(data) + len(path) + 150, len(raw) + 150

    def _ok(
        self, lane: Lane, src: str, target: str, method: str, path: str, body: Any = None
    ) -> tuple[dict[str, Any], int, int]:
        status, doc, up, down = self._call(lane, src, target, method, path, body)
        if status >= 400:
            raise HttpFailure(status, str(doc.get("error", f"HTTP {status}")))
        return doc, up, down

    # --- operations -----------------------------------------------------------------------------
    def _oa(self, lane: Lane, o: Op, rng: random.Random) -> tuple[str, int, int]:
        up = down = 0

        def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
            nonlocal up, down
            doc, u, d = self._ok(lane, o.src, "oa", method, path, body)
            up, down = up + u, down + d
            return doc

        did = o.op
        if o.op == "todo":
            call("GET", "/todo")
        elif o.op == "open":
            todo = call("GET", "/todo")["todo"]
            ids = [t["id"] for t in todo] or lane.drafts
            if ids:
                call("GET", f"/documents/{rng.choice(ids)}")
            else:
                did = "open-nothing"
        elif o.op == "attach" and lane.drafts:
            data = rng.randbytes(max(1, (o.up - 600) * 3 // 4))  # base64 makes 4 bytes of 3
            call(
                "POST",
                f"/documents/{lane.drafts[-1]}/attachments",
                {"name": f"att-{rng.randrange(1 << 30)}.bin", "data_b64": base64.b64encode(data).decode()},
            )
        elif o.op in ("create", "attach"):
            did = "create"
            doc = call(
                "POST",
                "/documents",
                {
                    "title": f"doc {rng.randrange(1 << 30)}",
                    "content": "x" * max(1, o.up - 600),
                    **self._roles(lane.user, rng),
                },
            )
            lane.drafts = [*lane.drafts[-4:], int(doc["id"])]
        elif o.op == "flow":
            todo = call("GET", "/todo")["todo"]
            if not todo:
                did = "flow-idle"
            else:
                item = todo[0]
                action = OA_NEXT[item["state"]]
                body = {"instructions": "for action"} if action == "route" else {}
                call("POST", f"/documents/{item['id']}/{action}", body)
                if item["id"] in lane.drafts and action == "submit":
                    lane.drafts.remove(item["id"])
                did = f"flow-{action}"
        else:
            raise HttpFailure(0, f"unknown OA operation {o.op!r}")
        return did, up, down

    def _roles(self, user: str, rng: random.Random) -> dict[str, str]:
        """Reviewer from the author's bureau when possible; the others and the recipient elsewhere."""
        mine = self.oa_users.get(user, "")
        others = [u for u in self.oa_users if u != user]
        same = [u for u in others if self.oa_users[u] == mine] or others
        away = [u for u in others if self.oa_users[u] != mine] or others
        if not others:
            raise HttpFailure(0, "no other OA user to route a document to")
        return {
            "reviewer": rng.choice(same),
            "countersigner": rng.choice(away),
            "signer": rng.choice(others),
            "recipient": rng.choice(away),
        }

    def _approval(self, lane: Lane, o: Op, rng: random.Random) -> tuple[str, int, int]:
        up = down = 0
        target = "portal" if o.via else "approval"

        def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
            nonlocal up, down
            doc, u, d = self._ok(lane, o.src, target, method, path, body)
            up, down = up + u, down + d
            return doc

        did = o.op
        dept = self.departments.get(lane.user, "")
        if o.op == "submit":  # an applicant: correct a returned application, else file a new one
            if lane.pending:
                app_id = lane.pending[0]
                state = call("GET", f"/applications/{app_id}")["state"]
                if state == "returned":
                    call("POST", f"/applications/{app_id}/resubmit", {})
                    return "resubmit", up, down
                if state in ("approved", "rejected"):
                    lane.pending.pop(0)
            depts = rng.sample(self.dept_names, min(3, len(self.dept_names)))
            doc = call(
                "POST",
                "/applications",
                {
                    "applicant": lane.user,
                    "email": f"{lane.user}@example.org",
                    "subject": f"permit {rng.randrange(1 << 20)}",
                    "departments": depts,
                    "form": "f" * max(1, o.up - 600),
                },
            )
            lane.pending.append(int(doc["id"]))
        elif o.op == "query":
            apps = call("GET", "/applications?state=in_review&limit=20")["applications"]
            if apps:
                call("GET", f"/applications/{rng.choice(apps)['id']}")
            else:
                did = "query-empty"
        elif o.op == "review":
            apps = call("GET", f"/applications?department={dept}&limit=5")["applications"] if dept else []
            if not apps:
                return "review-idle", up, down
            ret = rng.random() < RETURN_SHARE
            body = {"by": lane.user, "decision": "return" if ret else "approve"}
            call(
                "POST",
                f"/applications/{rng.choice(apps)['id']}/reviews/{dept}",
                {**body, "note": "please correct the form"} if ret else body,
            )
            did = "review-return" if ret else "review-approve"
        elif o.op == "decide":  # final decisions first (finish work), then acceptance of new ones
            apps = call("GET", "/applications?state=final&limit=5")["applications"]
            if apps:
                rej = rng.random() < REJECT_SHARE
                body = {"by": lane.user, "decision": "reject" if rej else "approve", "reason": "as reviewed"}
                call("POST", f"/applications/{rng.choice(apps)['id']}/decide", body)
                return ("decide-reject" if rej else "decide-approve"), up, down
            apps = call("GET", "/applications?state=submitted&limit=5")["applications"]
            if not apps:
                return "decide-idle", up, down
            call("POST", f"/applications/{rng.choice(apps)['id']}/accept", {"by": lane.user})
            did = "accept"
        else:
            raise HttpFailure(0, f"unknown approval operation {o.op!r}")
        return did, up, down

    def _login(self, lane: Lane, o: Op) -> tuple[str, int, int]:
        password = self.passwords.get(lane.user, "")
        body = {"user": lane.user, "password": password if o.ok else password + "-typo"}
        status, doc, up, down = self._call(lane, o.src, o.app, "POST", "/login", body)
        if status == 200:
            lane.tokens[o.app] = str(doc.get("token", ""))
            return "login", up, down
        if status == 401 and not o.ok:
            return "login-mistyped", up, down  # as planned: not an error
        raise HttpFailure(status, str(doc.get("error", f"HTTP {status}")))

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

    # --- background flows --------------------------------------------------------------------------
    def _udp_sockets(self) -> dict[str, socket.socket]:
        socks: dict[str, socket.socket] = {}
        for f in self.flows:
            for h in (f[2], f[3]):
                if h not in socks:
                    if h not in self.hosts:
                        raise PlanError(f"plan.flows: host {h!r} is not in plan.hosts")
                    s = socket_in_netns(self.hosts[h].get("pid"), socket.AF_INET, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("0.0.0.0" if self.hosts[h].get("pid") else self.hosts[h]["ip"], self.udp_port))
                    s.setblocking(False)
                    socks[h] = s
        return socks

    def _background(self, socks: dict[str, socket.socket], stats: list[list[int]], end: float) -> None:
        """Send every flow's datagrams on time (a heap of next-send times) until the plan ends."""
        heap: list[tuple[float, int, int]] = []  # (wall time, flow, kind: 1 hello, 0 data)
        for i, f in enumerate(self.flows):
            heapq.heappush(heap, (self.t0 + float(f[0]) - 0.2, i, 1))
        while heap and not self._stop.is_set():
            t, i, kind = heap[0]
            now = time.time()
            if t > now:
                self._stop.wait(min(t - now, 0.05))
                continue
            heapq.heappop(heap)
            start, dur, src, dst, _cls, bps, pkt = self.flows[i]
            if kind == 1:  # the receiver opens the stream
                with _suppress_os():
                    socks[dst].sendto(_HDR.pack(i, 0, 1), (self.hosts[src]["ip"], self.udp_port))
                heapq.heappush(heap, (self.t0 + float(start), i, 0))
                continue
            seq = stats[i][1]
            payload = _HDR.pack(i, seq, 0).ljust(max(_HDR.size, int(pkt) - IP_UDP_ETH), b"\0")
            try:
                socks[src].sendto(payload, (self.hosts[dst]["ip"], self.udp_port))
                stats[i][1] += 1
            except BlockingIOError:
                stats[i][3] += 1  # socket buffer full: counted as not sent
            except OSError:
                stats[i][3] += 1
            nxt = t + int(pkt) * 8 / float(bps)
            if nxt < self.t0 + float(start) + float(dur) and nxt < end:
                heapq.heappush(heap, (nxt, i, 0))

    def _receive(self, socks: dict[str, socket.socket], stats: list[list[int]]) -> None:
        sel = selectors.DefaultSelector()
        for s in socks.values():
            sel.register(s, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(0.1):
                sock = key.fileobj
                if not isinstance(sock, socket.socket):
                    continue
                while True:
                    try:
                        data = sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if len(data) >= _HDR.size:
                        i, _seq, kind = _HDR.unpack_from(data)
                        if kind == 0 and i < len(stats):
                            stats[i][2] += 1
        sel.close()

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


class _suppress_os:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summarise(recs: list[dict[str, Any]], flows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per application and operation: counts, errors, latency; logins by outcome; per class: delivery."""
    ops: dict[str, dict[str, Any]] = {}
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        by[(r["app"], r["op"])].append(r)
    for (app, op), rs in sorted(by.items()):
        lat = [r["latency_s"] for r in rs if r["status"] == "ok"]
        conflicts = sum(r["status"] == "conflict" for r in rs)
        ops[f"{app}/{op}"] = {
            "count": len(rs),
            "ok": len(lat),
            "conflicts": conflicts,
            "errors": len(rs) - len(lat) - conflicts,
            "latency_mean_s": round(sum(lat) / len(lat), 5) if lat else None,
            "latency_p95_s": round(_pct(lat, 0.95), 5) if lat else None,
            "lag_p95_s": round(_pct([r["lag_s"] for r in rs], 0.95), 3),
        }
    did: dict[str, int] = defaultdict(int)
    for r in recs:
        if r["status"] == "ok":
            did[f"{r['app']}/{r['did']}"] += 1
    classes: dict[str, dict[str, Any]] = {}
    for f in flows:
        c = classes.setdefault(f["class"], {"flows": 0, "planned": 0, "sent": 0, "received": 0})
        c["flows"] += 1
        for k in ("planned", "sent", "received"):
            c[k] += f[k]
    for c in classes.values():
        c["delivered"] = round(c["received"] / c["sent"], 4) if c["sent"] else None
    logins = [r for r in recs if r["op"] == "login"]
    return {
        "operations": len(recs),
        "errors": sum(r["status"] == "error" for r in recs),
        "conflicts": sum(r["status"] == "conflict" for r in recs),
        "by_op": ops,
        "done": dict(sorted(did.items())),
        "login_attempts": {
            app: sum(1 for r in logins if r["app"] == app and r.get("http", 200) != 0)
            for app in sorted({r["app"] for r in logins})
        },
        "background": classes,
    }


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
