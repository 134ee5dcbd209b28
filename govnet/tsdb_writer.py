"""The metrics writer: validated points → line protocol → the store, surviving store outages.

Every point is checked against the registry (`govnet.metrics.validate`) before it is queued, so a
bad point fails at the caller, not later in a background thread. A flush thread sends batches
through `influxdb-client` (`/api/v2/write`). While the store is down, points wait in memory; when
the memory bound is reached the oldest of them spill to segment files in the spill directory, and
when the disk bound is reached too, new overflow is dropped and counted. On recovery everything is
sent oldest first: spilled segments, then memory. Spilled segments left by a previous writer
(a crash, or `close()` while the store was down) are sent by the next writer on the same directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from govnet.errors import TsdbError
from govnet.metrics import Point, validate
from govnet.paths import var_dir

log = logging.getLogger("govnet.tsdb")

_SEQ0 = 10**14  # segment numbers start here so that segments put back in front stay positive


def default_spill_dir(name: str = "default") -> Path:
    """Where a writer called `name` spills while the store is down: var/tsdb/spill/<name>/."""
    return var_dir() / "tsdb" / "spill" / name


@dataclass(frozen=True)
class WriterStats:
    """A snapshot of what the writer did: every accepted point is sent, buffered, or counted as lost."""

    accepted: int
    sent: int
    in_memory: int
    on_disk: int
    spilled: int
    dropped: int
    rejected: int
    store_up: bool
    last_error: str

    @property
    def pending(self) -> int:
        return self.in_memory + self.on_disk


@dataclass
class _Segment:
    path: Path
    lines: int
    size: int


class Writer:
    """Writes `Point`s to the store at `url`; thread-safe; call `close()` (or use `with`) at the end.

    memory_points bounds the in-memory queue; spill_dir (None: no spilling) and disk_bytes bound the
    spill; batch_points is the largest single write; flush_interval_s is how often the background
    thread sends (and retries a store that is down).
    """

    def __init__(
        self,
        url: str,
        *,
        spill_dir: Path | None = None,
        memory_points: int = 100_000,
        disk_bytes: int = 256 * 1024 * 1024,
        batch_points: int = 5_000,
        flush_interval_s: float = 1.0,
        timeout_s: float = 5.0,
        org: str = "govnet",
        bucket: str = "govnet",
        token: str = "govnet",
    ) -> None:
        if memory_points < batch_points or batch_points < 1:
            raise TsdbError(
                f"writer: memory_points ({memory_points}) must be >= batch_points ({batch_points}) >= 1"
            )
        self.url = url.rstrip("/")
        self.memory_points = memory_points
        self.disk_bytes = disk_bytes
        self.batch_points = batch_points
        self.flush_interval_s = flush_interval_s
        self._org, self._bucket = org, bucket
        self._client = InfluxDBClient(url=self.url, token=token, org=org, timeout=int(timeout_s * 1000))
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

        self._lock = threading.Lock()  # guards the queues and counters
        self._send_lock = threading.Lock()  # one sender at a time (the thread or flush())
        self._mem: deque[str] = deque()
        self._inflight: list[str] = []  # taken from the head of _mem, being sent; oldest of all
        self._segments: deque[_Segment] = deque()
        self._head_seq = self._tail_seq = _SEQ0
        self._accepted = self._sent = self._spilled = self._dropped = self._rejected = 0
        self._store_up = True
        self._last_error = ""
        self._closed = False
        self._wake = threading.Event()
        self._stop = threading.Event()

        self.spill_dir = Path(spill_dir) if spill_dir is not None else None
        self._lock_fd: IO[bytes] | None = None
        if self.spill_dir is not None:
            self._open_spill_dir(self.spill_dir)

        self._thread = threading.Thread(target=self._run, name="govnet-tsdb-writer", daemon=True)
        self._thread.start()

    # public --------------------------------------------------------------------------------------
    def write(self, points: Point | Iterable[Point]) -> None:
        """Validate and queue one point or many (all validated before any is queued)."""
        batch = [points] if isinstance(points, Point) else list(points)
        lines = [validate(p).line() for p in batch]
        if self._closed:
            raise TsdbError("writer is closed")
        with self._lock:
            self._accepted += len(lines)
            self._mem.extend(lines)
            self._enforce_memory_bound()
            full = len(self._mem) >= self.batch_points
        if full:
            self._wake.set()

    def flush(self) -> bool:
        """Send everything queued now; True if nothing is left (False: the store is down)."""
        with self._send_lock:
            return self._drain()

    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                accepted=self._accepted,
                sent=self._sent,
                in_memory=len(self._mem) + len(self._inflight),
                on_disk=sum(s.lines for s in self._segments),
                spilled=self._spilled,
                dropped=self._dropped,
                rejected=self._rejected,
                store_up=self._store_up,
                last_error=self._last_error,
            )

    def close(self) -> WriterStats:
        """Stop the thread and flush; what the store did not take is spilled to disk (if a spill dir)."""
        if self._closed:
            return self.stats()
        self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        with self._lock:
            # After a failed flush nothing is in flight; memory holds the newest points.
            while self.spill_dir is not None and self._mem:
                n = min(self.batch_points, len(self._mem))
                self._spill_back([self._mem.popleft() for _ in range(n)])
        self._client.close()  # type: ignore[no-untyped-call]
        if self._lock_fd is not None:
            self._lock_fd.close()
        st = self.stats()
        if st.pending or st.dropped:
            log.warning(
                "writer closed with %d point(s) unsent (%d kept on disk in %s), %d dropped",
                st.pending,
                st.on_disk,
                self.spill_dir,
                st.dropped,
            )
        return st

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # background ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._send_lock:
                self._drain()

    def _drain(self) -> bool:
        """Send oldest first until empty or a send fails. Caller holds _send_lock."""
        while True:
            with self._lock:
                seg = self._segments[0] if self._segments else None
                if seg is None:
                    if not self._mem:
                        return True
                    n = min(self.batch_points, len(self._mem))
                    self._inflight = [self._mem.popleft() for _ in range(n)]
                    body = "\n".join(self._inflight)
            if seg is not None:
                try:
                    body = seg.path.read_text()
                except OSError as exc:
                    with self._lock:
                        self._last_error = f"spill segment unreadable: {exc}"
                        self._dropped += seg.lines
                        self._segments.popleft()
                    continue
            outcome = self._send(body)
            with self._lock:
                if outcome == "retry":
                    if seg is None:
                        self._put_back_inflight()
                    return False
                count = seg.lines if seg is not None else len(self._inflight)
                if outcome == "ok":
                    self._sent += count
                else:
                    self._rejected += count
                if seg is not None:
                    self._segments.popleft()
                    seg.path.unlink(missing_ok=True)
                else:
                    self._inflight = []

    def _send(self, body: str) -> str:
        """'ok', 'retry' (store unreachable or busy) or 'rejected' (the store refused the data)."""
        try:
            self._write_api.write(bucket=self._bucket, org=self._org, record=body)
        except ApiException as exc:
            status = int(exc.status or 0)
            if 400 <= status < 500 and status not in (408, 429):
                with self._lock:
                    self._last_error = f"store refused a batch: HTTP {status}: {exc.body!r:.200}"
                log.error("%s", self._last_error)
                return "rejected"
            return self._down(f"HTTP {status}")
        except Exception as exc:  # urllib3 connection errors, timeouts
            return self._down(f"{type(exc).__name__}: {exc}")
        with self._lock:
            if not self._store_up:
                log.warning("metrics store at %s answers again; sending buffered points", self.url)
            self._store_up = True
        return "ok"

    def _down(self, reason: str) -> str:
        with self._lock:
            if self._store_up:
                log.warning("metrics store at %s does not answer (%s); buffering points", self.url, reason)
            self._store_up = False
            self._last_error = reason
        return "retry"

    # buffering (all called with _lock held) ------------------------------------------------------
    def _put_back_inflight(self) -> None:
        """A failed batch goes back in front of everything else, keeping the global order."""
        lines, self._inflight = self._inflight, []
        if self._segments:
            self._spill_front(lines)
        else:
            self._mem.extendleft(reversed(lines))
            self._enforce_memory_bound()

    def _enforce_memory_bound(self) -> None:
        while len(self._mem) + len(self._inflight) > self.memory_points and self._mem:
            n = min(self.batch_points, len(self._mem))
            chunk = [self._mem.popleft() for _ in range(n)]
            if self.spill_dir is None:
                self._drop(chunk, "memory full and no spill directory")
            else:
                self._spill_back(chunk)

    def _drop(self, lines: list[str], why: str) -> None:
        if not self._dropped:
            log.error("metrics writer dropping points: %s", why)
        self._dropped += len(lines)
        self._last_error = f"dropped points: {why}"

    def _disk_used(self) -> int:
        return sum(s.size for s in self._segments)

    def _spill_back(self, lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode()
        if self._disk_used() + len(data) > self.disk_bytes:
            self._drop(
                lines, f"spill directory {self.spill_dir} reached its bound of {self.disk_bytes} bytes"
            )
            return
        self._tail_seq += 1
        self._write_segment(self._tail_seq, lines, data, front=False)

    def _spill_front(self, lines: list[str]) -> None:
        # Points that were already accepted and in flight are kept even past the disk bound.
        data = ("\n".join(lines) + "\n").encode()
        self._head_seq -= 1
        self._write_segment(self._head_seq, lines, data, front=True)

    def _write_segment(self, seq: int, lines: list[str], data: bytes, *, front: bool) -> None:
        assert self.spill_dir is not None
        path = self.spill_dir / f"spill-{seq:016d}.lp"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            self._drop(lines, f"cannot write spill file {path}: {exc}")
            return
        seg = _Segment(path, len(lines), len(data))
        if front:
            self._segments.appendleft(seg)
        else:
            self._segments.append(seg)
        self._spilled += len(lines)

    def _open_spill_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        fd = open(path / ".lock", "wb")  # noqa: SIM115 - held open for the writer's lifetime
        try:
            fcntl.flock(fd.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fd.close()
            raise TsdbError(f"spill directory {path} is in use by another metrics writer") from None
        self._lock_fd = fd
        for tmp in path.glob("spill-*.tmp"):
            tmp.unlink(missing_ok=True)
        for f in sorted(path.glob("spill-*.lp")):
            with contextlib.suppress(OSError, ValueError):
                seq = int(f.stem.split("-", 1)[1])
                data = f.read_bytes()
                self._segments.append(_Segment(f, data.count(b"\n"), len(data)))
                self._tail_seq = seq
        if self._segments:
            self._head_seq = int(self._segments[0].path.stem.split("-", 1)[1])
            left = sum(s.lines for s in self._segments)
            log.info("metrics writer: %d point(s) left over in %s are sent first", left, path)
            self._wake.set()
