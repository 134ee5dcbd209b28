"""The metrics store: a managed local VictoriaMetrics, or any store named by GOVNET_TSDB_URL.

`Store` starts VictoriaMetrics as a background process with its data and pid file under
`var/tsdb/`, stops exactly that process, and reads through the Prometheus HTTP API
(`/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`, `/api/v1/export`). Points are written by
`govnet.tsdb_writer.Writer` (InfluxDB line protocol at `/api/v2/write`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from govnet.errors import TsdbError
from govnet.paths import var_dir
from govnet.supervise import Lifecycle, stop_process

ENV_URL = "GOVNET_TSDB_URL"
BINARY = "victoria-metrics"
DEFAULT_PORT = 8428
DEFAULT_RETENTION = "30d"
# VictoriaMetrics flushes its in-memory parts to disk when told to stop; killing it sooner than this
# loses the last points written (longer than govnet.supervise.STOP_TIMEOUT_S for that reason).
DOWN_TIMEOUT_S = 15.0
# Points younger than this are hidden from queries; VictoriaMetrics' default (30 s) would hide a lab's
# last half minute.
LATENCY_OFFSET = "1s"


def default_dir() -> Path:
    """Where the managed store keeps its data, pid file, URL file and log: var/tsdb/."""
    return var_dir() / "tsdb"


class Store(Lifecycle):
    """One metrics store: managed (started here, data under `data_dir`) unless `url` is given.

    `url=None` reads GOVNET_TSDB_URL; if that is unset too, the store is managed. `up()` and `down()`
    only act on a managed store; an external one is only checked. `with Store() as s:` brings it up
    and, leaving, stops it only if this `with` started it (a store that was running stays running).
    """

    def __init__(
        self,
        url: str | None = None,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        retention: str = DEFAULT_RETENTION,
        binary: str = BINARY,
    ) -> None:
        url = url if url is not None else (os.environ.get(ENV_URL) or None)
        self.external = url is not None
        self._url = url.rstrip("/") if url else None
        self.dir = (Path(data_dir) if data_dir is not None else default_dir()).absolute()
        self.port = port
        self.retention = retention
        self.binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_here = False

    # files ---------------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.dir / "victoria-metrics.pid"

    @property
    def url_file(self) -> Path:
        return self.dir / "url"

    @property
    def log_file(self) -> Path:
        return self.dir / "victoria-metrics.log"

    @property
    def data_path(self) -> Path:
        return self.dir / "data"

    @property
    def url(self) -> str:
        """The base URL in use: the external one, the running managed one, or the default."""
        if self._url is not None:
            return self._url
        with contextlib.suppress(OSError):
            text = self.url_file.read_text().strip()
            if text and self.pid() is not None:
                return text
        return f"http://127.0.0.1:{self.port or DEFAULT_PORT}"

    def describe(self) -> str:
        """One line: where the store is and who runs it."""
        if self.external:
            return f"{self.url} (from {ENV_URL})"
        pid = self.pid()
        if pid is None:
            return f"{self.url} (managed, not running, data {self.data_path})"
        retention = _flag(pid, "-retentionPeriod") or self.retention
        return f"{self.url} (managed, pid {pid}, data {self.data_path}, retention {retention})"

    # process management --------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of the running managed VictoriaMetrics (from the pid file, verified), else None."""
        if self.external:
            return None
        if self._proc is not None:
            self._proc.poll()  # reap our own child if it died, so it is not seen as alive
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_process(pid, self.data_path) else None

    def up(self, timeout_s: float = 30.0) -> bool:
        """Start the managed store and wait until /health answers; False if it was already running.

        For an external store this only checks that it answers (TsdbError otherwise).
        """
        if self.external:
            self.check()
            return False
        if self.pid() is not None:
            self._wait_healthy(timeout_s, None)
            return False
        exe = shutil.which(self.binary)
        if exe is None:
            raise TsdbError(
                f"{self.binary} not found on PATH; install the Debian package 'victoria-metrics' "
                f"(scripts/setup.sh does) or set {ENV_URL} to a running store"
            )
        port = self.port if self.port is not None else _pick_port(DEFAULT_PORT)
        if not _port_free(port):
            raise TsdbError(f"port {port} on 127.0.0.1 is in use; choose another with --port")
        self.dir.mkdir(parents=True, exist_ok=True)
        url = f"http://127.0.0.1:{port}"
        args = [
            exe,
            f"-storageDataPath={self.data_path}",
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-retentionPeriod={self.retention}",
            f"-search.latencyOffset={LATENCY_OFFSET}",
            "-http.maxGracefulShutdownDuration=1s",
        ]
        with open(self.log_file, "wb") as log:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        self.url_file.write_text(url + "\n")
        self._started_here = True
        try:
            self._wait_healthy(timeout_s, self._proc)
        except BaseException:
            self.down()
            raise
        return True

    def down(self, timeout_s: float = DOWN_TIMEOUT_S) -> bool:
        """Stop exactly the process in the pid file (SIGTERM, then SIGKILL); False if none was running.

        Usually that process is no child of ours (an earlier `govnet tsdb up` started it), so it is
        signalled by pid and watched until it is gone; one we started is stopped as a child."""
        if self.external:
            return False
        pid = self.pid()
        if pid is None:
            self._forget()
            return False
        if self._proc is not None and self._proc.pid == pid:
            stop_process(self._proc, timeout_s)
            self._forget()
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 5.0)
        self._forget()
        return True

    def _forget(self) -> None:
        for f in (self.pid_file, self.url_file):
            f.unlink(missing_ok=True)
        self._proc = None
        self._started_here = False

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _is_our_process(pid, self.data_path):
                return True
            time.sleep(0.05)
        return False

    def _wait_healthy(self, timeout_s: float, proc: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise TsdbError(
                    f"{self.binary} exited with code {proc.returncode} at start: {_tail(self.log_file)}"
                )
            if self.healthy():
                return
            time.sleep(0.05)
        raise TsdbError(f"metrics store at {self.url} did not answer /health within {timeout_s:g} s")

    def start(self) -> None:
        self.up()

    def stop(self) -> None:
        if self._started_here:
            self.down()

    # HTTP ----------------------------------------------------------------------------------------
    def healthy(self, timeout_s: float = 1.0) -> bool:
        """True if the store answers /health with OK."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=timeout_s) as r:
                return bool(r.status == 200)
        except (OSError, ValueError):
            return False

    def check(self, timeout_s: float = 2.0) -> None:
        """Raise TsdbError (one line: URL and reason) unless the store answers /health."""
        if not self.external and self.pid() is None:
            # another store may answer on the default port, but it is not this one (other data dir)
            raise TsdbError(
                f"the managed metrics store (data {self.data_path}) is not running; "
                "start it with 'govnet tsdb up' or set " + ENV_URL
            )
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=timeout_s) as r:
                if r.status == 200:
                    return
                reason = f"HTTP {r.status}"
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            reason = _reason(exc)
        except (OSError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
        hint = f"check {ENV_URL}" if self.external else "start it with 'govnet tsdb up'"
        raise TsdbError(f"metrics store at {self.url} does not answer ({reason}); {hint}")

    def _get(self, path: str, params: list[tuple[str, str]], timeout_s: float = 30.0) -> bytes:
        body = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(
            self.url + path,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                data: bytes = r.read()
                return data
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError):
                detail = json.loads(detail).get("error", detail)
            raise TsdbError(
                f"metrics store at {self.url} refused {path}: HTTP {exc.code}: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = _reason(exc)
            raise TsdbError(f"metrics store at {self.url} does not answer ({reason})") from None

    def _api(self, path: str, params: list[tuple[str, str]]) -> Any:
        doc = json.loads(self._get(path, params))
        if doc.get("status") != "success":
            raise TsdbError(f"metrics store at {self.url}: {path} failed: {doc.get('error', doc)}")
        return doc["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant PromQL query: the result vector, each item {'metric': {...}, 'value': [t, 'v']}."""
        params = [("query", promql)]
        if at is not None:
            params.append(("time", f"{at:.3f}"))
        data = self._api("/api/v1/query", params)
        result = data["result"]
        if data.get("resultType") == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> list[dict[str, Any]]:
        """A range PromQL query: one item per series, {'metric': {...}, 'values': [[t, 'v'], ...]}."""
        params = [
            ("query", promql),
            ("start", f"{start:.3f}"),
            ("end", f"{end:.3f}"),
            ("step", f"{step_s:g}s"),
        ]
        return list(self._api("/api/v1/query_range", params)["result"])

    def series(
        self, match: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, str]]:
        """Label sets of the series matching a selector, e.g. `{__name__=~"iface_.*"}`."""
        return list(self._api("/api/v1/series", _match_params(match, start, end)))

    def export(
        self, match: str, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        """The raw samples of matching series: [{'metric': {...}, 'values': [...], 'timestamps': [ms]}]."""
        raw = self._get("/api/v1/export", _match_params(match, start, end))
        return [json.loads(line) for line in raw.splitlines() if line.strip()]

    def series_count(self) -> int:
        """How many series the store holds."""
        data = self._api("/api/v1/series/count", [])
        return int(data[0]) if isinstance(data, list) else int(data)

    def force_flush(self) -> None:
        """Make recently written points searchable (and persisted) now, not in about a second."""
        self._get("/internal/force_flush", [])


def _reason(exc: OSError) -> str:
    """'connection refused' rather than '<urlopen error [Errno 111] Connection refused>'."""
    inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror.lower()
    return str(inner) or type(inner).__name__


def _match_params(match: str, start: float | None, end: float | None) -> list[tuple[str, str]]:
    params = [("match[]", match)]
    if start is not None:
        params.append(("start", f"{start:.3f}"))
    if end is not None:
        params.append(("end", f"{end:.3f}"))
    return params


def _is_our_process(pid: int, data_path: Path) -> bool:
    """True if pid is a live VictoriaMetrics serving data_path (guards against a recycled pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not argv or not argv[0]:
        return False  # exited (zombie) or kernel thread
    return BINARY in Path(argv[0].decode(errors="replace")).name and (
        f"-storageDataPath={data_path}".encode() in argv
    )


def _flag(pid: int, name: str) -> str | None:
    """The value of `-name=value` on a process's command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    for arg in argv:
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int) -> int:
    """The preferred port if it is free, else any free port on 127.0.0.1."""
    if _port_free(preferred):
        return preferred
    return free_port()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
