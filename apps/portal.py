"""The DMZ portal: a reverse proxy that lets internet applicants reach the approval service.

    python -m apps.portal --port 80 --upstream http://10.30.0.3:8081

Applicants on the internet side may only reach the DMZ (the zone policy allows tcp/80 there), so the
portal on a DMZ host relays each request to the approval server inside and appends the applicant's
address to `X-Forwarded-For`. The approval service trusts that header only from the portal
(`--trusted-proxy`), so its login and operation audit still names the applicant. An unreachable
upstream answers 502 with a JSON error; the portal never crashes on a client's request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from apps.web import MAX_BODY, stop_on_sigterm
from govnet.httpd import send_json

FORWARDED_HEADERS = ("content-type", "authorization", "accept")


class Portal:
    """Relay to one upstream http://HOST:PORT with a keep-alive connection per serving thread."""

    def __init__(self, upstream: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://HOST:PORT (got {upstream!r})")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self._local = threading.local()
        self.relayed = 0
        self.failed = 0

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def relay(
        self, method: str, target: str, headers: dict[str, str], body: bytes, peer: str
    ) -> tuple[int, bytes]:
        """Forward one request; (status, JSON body). A dead upstream is a 502, retried once on a stale
        keep-alive connection."""
        fwd = {k: v for k, v in headers.items() if k in FORWARDED_HEADERS}
        prior = headers.get("x-forwarded-for", "")
        fwd["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, target, body=body or None, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                self.relayed += 1
                return resp.status, data
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    self.failed += 1
                    msg = {"error": f"approval service unreachable: {exc}", "status": 502}
                    return 502, json.dumps(msg).encode()
        raise AssertionError("unreachable")


def make_portal_server(portal: Portal, bind: str, port: int) -> ThreadingHTTPServer:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "govnet-portal/1"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            raw_len = self.headers.get("Content-Length", "0") or "0"
            if not raw_len.isdigit() or int(raw_len) > MAX_BODY:
                send_json(self, 400, {"error": f"bad or too large Content-Length {raw_len!r}", "status": 400})
                self.close_connection = True
                return
            body = self.rfile.read(int(raw_len)) if int(raw_len) else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data = portal.relay(self.command, self.path, headers, body, str(self.client_address[0]))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((bind, port), _Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m apps.portal", description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="the approval service, http://HOST:PORT")
    p.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; in a lab: the DMZ host's)",
    )
    p.add_argument("--port", type=int, default=80)
    a = p.parse_args(argv)
    try:
        portal = Portal(a.upstream)
    except ValueError as exc:
        p.error(f"--upstream: {exc}")
    server = make_portal_server(portal, a.bind, a.port)
    print(f"portal: http://{a.bind}:{server.server_address[1]} -> {a.upstream}", flush=True)
    stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
