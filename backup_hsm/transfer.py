"""Real off-site copies over TCP: the source serves one archive, the off-site host pulls and verifies it.

The off-site host connects (pulls), because the model's firewall policy lets no zone be reached *from*
the servers zone: office, service and management hosts may open connections to the servers, not the
other way round. Both ends hold the same shared key (`keygen KEYFILE`, a 0600 file of 32 random bytes
in hex; a key file others can read is refused) and prove it to each other before any byte of the
archive moves (HMAC-SHA256 over both ends' fresh nonces, so a recorded exchange cannot be replayed).
Protocol, one transfer per connection:

    source -> puller   {"hello": "govnet-transfer/2", "nonce": S}
    puller -> source   {"nonce": C, "mac": HMAC(key, "puller|S|C")}
    source -> puller   {"mac": HMAC(key, "source|C|S"), "name", "size", "sha256"}, then exactly `size` bytes
    puller -> source   one JSON line {"ok": true, "sha256", "bytes"} or {"ok": false, "error"}

A puller that fails the proof is told "authentication failed", logged on stderr and dropped; the
source goes on waiting for the real puller until its timeout (a stranger cannot cancel the copy).
The source paces its writes to `rate_bps` (a token bucket with 64 KiB chunks), so a copy fits a
backup window without flooding the link. The puller writes `NAME.part` (0600), hashes while it reads,
fsyncs, checks size and SHA-256 (and `expect_sha256` if given), then renames; on any failure the
part file is removed and nothing is kept. `serve` listens on 127.0.0.1 unless `--bind` names an
address (in a lab: the source host's own address, never 0.0.0.0 in the root namespace).

    python -m backup_hsm.transfer keygen /run/govnet/offsite.key
    python -m backup_hsm.transfer serve ARCHIVE --key-file KEY --bind 10.30.0.13 --port 9100 --rate-mbps 50
    python -m backup_hsm.transfer pull --key-file KEY --from 10.30.0.13:9100 --out /srv/offsite \\
        [--expect-sha256 HEX]

Each prints one JSON line with the result and exits 0 only on a verified copy; `serve` also says
`serving ARCHIVE on HOST:PORT` on stderr once it listens (start the puller after that line).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from backup_hsm.errors import HsmError
from govnet.secure import is_private, open_private, write_private

CHUNK = 64 * 1024
HELLO = "govnet-transfer/2"
MAX_LINE = 4096  # a protocol line longer than this is refused
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


def keygen(path: str | Path) -> Path:
    """Write a new shared key (32 random bytes, hex) to `path`, created 0600."""
    p = Path(path)
    if p.exists():
        raise TransferError(f"{p}: exists; remove it first or give another path (a key is never overwritten)")
    return write_private(p, secrets.token_hex(32).encode() + b"\n")


def read_key(path: str | Path) -> bytes:
    """The shared key in `path`; refused when missing, malformed or readable by others."""
    p = Path(path)
    try:
        if not p.is_file():
            raise TransferError(
                f"{p}: no such key file; make one with 'python -m backup_hsm.transfer keygen {p}'"
            )
        if not is_private(p):
            raise TransferError(f"{p}: the key file is readable by others; chmod 600 {p}")
        text = p.read_text(encoding="ascii", errors="replace").strip()
    except OSError as exc:
        raise TransferError(f"{p}: cannot read the key file ({exc.strerror})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise TransferError(f"{p}: not a key (want at least 16 bytes in hex); make one with keygen")
    return key


def _mac(key: bytes, role: str, a: str, b: str) -> str:
    return hmac.new(key, f"{role}|{a}|{b}".encode(), hashlib.sha256).hexdigest()


def _authenticate_puller(conn: socket.socket, key: bytes) -> tuple[str, str]:
    """Challenge the puller: (our nonce, its nonce) for our own proof, or TransferError if it does not
    know the key."""
    nonce = secrets.token_hex(16)
    conn.sendall(json.dumps({"hello": HELLO, "nonce": nonce}).encode() + b"\n")
    reply = _line(conn)
    theirs, mac = reply.get("nonce"), reply.get("mac")
    if (
        not isinstance(theirs, str)
        or not isinstance(mac, str)
        or len(theirs) != 32
        or not hmac.compare_digest(mac, _mac(key, "puller", nonce, theirs))
    ):
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"ok": False, "error": "authentication failed"}).encode() + b"\n")
        raise TransferError("authentication failed (wrong or no key)")
    return nonce, theirs


def serve_file(
    path: str | Path,
    bind: str = "127.0.0.1",
    port: int = 9100,
    rate_bps: float | None = None,
    timeout: float = 3600.0,
    ready: Callable[[int], None] | None = None,
    *,
    key: bytes,
    log: Callable[[str], None] | None = None,
) -> TransferResult:
    """Serve one archive to the first puller that proves it holds `key`, and wait for its verdict
    (TransferError if it refused). Pullers that fail the proof are logged and dropped.

    `ready(port)` is called once the socket listens (port 0 picks a free one)."""
    src = Path(path)
    if not src.is_file():
        raise TransferError(f"{src}: no such archive to send")
    if rate_bps is not None and rate_bps <= 0:
        raise TransferError(f"rate must be positive (got {rate_bps} bit/s)")
    size, digest = src.stat().st_size, _sha256_file(src)
    if len(key) < 16:
        raise TransferError("the shared key is too short (want at least 16 bytes)")
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    deadline = time.monotonic() + timeout
    with socket.create_server((bind, port), reuse_port=False) as srv:
        if ready is not None:
            ready(srv.getsockname()[1])
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                srv.settimeout(left)
                conn, peer = srv.accept()
            except TimeoutError:
                raise TransferError(
                    f"no authenticated puller connected to {bind}:{port} within {timeout:.0f} s"
                ) from None
            conn.settimeout(min(30.0, max(1.0, deadline - time.monotonic())))
            try:
                ours, theirs = _authenticate_puller(conn, key)
                break
            except (TransferError, OSError) as exc:
                say(f"refused {peer[0]}:{peer[1]}: {exc}")
                conn.close()
    with conn:
        conn.settimeout(timeout)
        started = time.monotonic()
        head = {"mac": _mac(key, "source", theirs, ours), "name": src.name, "size": size, "sha256": digest}
        conn.sendall(json.dumps(head).encode() + b"\n")
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
    host: str,
    port: int,
    out_dir: str | Path,
    expect_sha256: str | None = None,
    timeout: float = 3600.0,
    *,
    key: bytes,
) -> TransferResult:
    """Pull one archive from a serving source into `out_dir`, verified by size and SHA-256, after both
    ends proved they hold `key`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise TransferError(f"cannot reach the source {host}:{port}: {exc}") from None
    with sock:
        started = time.monotonic()
        hello = _line(sock)
        nonce = hello.get("nonce")
        if hello.get("hello") != HELLO or not isinstance(nonce, str) or len(nonce) != 32:
            raise TransferError(f"{host}:{port} does not speak {HELLO} (an old or foreign server?)")
        ours = secrets.token_hex(16)
        sock.sendall(json.dumps({"nonce": ours, "mac": _mac(key, "puller", nonce, ours)}).encode() + b"\n")
        head = _line(sock)
        if head.get("ok") is False:
            raise TransferError(f"{host}:{port} refused us: {head.get('error', '?')}")
        mac = head.get("mac")
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, "source", ours, nonce)):
            raise TransferError(f"{host}:{port} could not prove it holds the shared key; refusing its data")
        name, size, digest = head.get("name"), head.get("size"), head.get("sha256")
        if not isinstance(name, str) or not name or set(name) - _NAME_OK or name.startswith("."):
            raise TransferError(f"the source named the archive {name!r}; refusing it")
        if not isinstance(size, int) or size < 0 or not isinstance(digest, str):
            raise TransferError(f"bad header from the source: {head}")
        part = out / (name + ".part")
        h = hashlib.sha256()
        got = 0
        try:
            with os.fdopen(open_private(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as fh:
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
    """`python -m backup_hsm.transfer keygen|serve|pull ...`: one transfer, one JSON line, exit 0 if
    verified (1: the transfer failed or was refused; 2: a usage mistake)."""
    p = argparse.ArgumentParser(
        prog="python -m backup_hsm.transfer",
        description=__doc__.splitlines()[0],
        epilog=(
            "example (loopback):\n"
            "  python -m backup_hsm.transfer keygen /tmp/k.key\n"
            "  python -m backup_hsm.transfer serve backup.tar --key-file /tmp/k.key --port 9100 &\n"
            "  python -m backup_hsm.transfer pull --key-file /tmp/k.key --from 127.0.0.1:9100 --out /tmp/off"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen", help="write a new shared key file (0600) for both ends")
    k.add_argument("key_file", metavar="KEYFILE")
    s = sub.add_parser(
        "serve", help="serve one archive to the first authenticated puller (on the source host)"
    )
    s.add_argument("archive")
    s.add_argument("--key-file", required=True, help="the shared key (see keygen)")
    s.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=9100)
    s.add_argument("--rate-mbps", type=float, help="pace the copy to this rate (default: as fast as it goes)")
    s.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the puller")
    g = sub.add_parser("pull", help="pull and verify one archive (run on the off-site host)")
    g.add_argument("--key-file", required=True, help="the shared key (see keygen)")
    g.add_argument("--from", dest="source", required=True, metavar="HOST:PORT")
    g.add_argument("--out", required=True, help="directory for the verified copy")
    g.add_argument("--expect-sha256", help="refuse anything but this archive")
    g.add_argument("--timeout", type=float, default=3600.0)
    a = p.parse_args(argv)
    try:
        if a.cmd == "keygen":
            keygen(a.key_file)
            print(json.dumps({"ok": True, "key_file": a.key_file}), flush=True)
            return 0
        key = read_key(a.key_file)
    except TransferError as exc:
        print(f"transfer: {exc}", file=sys.stderr, flush=True)
        return 2
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
                key=key,
            )
        else:
            host, _, port = a.source.rpartition(":")
            if not host or not port.isdigit():
                p.error(f"--from: give HOST:PORT (got {a.source!r})")
            result = pull(host, int(port), a.out, a.expect_sha256, a.timeout, key=key)
    except (TransferError, OSError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
        return 1
    print(json.dumps({"ok": True, **result.to_dict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
