"""Append-only archive files: one per tape cartridge or optical disc, records of header + bytes.

Record: b"HSMR", file id (u64), version (u32), length (u64), sha256 digest (32 bytes), name length
(u16), name, data. The catalog holds the index (medium, data offset, length); `scan` rebuilds it from
the headers. A writer always starts at the catalog's committed end, so bytes a crash left behind are
overwritten (and `truncate` drops them on recovery).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"HSMR"
_HEAD = struct.Struct("<4sQIQ32sH")
HEAD_SIZE = _HEAD.size  # a record's header before its name and data


@dataclass(frozen=True)
class Record:
    """One record's index entry."""

    file_id: int
    version: int
    name: str
    offset: int
    length: int
    checksum: str


def append(path: Path, end: int, file_id: int, version: int, name: str, data: bytes) -> tuple[int, int]:
    """Write a record at `end` (durably); return (data offset, new end)."""
    raw = name.encode()
    head = _HEAD.pack(MAGIC, file_id, version, len(data), hashlib.sha256(data).digest(), len(raw)) + raw
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # archives: nobody else's to read
    try:
        os.ftruncate(fd, end)
        os.pwrite(fd, head + data, end)
        os.fsync(fd)
    finally:
        os.close(fd)
    return end + len(head), end + len(head) + len(data)


def read(path: Path, offset: int, length: int) -> bytes:
    """The bytes of a record's data."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def truncate(path: Path, end: int) -> bool:
    """Cut the file back to the committed end; True if anything was cut."""
    if path.exists() and path.stat().st_size > end:
        with open(path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())
        return True
    return False


def scan(path: Path) -> Iterator[Record]:
    """Every complete record in an archive file, in tape order."""
    with open(path, "rb") as f:
        pos = 0
        while True:
            head = f.read(_HEAD.size)
            if len(head) < _HEAD.size:
                return
            magic, fid, ver, length, digest, nlen = _HEAD.unpack(head)
            if magic != MAGIC:
                return
            name = f.read(nlen).decode()
            start = pos + _HEAD.size + nlen
            f.seek(start + length)
            if f.tell() > path.stat().st_size:
                return
            yield Record(fid, ver, name, start, length, digest.hex())
            pos = start + length
