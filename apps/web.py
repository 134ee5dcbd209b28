"""A small JSON-over-HTTP layer on the stdlib: routes, typed 4xx errors, and a threaded server.

A service is a `JsonApp`: a list of (method, path pattern, handler) routes. `dispatch` is pure
(method, path, headers, body in; status and JSON out), so services are tested without sockets;
`serve` wraps it in a `ThreadingHTTPServer`. Every client mistake is an `ApiError` with a 4xx
status and a message that names the field; nothing a client sends produces a 500.

`Request.source` is the client's address: the TCP peer, or, only when the peer is one of the app's
`trusted_proxies`, the nearest untrusted address in `X-Forwarded-For` (read right to left, as each
proxy appends the address it saw). A header from anyone else is ignored, so a client cannot forge
its source in the login audit.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from govnet.httpd import send_json

log = logging.getLogger(__name__)

MAX_BODY = 32 * 1024 * 1024
Json = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ApiError(Exception):
    """A request the service refuses: an HTTP status (4xx) and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    """One parsed request: path parameters, query string, headers and the JSON body (an object)."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: Mapping[str, str]
    body: Json = field(default_factory=dict)
    source: str = ""  # the client's address (see client_address); "" when dispatched without a socket

    def text(self, name: str, *, required: bool = True, default: str = "") -> str:
        """A non-empty string field of the body (400 naming the field when missing or not a string)."""
        if name not in self.body:
            if required:
                raise ApiError(400, f"missing field {name!r}")
            return default
        value = self.body[name]
        if not isinstance(value, str) or (required and not value.strip()):
            raise ApiError(400, f"field {name!r} must be a non-empty string (got {value!r})")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        """A string field that must be one of `allowed`."""
        value = self.text(name)
        if value not in allowed:
            raise ApiError(400, f"field {name!r} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def number(self, name: str) -> int:
        """A path parameter that must be a positive integer id."""
        raw = self.params.get(name, "")
        if not re.fullmatch(r"[0-9]{1,18}", raw) or int(raw) <= 0:
            raise ApiError(404, f"{name} must be a positive integer (got {raw!r})")
        return int(raw)


Handler = Callable[[Request], tuple[int, Json]]


def parse_networks(items: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """CIDRs or addresses (e.g. '10.0.9.0/24', '10.0.9.5') -> networks; ValueError names a bad one."""
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted proxy {item!r} is not an address or CIDR, e.g. 10.0.9.0/24") from None
    return tuple(out)


def add_trusted_proxy_option(p: argparse.ArgumentParser) -> None:
    """A service's repeatable `--trusted-proxy CIDR` option; read it back with `trusted_proxy_option`."""
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a reverse proxy whose X-Forwarded-For is believed for the login source (repeatable)",
    )


def trusted_proxy_option(p: argparse.ArgumentParser, a: argparse.Namespace) -> tuple[Network, ...]:
    """The networks given with `--trusted-proxy`; a bad one is a usage error (`p.error`)."""
    try:
        return parse_networks(a.trusted_proxy)
    except ValueError as exc:
        p.error(f"--trusted-proxy: {exc}")


def _trusted(addr: str, trusted: tuple[Network, ...]) -> bool | None:
    """Whether `addr` lies in a trusted network; None if it is not an IP address."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    return any(ip in net for net in trusted)


def client_address(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy, then the nearest untrusted
    X-Forwarded-For hop (right to left). A malformed hop ends the walk at the last good address."""
    if not trusted or not forwarded_for or _trusted(peer, trusted) is not True:
        return peer
    source = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        ok = _trusted(hop, trusted)
        if ok is None:
            return source
        source = hop
        if not ok:
            return hop
    return source


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    op: str
    handler: Handler


class JsonApp:
    """Routes and dispatch; `on_op(op, seconds, status)` is called after every routed request."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._routes: list[_Route] = []
        self.on_op: Callable[[str, float, int], None] | None = None
        self.trusted_proxies: tuple[Network, ...] = ()

    def route(self, method: str, pattern: str, op: str, handler: Handler) -> None:
        """Add a route; `{name}` in the pattern captures one path segment."""
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
        self._routes.append(_Route(method, re.compile(regex), op, handler))

    def dispatch(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes, peer: str = ""
    ) -> tuple[int, Json]:
        """Answer one request from `peer` (the TCP peer's address); never raises."""
        started = time.perf_counter()
        op = "unrouted"
        try:
            parts = urlsplit(target)
            route, params = self._match(method, parts.path)
            op = route.op
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            source = client_address(peer, headers.get("x-forwarded-for", ""), self.trusted_proxies)
            req = Request(method, parts.path, params, query, headers, _parse_body(method, raw), source)
            status, body = route.handler(req)
        except ApiError as exc:
            status, body = exc.status, {"error": exc.message, "status": exc.status}
        except Exception:  # a bug in the service: log it, answer 500, keep serving
            log.exception("%s: %s %s failed", self.name, method, target)
            status, body = 500, {"error": "internal error; see the service log", "status": 500}
        if self.on_op is not None and op != "unrouted":
            self.on_op(op, time.perf_counter() - started, status)
        return status, body

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed: list[str] = []
        for r in self._routes:
            m = r.pattern.match(path)
            if m:
                if r.method == method:
                    return r, {k: unquote(v) for k, v in m.groupdict().items()}
                allowed.append(r.method)
        if allowed:
            raise ApiError(405, f"{method} not allowed on {path}; use {', '.join(sorted(set(allowed)))}")
        raise ApiError(404, f"no such resource: {path}")


def _parse_body(method: str, raw: bytes) -> Json:
    if method in ("GET", "DELETE") or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"body must be a JSON object (got {type(data).__name__})")
    return data


def make_server(app: JsonApp, bind: str, port: int) -> ThreadingHTTPServer:
    """A threaded HTTP server for `app` (not started); port 0 picks a free port."""

    class _Handler(BaseHTTPRequestHandler):
        server_version = f"govnet-{app.name}/1"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # keep-alive replies go out in two writes; no 40 ms delayed ACK

        def _handle(self) -> None:
            length_raw = self.headers.get("Content-Length", "0") or "0"
            if not re.fullmatch(r"[0-9]{1,12}", length_raw):
                self._reply(400, {"error": f"bad Content-Length {length_raw!r}", "status": 400})
                return
            length = int(length_raw)
            if length > MAX_BODY:
                self._reply(413, {"error": f"body larger than {MAX_BODY} bytes", "status": 413})
                self.close_connection = True
                return
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            peer = str(self.client_address[0]) if self.client_address else ""
            self._reply(*app.dispatch(self.command, self.path, headers, raw, peer))

        def _reply(self, status: int, body: Json) -> None:
            send_json(self, status, body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:  # the audit log records operations
            return

    server = ThreadingHTTPServer((bind, port), _Handler)
    server.daemon_threads = True
    return server


def stop_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt in the main thread, so `main()`s close their store cleanly."""

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def serve_in_thread(app: JsonApp, bind: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start `app` on a background thread; stop it with `server.shutdown(); server.server_close()`."""
    server = make_server(app, bind, port)
    threading.Thread(target=server.serve_forever, args=(0.05,), name=f"{app.name}-http", daemon=True).start()
    return server
