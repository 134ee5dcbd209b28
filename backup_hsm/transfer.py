"""Real off-site copies over TCP: the source serves one archive, the off-site host pulls and verifies it.

The off-site host connects (pulls), because the model's firewall policy lets no zone be reached *from*
the servers zone: office, service and management hosts may open connections to the servers, not the
other way round. Protocol, one transfer per connection:

    source -> puller   one JSON line {"name", "size", "sha256"}, then exactly `size` bytes
    puller -> source   one JSON line {"ok": true, "sha256", "bytes"} or {"ok": false, "error"}

The source paces its writes to `rate_bps` (a token bucket with 64 KiB chunks), so a copy fits a
backup window without flooding the link. The puller writes `NAME.part`, hashes while it reads,
fsyncs, checks size and SHA-256 (and `expect_sha256` if given), then renames; on any failure the
part file is removed and nothing is kept.

    python -m backup_hsm.transfer serve ARCHIVE --bind 0.0.0.0 --port 9100 --rate-mbps 50
    python -m backup_hsm.transfer pull --from 10.30.0.13:9100 --out /srv/offsite [--expect-sha256 HEX]

Each prints one JSON line with the result and exits 0 only on a verified copy; `serve` also says
`serving ARCHIVE on HOST:PORT` on stderr once it listens (start the puller after that line).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from backup_hsm.errors import HsmError

CHUNK = 64 * 1024
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class TransferError(HsmError):
    """An off-site copy failed: unreachable peer, short read, checksum mismatch."""


@dataclass(frozen=True)
class TransferResult:
    """One finished transfer, as either end saw it."""

    name: str
    bytes: int
    sha256: str
    seconds: float
    peer: str
    path: str = ""

    @property
    def mbps(self) -> float:
        """Achieved rate in Mbit/s."""
        return self.bytes * 8 / self.seconds / 1e6 if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "seconds": round(self.seconds, 3), "mbps": round(self.mbps, 2)}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _line(sock: socket.socket, limit: int = 4096) -> dict[str, Any]:
    buf = b""
    while not buf.endswith(b"\n"):
        got = sock.recv(1)
        if not got:
            raise TransferError("the peer closed the connection before its JSON line")
        buf += got
        if len(buf) > limit:
            raise TransferError("the peer's JSON line is too long")
    try:
        doc = json.loads(buf)
    except ValueError:
        raise TransferError(f"the peer sent no JSON line ({buf[:60]!r})") from None
    if not isinstance(doc, dict):
        raise TransferError("the peer's JSON line is not an object")
    return doc


class _Pacer:
    """A token bucket: `wait(n)` sleeps until n more bytes fit the rate."""

    def __init__(self, rate_bps: float | None) -> None:
        self.rate = rate_bps / 8 if rate_bps else None  # bytes/s
        self.start = time.monotonic()
        self.sent = 0

    def wait(self, n: int) -> None:
        self.sent += n
        if self.rate:
            ahead = self.sent / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)


def serve_file(
    path: str | Path,
    bind: str = "0.0.0.0",
    port: int = 9100,
    rate_bps: float | None = None,
    timeout: float = 3600.0,
    ready: Callable[[int], None] | None = None,
) -> TransferResult:
    """Serve one archive to the first puller and wait for its verdict (TransferError if it refused).

    `ready(port)` is called once the socket listens (port 0 picks a free one)."""
    src = Path(path)
    if not src.is_file():
        raise TransferError(f"{src}: no such archive to send")
    if rate_bps is not None and rate_bps <= 0:
        raise TransferError(f"rate must be positive (got {rate_bps} bit/s)")
    size, digest = src.stat().st_size, _sha256_file(src)
    with socket.create_server((bind, port), reuse_port=False) as srv:
        srv.settimeout(timeout)
        if ready is not None:
            ready(srv.getsockname()[1])
        try:
            conn, peer = srv.accept()
        except TimeoutError:
            raise TransferError(f"no puller connected to {bind}:{port} within {timeout:.0f} s") from None
    with conn:
        conn.settimeout(timeout)
        started = time.monotonic()
        conn.sendall(json.dumps({"name": src.name, "size": size, "sha256": digest}).encode() + b"\n")
        pacer = _Pacer(rate_bps)
        with open(src, "rb") as fh:
            while chunk := fh.read(CHUNK):
                pacer.wait(len(chunk))
                conn.sendall(chunk)
        verdict = _line(conn)
        seconds = time.monotonic() - started
    if not verdict.get("ok") or verdict.get("sha256") != digest:
        raise TransferError(f"{peer[0]} refused {src.name}: {verdict.get('error', 'checksum differs')}")
    return TransferResult(src.name, size, digest, seconds, str(peer[0]), str(src))


def pull(
    host: str, port: int, out_dir: str | Path, expect_sha256: str | None = None, timeout: float = 3600.0
) -> TransferResult:
    """Pull one archive from a serving source into `out_dir`, verified by size and SHA-256."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise TransferError(f"cannot reach the source {host}:{port}: {exc}") from None
    with sock:
        started = time.monotonic()
        head = _line(sock)
        name, size, digest = head.get("name"), head.get("size"), head.get("sha256")
        if not isinstance(name, str) or not name or set(name) - _NAME_OK or name.startswith("."):
            raise TransferError(f"the source named the archive {name!r}; refusing it")
        if not isinstance(size, int) or size < 0 or not isinstance(digest, str):
            raise TransferError(f"bad header from the source: {head}")
        part = out / (name + ".part")
        h = hashlib.sha256()
        got = 0
        try:
            with open(part, "wb") as fh:
                while got < size:
                    chunk = sock.recv(min(CHUNK, size - got))
                    if not chunk:
                        break
                    h.update(chunk)
                    fh.write(chunk)
                    got += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            error = ""
            if got != size:
                error = f"short transfer: {got} of {size} bytes"
            elif h.hexdigest() != digest:
                error = "checksum of the received bytes differs from the source's"
            elif expect_sha256 and digest != expect_sha256:
                error = f"the source sent {digest[:12]}, the plan expects {expect_sha256[:12]}"
            if error:
                raise TransferError(f"{name} from {host}: {error}")
            final = out / name
            part.replace(final)
        except BaseException as exc:
            part.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                sock.sendall(json.dumps({"ok": False, "error": str(exc)}).encode() + b"\n")
            raise
        sock.sendall(json.dumps({"ok": True, "sha256": digest, "bytes": got}).encode() + b"\n")
        return TransferResult(name, got, digest, time.monotonic() - started, host, str(final))


def main(argv: list[str] | None = None) -> int:
    """`python -m backup_hsm.transfer serve|pull ...`: one transfer, one JSON line, exit 0 if verified."""
    p = argparse.ArgumentParser(prog="python -m backup_hsm.transfer", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve one archive to the first puller (run on the source host)")
    s.add_argument("archive")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=9100)
    s.add_argument("--rate-mbps", type=float, help="pace the copy to this rate (default: as fast as it goes)")
    s.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the puller")
    g = sub.add_parser("pull", help="pull and verify one archive (run on the off-site host)")
    g.add_argument("--from", dest="source", required=True, metavar="HOST:PORT")
    g.add_argument("--out", required=True, help="directory for the verified copy")
    g.add_argument("--expect-sha256", help="refuse anything but this archive")
    g.add_argument("--timeout", type=float, default=3600.0)
    a = p.parse_args(argv)
    try:
        if a.cmd == "serve":
            rate = a.rate_mbps * 1e6 if a.rate_mbps else None
            result = serve_file(
                a.archive,
                a.bind,
                a.port,
                rate,
                a.timeout,
                ready=lambda port: print(
                    f"serving {a.archive} on {a.bind}:{port}", file=sys.stderr, flush=True
                ),
            )
        else:
            host, _, port = a.source.rpartition(":")
            if not host or not port.isdigit():
                p.error(f"--from: give HOST:PORT (got {a.source!r})")
            result = pull(host, int(port), a.out, a.expect_sha256, a.timeout)
    except (TransferError, OSError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
        return 1
    print(json.dumps({"ok": True, **result.to_dict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
