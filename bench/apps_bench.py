"""OA service throughput against a minimal stdlib server, and the traffic generator's CPU cost.

Run: .venv/bin/python bench/apps_bench.py [--seconds 3] [--threads 4]
(Not bench/apps.py: run as a script, that name would shadow the `apps` package.)

Both servers are `ThreadingHTTPServer`s on 127.0.0.1 in this process, driven by the same client
threads over keep-alive connections. The reference answers a fixed JSON body and does nothing else;
the OA service authenticates the token, queries SQLite and writes nothing for `GET /todo`, and for
`POST /documents` also commits a row and an audit event (WAL, synchronous=FULL: one fsync each).
The generator is timed (process CPU) on a simulated day for about 1,000 users.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchfile import Figure, write_results

from apps.background import background_flows
from apps.clock import SystemClock
from apps.config import load_config
from apps.oa import OAService
from apps.traffic import client_events
from apps.web import serve_in_thread
from topology import load_model


class _Reference(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the services do; without it both sit at ~25 req/s per connection

    def _ok(self) -> None:
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n:
            self.rfile.read(n)
        data = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _ok

    def log_message(self, format: str, *args: Any) -> None:
        return


def drive(
    port: int, method: str, path: str, body: bytes, headers: dict[str, str], seconds: float, threads: int
) -> float:
    """Requests per second over `seconds` from `threads` keep-alive clients."""
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < stop:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}")
            counts[i] += 1
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=4)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        svc = OAService(Path(tmp) / "oa.db", Path(tmp) / "files", b"k" * 32, SystemClock())
        for u in ("alice", "bob"):
            svc.add_user(u, "pw")
        oa = serve_in_thread(svc.app)
        ref = ThreadingHTTPServer(("127.0.0.1", 0), _Reference)
        ref.daemon_threads = True
        threading.Thread(target=ref.serve_forever, args=(0.05,), daemon=True).start()
        try:
            oa_port, ref_port = oa.server_address[1], ref.server_address[1]
            conn = http.client.HTTPConnection("127.0.0.1", oa_port)
            conn.request("POST", "/login", body=json.dumps({"user": "alice", "password": "pw"}))
            token = json.loads(conn.getresponse().read())["token"]
            conn.close()
            auth = {"Authorization": f"Bearer {token}"}
            doc = json.dumps({"title": "t", "content": "x" * 2000, "reviewer": "bob", "countersigner": "bob",
                              "signer": "bob", "recipient": "bob"}).encode()  # fmt: skip
            ref_rps = drive(ref_port, "GET", "/todo", b"", {}, a.seconds, a.threads)
            print(f"reference stdlib server      GET:  {ref_rps:8.0f} req/s")
            measured: dict[str, float] = {}
            for label, method, body in (("GET /todo", "GET", b""), ("POST /documents", "POST", doc)):
                path = label.split()[1]
                rps = drive(oa_port, method, path, body, auth, a.seconds, a.threads)
                measured[label] = rps
                print(f"OA {label:<25} {rps:8.0f} req/s  ratio to reference {rps / ref_rps:.2f}")
        finally:
            oa.shutdown()
            oa.server_close()
            ref.shutdown()
            ref.server_close()
            svc.close()
    net = load_model("small")
    desktops = sum(1 for n in net.nodes if n.is_host and n.zone == "office" and n.site.startswith("bureau-"))
    per = max(1, round(1000 / desktops))
    cfg = load_config({"seed": 1, "clients": {"oa": {"users_per_desktop": per}}})
    began = time.process_time()
    events = client_events(net, cfg, "oa")
    flows = background_flows(net, cfg)
    cpu = time.process_time() - began
    users = per * desktops
    print(
        f"generator: {users} users, one simulated day, {len(events)} operations + {len(flows)} flows "
        f"in {cpu:.2f} s CPU = {cpu * 1000 / users:.2f} s CPU per 1,000 users per day"
    )
    figures = [Figure("reference stdlib server GET", None, ref_rps, "req/s")]
    figures += [
        Figure(f"OA {label}", rps, ref_rps, "req/s", rps / ref_rps, "govnet/anchor")
        for label, rps in measured.items()
    ]
    figures.append(
        Figure(
            "traffic generator CPU per 1,000 users per simulated day",
            cpu * 1000 / users,
            unit="s",
            note=f"{users} users, {len(events)} operations + {len(flows)} flows",
        )
    )
    write_results(
        "apps_bench",
        "OA service throughput and the traffic generator's cost",
        "a minimal stdlib ThreadingHTTPServer answering a fixed JSON body",
        figures,
        params={"seconds": a.seconds, "threads": a.threads},
    )


if __name__ == "__main__":
    main()
