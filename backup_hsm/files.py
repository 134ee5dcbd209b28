"""The HSM as a file store for services (govnet.filestore.FileStore), in-process or as a file server.

`HsmFiles` wraps one `Hsm`: `put` stores a new version on disk, `get` is a read, so it raises the file's
heat, recalls it from optical or tape when it has gone cold, and reports the tier and the modelled
latency. SQLite connections belong to one thread, so the store lives on one worker thread and every
call is handed to it (calls are serialised, as on a single HSM controller).

`python -m backup_hsm.files --root var/hsm --port 8090` serves the file-server protocol of
govnet/filestore.py on the file server host; the OA service reaches it with
`python -m apps.oa ... --files http://FILESERVER:8090`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from backup_hsm.clock import VirtualClock, WallClock
from backup_hsm.devices import DISK, TIER_NAMES, Library
from backup_hsm.errors import HsmError, HsmInputError, TierFullError
from backup_hsm.placement import parse_policy
from backup_hsm.reclaim import reclaim
from backup_hsm.store import Hsm
from govnet.filestore import FileInfo, FileRead, FileStoreError, check_name
from govnet.httpd import send_json
from govnet.metrics import HSM, Point, validate
from govnet.signals import interrupts_on_signals

T = TypeVar("T")
MAX_FILE = 256 * 1024 * 1024


class HsmFiles:
    """A FileStore over an HSM store; every `get` is an access (heat) and may recall the file."""

    def __init__(
        self,
        root: str | Path | None = None,
        clock: VirtualClock | None = None,
        library: Library | None = None,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsm-files")
        self.hsm: Hsm = self._pool.submit(Hsm.open, root, clock or WallClock(), library).result()
        self.recalls = dict.fromkeys(TIER_NAMES, 0)

    def call(self, fn: Callable[[Hsm], T]) -> T:
        """Run `fn(hsm)` on the store's thread (migrations, policy passes, status, reclamation)."""
        return self._pool.submit(fn, self.hsm).result()

    def put(self, name: str, data: bytes) -> FileInfo:
        """Store a new version on disk (an access: a new or updated document is hot)."""
        check_name(name)

        def put(hsm: Hsm) -> FileInfo:
            try:
                row = hsm.put(name, data)
            except TierFullError as exc:
                raise FileStoreError(f"{name}: {exc}", 507) from None
            return FileInfo(name, row.size, row.checksum, row.version)

        return self.call(put)

    def get(self, name: str) -> FileRead:
        """Read a file: heat, recall if cold, the tier it was on and the modelled latency."""
        check_name(name)

        def get(hsm: Hsm) -> FileRead:
            row = hsm.catalog.get(name)
            if row is None:
                raise FileStoreError(f"no file {name!r}", 404)
            try:
                data, latency = hsm.read(name)
            except HsmError as exc:  # every copy failed its checksum
                raise FileStoreError(f"{name}: {exc}", 503) from None
            if row.tier != DISK:
                self.recalls[TIER_NAMES[row.tier]] += 1
            return FileRead(data, TIER_NAMES[row.tier], row.tier != DISK, latency)

        return self.call(get)

    def points(self) -> list[Point]:
        """Registry `hsm` points: bytes and files per tier, recalls served from each tier."""

        def usage(hsm: Hsm) -> tuple[float, dict[int, tuple[int, int]]]:
            return hsm.clock.now(), hsm.catalog.tier_bytes()

        now, tiers = self.call(usage)
        return [
            validate(
                Point(
                    HSM.name,
                    {"tier": TIER_NAMES[t]},
                    {"bytes": b, "files": n, "recalls": self.recalls[TIER_NAMES[t]]},
                    int(now * 1e9),
                )
            )
            for t, (n, b) in sorted(tiers.items())
        ]

    def close(self) -> None:
        """Close the store and stop its thread."""
        self.call(lambda hsm: hsm.close())
        self._pool.shutdown()


def make_server(files: HsmFiles, bind: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP file server (not started) for the protocol in govnet/filestore.py; port 0 picks one."""

    class _Handler(BaseHTTPRequestHandler):
        server_version = "govnet-hsm-files/1"
        protocol_version = "HTTP/1.1"

        def _name(self) -> str | None:
            m = re.fullmatch(r"/files/(.+)", self.path.split("?", 1)[0])
            if m is None:
                self._json(404, {"error": f"no such resource {self.path}; use /files/NAME"})
                return None
            return unquote(m.group(1))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            send_json(self, status, body)

        def do_PUT(self) -> None:
            name = self._name()
            raw_len = self.headers.get("Content-Length", "")
            if name is None:
                return
            if not raw_len.isdigit() or int(raw_len) > MAX_FILE:
                self._json(
                    411 if not raw_len.isdigit() else 413, {"error": f"bad Content-Length {raw_len!r}"}
                )
                self.close_connection = True
                return
            data = self.rfile.read(int(raw_len))
            try:
                info = files.put(name, data)
            except FileStoreError as exc:
                self._json(exc.status, {"error": str(exc)})
                return
            self._json(
                201, {"name": info.name, "size": info.size, "sha256": info.sha256, "version": info.version}
            )

        def do_GET(self) -> None:
            name = self._name()
            if name is None:
                return
            try:
                got = files.get(name)
            except FileStoreError as exc:
                self._json(exc.status, {"error": str(exc)})
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(got.data)))
            self.send_header("X-File-Tier", got.tier)
            self.send_header("X-File-Recalled", "1" if got.recalled else "0")
            self.send_header("X-File-Latency", f"{got.latency_s:.6f}")
            self.send_header("X-File-Sha256", hashlib.sha256(got.data).hexdigest())
            self.end_headers()
            self.wfile.write(got.data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((bind, port), _Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    """`python -m backup_hsm.files`: serve an HSM store as a file server until interrupted."""
    p = argparse.ArgumentParser(prog="python -m backup_hsm.files", description=__doc__.splitlines()[0])
    p.add_argument("--root", help="HSM store directory (default var/hsm)")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--policy", help="run this placement policy (and tape reclamation) every --every seconds")
    p.add_argument("--every", type=float, default=3600.0, help="seconds between policy passes (default 3600)")
    a = p.parse_args(argv)
    try:
        policy = parse_policy(a.policy) if a.policy else None
    except HsmInputError as exc:
        p.error(str(exc))
    files = HsmFiles(a.root)
    server = make_server(files, a.bind, a.port)
    stop = threading.Event()

    def passes() -> None:  # a compressed "night": policy pass, then reclamation, on the store's thread
        assert policy is not None
        while not stop.wait(a.every):
            moves = files.call(lambda hsm: hsm.apply(policy))
            done = files.call(lambda hsm: reclaim(hsm)).to_dict()
            print(f"hsm files: pass {json.dumps(moves)}, reclaimed {done['retired']} volume(s)", flush=True)

    if policy is not None:
        threading.Thread(target=passes, name="hsm-policy", daemon=True).start()
    print(f"hsm files: serving {files.hsm.root} on http://{a.bind}:{server.server_address[1]}", flush=True)
    try:
        with interrupts_on_signals():  # SIGTERM closes the catalog cleanly
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        files.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
