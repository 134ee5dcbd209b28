"""The file-access contract between services that keep files (apps) and stores that hold them (backup_hsm).

`apps` and `backup_hsm` may not import each other, so they meet here. A service stores and reads its
files through any object with the `FileStore` shape; each read is an access the store may count
(the HSM turns it into heat) and may have to serve from slow media (the HSM recalls from optical or
tape). The read reports that as a `FileRead`: the bytes, the tier the file was on, whether it was
recalled and the modelled latency, so the service can show the latency in its reply and metrics.

Three implementations:
- `DirFileStore(dir)`: plain files under a directory (tier "local", no latency); the default.
- `HttpFileStore(url)`: a client of the file-server protocol below, so the OA server and the file
  server can be different hosts of the emulated network (the traffic then crosses its links).
- `backup_hsm.files.HsmFiles`: the HSM store itself (in-process), which also serves the protocol
  (`python -m backup_hsm.files --root DIR --port 8090`).

File-server protocol (HTTP/1.1; a name is 1-255 characters of [A-Za-z0-9._/-], no '..' segment,
percent-encoded in the URL):
    PUT /files/NAME   body: the bytes      -> 201 {"name", "size", "sha256", "version"}
    GET /files/NAME                          -> 200 the bytes, headers X-File-Tier, X-File-Recalled
                                                (0/1), X-File-Latency (modelled seconds), X-File-Sha256
    errors                                   -> 4xx/5xx {"error": "..."} (404: no such file)
`open_file_store(spec)` picks the implementation: an http:// URL or a directory path.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from govnet.errors import GovnetError

_NAME = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")


class FileStoreError(GovnetError):
    """A file could not be stored or read (missing, bad name, store unreachable)."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FileInfo:
    """What the store recorded for a file."""

    name: str
    size: int
    sha256: str
    version: int = 1


@dataclass(frozen=True)
class FileRead:
    """One read: the bytes, the tier they were on, whether they had to be recalled, the modelled latency."""

    data: bytes
    tier: str
    recalled: bool
    latency_s: float

    def storage(self) -> dict[str, object]:
        """The JSON a service puts in its reply."""
        return {"tier": self.tier, "recalled": self.recalled, "latency_s": round(self.latency_s, 3)}


class FileStore(Protocol):
    """Where a service keeps its files; every `get` is an access."""

    def put(self, name: str, data: bytes) -> FileInfo:
        """Store (a new version of) a file, durably."""
        ...

    def get(self, name: str) -> FileRead:
        """Read a file (FileStoreError with status 404 if there is none)."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def check_name(name: str) -> str:
    """The name if it is a valid file name (FileStoreError 400 otherwise)."""
    if not _NAME.match(name) or ".." in name.split("/") or name.startswith("/"):
        raise FileStoreError(f"bad file name {name!r}: use 1-255 of [A-Za-z0-9._/-], no '..'", 400)
    return name


class DirFileStore:
    """Files under a directory (atomic, fsynced writes); reads are instant and from tier 'local'."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, data: bytes) -> FileInfo:
        """Write a file atomically (temporary name, fsync, rename)."""
        path = self.root / check_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        return FileInfo(name, len(data), hashlib.sha256(data).hexdigest())

    def get(self, name: str) -> FileRead:
        """Read a file."""
        try:
            data = (self.root / check_name(name)).read_bytes()
        except FileNotFoundError:
            raise FileStoreError(f"no file {name!r}", 404) from None
        except OSError as exc:
            raise FileStoreError(f"cannot read {name!r}: {exc.strerror}") from None
        return FileRead(data, "local", False, 0.0)

    def close(self) -> None:
        """Nothing to release."""


class HttpFileStore:
    """A client of a file server speaking the protocol above (one connection per request)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise FileStoreError(f"file server URL {url!r}: use http://HOST:PORT", 400)
        self.host, self.port = parts.hostname, parts.port or 80
        self.base = parts.path.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, name: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, f"{self.base}/files/{quote(check_name(name))}", body=body)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except OSError as exc:
            raise FileStoreError(f"file server {self.host}:{self.port} unreachable: {exc}") from None
        finally:
            conn.close()

    @staticmethod
    def _error(status: int, raw: bytes, name: str) -> FileStoreError:
        try:
            text = str(json.loads(raw).get("error", ""))
        except (ValueError, AttributeError):
            text = raw[:200].decode(errors="replace")
        return FileStoreError(f"file server: {name}: {text or status}", status if status < 500 else 503)

    def put(self, name: str, data: bytes) -> FileInfo:
        """PUT the bytes."""
        status, _, raw = self._call("PUT", name, data)
        if status != 201:
            raise self._error(status, raw, name)
        doc = json.loads(raw)
        return FileInfo(str(doc["name"]), int(doc["size"]), str(doc["sha256"]), int(doc["version"]))

    def get(self, name: str) -> FileRead:
        """GET the bytes and the storage headers; checks the checksum the server sent."""
        status, headers, raw = self._call("GET", name)
        if status != 200:
            raise self._error(status, raw, name)
        if headers.get("x-file-sha256", hashlib.sha256(raw).hexdigest()) != hashlib.sha256(raw).hexdigest():
            raise FileStoreError(f"file server: {name}: the bytes do not match the sent checksum")
        return FileRead(
            raw,
            headers.get("x-file-tier", "unknown"),
            headers.get("x-file-recalled", "0") == "1",
            float(headers.get("x-file-latency", "0") or 0),
        )

    def close(self) -> None:
        """Nothing to release (no pooled connections)."""


def open_file_store(spec: str | Path) -> FileStore:
    """An http:// URL -> HttpFileStore; anything else is a directory -> DirFileStore."""
    text = str(spec)
    if text.startswith("http://"):
        return HttpFileStore(text)
    return DirFileStore(text)
