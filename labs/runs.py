"""Run management: the run record (`run.json`) every lab run writes at its start and rewrites at its end,
and reading run directories back: list them, find one by id, show one, compare two, prune old ones.

A record still saying `running` whose process is gone is a run that crashed (or was SIGKILLed).
Directories from before records existed, and `topo up` runs, are read from their `results.json` (or
the old short `run.json`) when they have one, otherwise listed as `unknown`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet.errors import UsageError
from govnet.paths import project_root, runs_dir
from govnet.rundir import is_run_name, run_stamp
from govnet.secure import write_atomic

RECORD_VERSION = 1
RECORD = "run.json"
RESULTS = "results.json"
KEEP_FIX = "--keep {keep}: keep at least 1 run (to remove every run, delete the folder yourself)"
VERDICTS = ("running", "passed", "failed", "interrupted")  # what a record says; + crashed, unknown when read


# the facts of a run -------------------------------------------------------------------------------
def _run(cmd: list[str], timeout: float = 3.0) -> str | None:
    """stdout of a quick command, or None when it is missing, fails or hangs."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: Path | None = None) -> tuple[str, bool | None]:
    """(short commit hash, dirty) of the checkout at `root`; ("-", None) when it is not a git checkout
    (or git is missing). Dirty means tracked files differ from the commit. Never raises."""
    top = str(root or project_root())
    base = ["git", "-c", f"safe.directory={top}", "-C", top]  # `sudo` runs read the user's checkout
    head = _run([*base, "rev-parse", "--short", "HEAD"])
    if not head or not head.strip():
        return "-", None
    status = _run([*base, "status", "--porcelain", "--untracked-files=no"])
    return head.strip(), (bool(status.strip()) if status is not None else None)


_VERSION = re.compile(r"\d+(?:\.\d+)+")


@functools.lru_cache(maxsize=1)
def tool_versions() -> dict[str, str]:
    """Versions of the tools a lab drives, where asking is cheap (once per process); missing tools
    are left out."""
    out: dict[str, str] = {}
    try:
        from importlib.metadata import PackageNotFoundError, version

        with contextlib.suppress(PackageNotFoundError):
            out["mininet"] = version("mininet")
    except ImportError:  # pragma: no cover - stdlib
        pass
    for tool, cmd in (("nft", ["nft", "--version"]), ("frr", ["/usr/lib/frr/zebra", "--version"])):
        text = _run(cmd, timeout=2.0)
        m = _VERSION.search(text or "")
        if m:
            out[tool] = m.group(0)
    return out


def process_start(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks after boot, from /proc), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name in () may hold spaces
    except (IndexError, ValueError):
        return None


def pid_alive(pid: object, start: object) -> bool:
    """Whether the process that wrote a record still runs (same pid and, when known, same start time)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    now = process_start(pid)
    if now is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc: the pid alone
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    return not isinstance(start, int) or start == now


def find_seed(scenario: object) -> int | None:
    """The scenario's seed: a top-level `seed`, else the first `seed` inside one of its sections."""
    queue: list[tuple[object, int]] = [(scenario, 0)]
    while queue:
        node, depth = queue.pop(0)
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            node = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
        if not isinstance(node, Mapping):
            continue
        seed = node.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            return seed
        if depth < 3:
            queue += [(v, depth + 1) for v in node.values()]
    return None


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def new_record(run: Path, scenario: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The record of a run starting now in `run` (verdict `running`)."""
    from govnet import __version__

    commit, dirty = git_commit()
    now = time.time()
    pid = os.getpid()
    return {
        "schema_version": RECORD_VERSION,
        "id": run.name,
        "scenario": str(scenario.get("name", "")),
        "model": model,
        "seed": find_seed(scenario),
        "start": _iso(now),
        "start_epoch": round(now, 3),
        "end": None,
        "end_epoch": None,
        "duration_s": None,
        "verdict": "running",
        "exit_code": None,
        "pid": pid,
        "pid_start": process_start(pid),
        "commit": commit,
        "dirty": dirty,
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "govnet": __version__,
        "tools": tool_versions(),
    }


def write_record(run: Path, record: Mapping[str, Any]) -> Path:
    """Write `run/run.json` atomically (a reader never sees half a record)."""
    return write_atomic(run / RECORD, (json.dumps(record, indent=1) + "\n").encode())


_CURRENT: list[tuple[Path, dict[str, Any]]] = []  # this process's unfinished run, for end_current()


def begin_run(run: Path, scenario: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Write the record of a run starting now (verdict `running`); returns it for end_run()."""
    record = new_record(run, scenario, model)
    write_record(run, record)
    _CURRENT[:] = [(run, record)]
    return record


def end_run(run: Path, record: dict[str, Any], verdict: str, exit_code: int) -> dict[str, Any]:
    """Rewrite the record with its end, duration, verdict (passed, failed, interrupted) and exit code."""
    now = time.time()
    start = record.get("start_epoch")
    record.update(
        end=_iso(now),
        end_epoch=round(now, 3),
        duration_s=round(now - start, 3) if isinstance(start, (int, float)) else None,
        verdict=verdict,
        exit_code=exit_code,
    )
    write_record(run, record)
    _CURRENT[:] = [c for c in _CURRENT if c[0] != run]
    return record


def end_current(verdict: str, exit_code: int) -> None:
    """End this process's unfinished run, if there is one (the CLI calls it when a run is interrupted
    or fails with an exception: run_lab did not get to end_run). Never raises."""
    for run, record in list(_CURRENT):
        try:
            end_run(run, record, verdict, exit_code)
        except OSError:
            _CURRENT.clear()


# reading runs back -----------------------------------------------------------------------------------
def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def dir_size(path: Path) -> int:
    """Bytes `path` takes on disk, like du: allocated blocks, hard links counted once, no symlinks
    followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
    return total


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass
class RunInfo:
    """One run directory as read back: its record (or what could be recovered) and its results."""

    id: str
    path: Path
    record: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None
    source: str = "none"  # record | old-record | results | none
    size: int = 0

    # what a user sees --------------------------------------------------------------------------------
    @property
    def scenario(self) -> str:
        s = self.record.get("scenario") or self.record.get("name")
        if not s and self.results:
            sc = self.results.get("scenario")
            s = sc.get("name") if isinstance(sc, dict) else sc
        if not s:
            m = re.match(r"^\d{8}-\d{6}-(.+)$", self.id)
            s = m.group(1) if m else ""
        return str(s or "-")

    @property
    def model(self) -> str:
        m = self.record.get("model") or (self.results or {}).get("model")
        return str(m) if m else "-"

    @property
    def seed(self) -> int | None:
        s = self.record.get("seed")
        if isinstance(s, int) and not isinstance(s, bool):
            return s
        return find_seed((self.results or {}).get("scenario")) if self.results else None

    @property
    def start_epoch(self) -> float | None:
        s = _num(self.record.get("start_epoch"))
        if s is None and isinstance(self.record.get("started"), str):  # the old short record
            try:
                import calendar

                s = float(calendar.timegm(time.strptime(self.record["started"], "%Y-%m-%dT%H:%M:%SZ")))
            except ValueError:
                s = None
        return s if s is not None else run_stamp(self.id)

    @property
    def duration_s(self) -> float | None:
        d = _num(self.record.get("duration_s"))
        if d is None and self.results:
            d = _num(self.results.get("total_s"))
        return d

    @property
    def verdict(self) -> str:
        """passed, failed, interrupted, running, crashed (a record left `running` by a process that is
        gone) or unknown."""
        v = self.record.get("verdict") if self.source == "record" else None
        if v == "running":
            same_host = self.record.get("host") in (None, socket.gethostname())
            if not same_host or pid_alive(self.record.get("pid"), self.record.get("pid_start")):
                return "running"
            return "crashed"
        if v in VERDICTS:
            return str(v)
        if self.results and isinstance(self.results.get("ok"), bool):
            return "passed" if self.results["ok"] else "failed"
        return "unknown"

    @property
    def exit_code(self) -> int | None:
        e = self.record.get("exit_code")
        return e if isinstance(e, int) and not isinstance(e, bool) else None

    @property
    def commit(self) -> str:
        c = self.record.get("commit")
        if not isinstance(c, str) or not c:
            return "-"
        return f"{c}-dirty" if self.record.get("dirty") is True and c != "-" else c

    @property
    def host(self) -> str:
        return str(self.record.get("host") or "-")

    @property
    def live(self) -> bool:
        return self.verdict == "running"

    def to_json(self) -> dict[str, Any]:
        start = self.start_epoch
        return {
            "id": self.id,
            "path": str(self.path),
            "scenario": self.scenario,
            "model": self.model if self.model != "-" else None,
            "seed": self.seed,
            "start": _iso(start) if start is not None else None,
            "start_epoch": start,
            "end": self.record.get("end"),
            "duration_s": self.duration_s,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "commit": self.record.get("commit") if self.commit != "-" else None,
            "dirty": self.record.get("dirty") if self.commit != "-" else None,
            "host": self.record.get("host"),
            "size_bytes": self.size,
            "source": self.source,
        }


def read_run(path: Path, size: bool = True) -> RunInfo:
    """What can be read of the run directory `path` (never raises on a damaged one)."""
    info = RunInfo(path.name, path)
    rec = _load_json(path / RECORD)
    if rec is not None:
        info.record = rec
        info.source = "record" if isinstance(rec.get("schema_version"), int) else "old-record"
    info.results = _load_json(path / RESULTS)
    if info.source == "none" and info.results is not None:
        info.source = "results"
    if size:
        info.size = dir_size(path)
    return info


def looks_like_run(path: Path) -> bool:
    """A directory govnet made: a run directory's name, not a symlink, with run.json or results.json."""
    if path.is_symlink() or not path.is_dir() or not is_run_name(path.name):
        return False
    return any((path / f).is_file() and not (path / f).is_symlink() for f in (RECORD, RESULTS))


def _order(info: RunInfo) -> tuple[float, float, str]:
    return (run_stamp(info.id) or 0.0, info.start_epoch or 0.0, info.id)


def list_runs(base: Path | None = None, size: bool = True) -> list[RunInfo]:
    """Every run directory under `base` (default: the runs folder), newest first. Directories whose
    names are not run names are not runs and are left out."""
    root = base or runs_dir()
    try:
        entries = [p for p in root.iterdir() if is_run_name(p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    return sorted((read_run(p, size) for p in entries), key=_order, reverse=True)


def _fix_ids(base: Path) -> str:
    return f"'govnet lab runs' lists the runs in {base}"


def find_run(ref: str, runs: list[RunInfo], base: Path | None = None) -> RunInfo | None:
    """The run `ref` names: `latest`, an id, a unique prefix of one, or a run directory's path; None when
    nothing matches. An ambiguous prefix is a UsageError naming the candidates."""
    root = base or runs_dir()
    if ref == "latest":
        if not runs:
            raise UsageError(f"no runs in {root}; run a lab first (sudo govnet lab run smoke)")
        return runs[0]
    for r in runs:
        if r.id == ref:
            return r
    p = Path(ref)
    if ("/" in ref or ref in (".", "..")) and p.is_dir():
        if (p / RECORD).is_file() or (p / RESULTS).is_file():
            return read_run(p)
        raise UsageError(f"{ref}: not a run directory (no run.json or results.json); {_fix_ids(root)}")
    hits = [r for r in runs if r.id.startswith(ref)] if ref else []
    if len(hits) > 1:
        shown = ", ".join(r.id for r in hits[:4]) + (f" and {len(hits) - 4} more" if len(hits) > 4 else "")
        raise UsageError(
            f"run id '{ref}' is ambiguous: {len(hits)} runs start with it ({shown}); give more of the id"
        )
    return hits[0] if hits else None


def get_run(ref: str, base: Path | None = None) -> RunInfo:
    """find_run() over the runs folder, with a UsageError when nothing matches."""
    root = base or runs_dir()
    info = find_run(ref, list_runs(root, size=False), root)
    if info is None:
        raise UsageError(f"no run '{ref}' in {root}; {_fix_ids(root)} (an id, a unique prefix or 'latest')")
    info.size = dir_size(info.path)
    return info


# text ----------------------------------------------------------------------------------------------
def fmt_mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def fmt_duration(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 100:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_local(epoch: float | None, seconds: bool = False) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.localtime(epoch))


def cell(v: object) -> str:
    """A value as a user reads it: no reprs, no None, no braces."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, Mapping):
        return ", ".join(f"{k} {cell(x)}" for k, x in v.items()) or "-"
    if isinstance(v, (list, tuple)):
        return ", ".join(cell(x) for x in v) or "-"
    return " ".join(str(v).split()) or "-"


def table(headers: list[str], rows: Iterable[list[str]], indent: str = "") -> list[str]:
    body = [list(r) for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]
    line = lambda cells: (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))).rstrip()  # noqa: E731
    return [line(headers), *(line(r) for r in body)]


def runs_table(runs: list[RunInfo]) -> list[str]:
    rows = [
        [
            r.id,
            r.scenario,
            fmt_local(r.start_epoch),
            fmt_duration(r.duration_s),
            r.verdict,
            r.commit,
            r.host,
            fmt_mb(r.size),
        ]
        for r in runs
    ]
    return table(["id", "scenario", "start", "duration", "verdict", "commit", "host", "size"], rows)


def _ok_word(v: object, yes: str = "met") -> str:
    if v is True:
        return yes
    if v is False:
        return "FAILED"
    return cell(v)


TIMELINE_FIELDS = ("at", "planned", "executed", "action", "ok")
EXPECTATION_FIELDS = ("name", "expected", "measured", "ok")


def _records_table(items: object, fields: tuple[str, ...], yes: str) -> list[str]:
    rows = [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []
    if not rows:
        return ["  (none)"]
    known = [f for f in fields if any(f in r for r in rows)]
    extra = sorted({k for r in rows for k in r if k not in fields and isinstance(r[k], (str, int, float))})
    cols = known + extra
    body = [[(_ok_word(r.get(c), yes) if c == "ok" else cell(r.get(c))) for c in cols] for r in rows]
    return table(cols, body, indent="  ")


def why_lines(info: RunInfo) -> list[str]:
    """Why a run ended as it did, one line each (empty for a run that passed)."""
    v = info.verdict
    out: list[str] = []
    if v == "crashed":
        pid = info.record.get("pid")
        out.append(
            f"the run never wrote its end: process {cell(pid)} is gone (crashed or killed); "
            "'sudo govnet clean' removes what it left behind"
        )
    elif v == "interrupted":
        out.append("interrupted (Ctrl-C or a signal) before it finished")
    elif v == "running":
        pid = cell(info.record.get("pid"))
        if info.record.get("host") in (None, socket.gethostname()):
            out.append(f"still running (process {pid})")
        else:
            out.append(f"running on {info.host} (process {pid}), another host: this one cannot check it")
    elif v == "unknown":
        out.append("no run.json or results.json: nothing says how this run ended")
    res = info.results or {}
    err = res.get("error")
    if err and isinstance(err, str):
        out.append(err)
    parts = res.get("parts")
    if isinstance(parts, Mapping):
        for k, p in parts.items():
            if isinstance(p, Mapping) and p.get("ok") is False:
                reasons = p.get("reasons")
                if not isinstance(reasons, list) or not reasons:
                    out.append(f"{k}: failed")
                    continue
                out += [f"{k}: {cell(r)}" for r in reasons if cell(r) != err]
    exp = res.get("expectations")
    for e in exp if isinstance(exp, list) else []:
        if isinstance(e, Mapping) and e.get("ok") is False:
            out.append(
                f"expectation {cell(e.get('name'))}: expected {cell(e.get('expected'))}, "
                f"measured {cell(e.get('measured'))}"
            )
    return out


def show_run(info: RunInfo) -> list[str]:
    """The lines of `govnet lab show RUN`."""
    r = info.record
    seed = info.seed
    lines = [f"run {info.id}"]
    lines.append(f"  scenario   {info.scenario} (model {info.model}, seed {cell(seed)})")
    code = info.exit_code
    lines.append(f"  verdict    {info.verdict}" + (f" (exit {code})" if code is not None else ""))
    start = info.start_epoch
    end = _num(r.get("end_epoch"))
    lines.append(
        f"  start      {fmt_local(start, seconds=True)}, end {fmt_local(end, seconds=True)}, "
        f"duration {fmt_duration(info.duration_s)}"
    )
    lines.append(f"  commit     {info.commit}")
    facts = [f"{k} {r[k]}" for k in ("python", "kernel", "govnet") if r.get(k)]
    lines.append(f"  host       {info.host}" + (f"; {', '.join(facts)}" if facts else ""))
    tools = r.get("tools")
    if isinstance(tools, Mapping) and tools:
        lines.append(f"  tools      {cell(tools)}")
    lines.append(f"  directory  {info.path} ({fmt_mb(info.size)})")
    why = why_lines(info)
    if why:
        lines += ["", "why:", *(f"  {w}" for w in why)]
    res = info.results or {}
    parts = res.get("parts")
    if isinstance(parts, Mapping) and parts:
        rows = []
        for k, p in parts.items():
            p = p if isinstance(p, Mapping) else {}
            ok = p.get("ok")
            rows.append(
                [str(k), cell(p.get("state")), "ok" if ok is True else "failed" if ok is False else "-"]
            )
        lines += ["", "parts:", *table(["part", "state", "verdict"], rows, indent="  ")]
    if "timeline" in res:
        lines += ["", "timeline:", *_records_table(res.get("timeline"), TIMELINE_FIELDS, "ok")]
    if "expectations" in res:
        lines += ["", "expectations:", *_records_table(res.get("expectations"), EXPECTATION_FIELDS, "met")]
    if info.source == "none":
        lines += ["", f"(no run.json or results.json in {info.path})"]
    return lines


# scenarios, in words ----------------------------------------------------------------------------------
def _words(item: object, lead: tuple[str, ...]) -> str:
    if not isinstance(item, Mapping):
        return cell(item)
    head = []
    at = item.get("at")
    if "at" in lead and at is not None:
        head.append(
            f"at {at:g} s:"
            if isinstance(at, (int, float)) and not isinstance(at, bool)
            else f"at {cell(at)}:"
        )
    for k in lead:
        if k != "at" and item.get(k) is not None:
            head.append(cell(item[k]) + (":" if k == "name" else ""))
    rest = [f"{k} {cell(v)}" for k, v in item.items() if k not in lead and v is not None]
    return " ".join(head + ([", ".join(rest)] if rest else []))


def show_scenario(ref: str) -> list[str]:
    """The lines of `govnet lab show SCENARIO`: description, model, the parts it enables, its timeline
    and expectations in words."""
    from labs.parts import PARTS
    from labs.scenario import load_scenario, scenario_path
    from topology import load_model

    scenario = load_scenario(ref)
    path = scenario_path(ref)
    lines = [f"scenario {scenario['name']} ({path})"]
    if scenario.get("description"):
        lines.append(f"  {scenario['description']}")
    lines.append(f"  model      {scenario['model']}")
    net = load_model(scenario["model"])
    parts = [k for k, cls in PARTS.items() if cls.wanted(scenario, net)]
    lines.append(f"  parts      {', '.join(parts) or '-'}")
    seed = find_seed(scenario)
    lines.append(f"  seed       {cell(seed)}")
    for key, lead in (("timeline", ("at", "action", "part")), ("expectations", ("name",))):
        items = scenario.get(key)
        if items:
            lines += ["", f"{key}:"]
            if isinstance(items, list):
                lines += [f"  - {_words(i, lead)}" for i in items]
            else:
                lines.append(f"  {_words(items, lead)}")
    return lines


# comparing two runs -----------------------------------------------------------------------------------
def flatten(data: object, prefix: str = "") -> dict[str, float]:
    """The numeric leaves of `data` as dotted keys (list items by index); booleans are not figures."""
    out: dict[str, float] = {}
    if isinstance(data, Mapping):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
    else:
        n = _num(data)
        if n is not None and prefix:
            out[prefix] = n
    return out


def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    d = b - a
    if d == 0:
        return "="
    pct = f" ({d / abs(a) * 100:+.1f} %)" if a else ""
    return f"{d:+.6g}{pct}"


def diff_runs(a: RunInfo, b: RunInfo, everything: bool = False) -> list[str]:
    """The lines of `govnet lab diff A B`: rows marked * differ."""
    rows: list[list[str]] = []

    def row(what: str, x: str, y: str, change: str = "") -> None:
        rows.append(["*" if x != y else "", what, x, y, change])

    row("scenario", a.scenario, b.scenario)
    row("verdict", a.verdict, b.verdict)
    row(
        "duration",
        fmt_duration(a.duration_s),
        fmt_duration(b.duration_s),
        _change(a.duration_s, b.duration_s),
    )
    row("commit", a.commit, b.commit)
    row("host", a.host, b.host)
    row("seed", cell(a.seed), cell(b.seed))

    def parts(i: RunInfo) -> dict[str, str]:
        p = (i.results or {}).get("parts")
        if not isinstance(p, Mapping):
            return {}
        return {
            str(k): ("ok" if v.get("ok") is True else "failed" if v.get("ok") is False else "-")
            for k, v in p.items()
            if isinstance(v, Mapping)
        }

    pa, pb = parts(a), parts(b)
    for k in [*pa, *(k for k in pb if k not in pa)]:
        row(f"part {k}", pa.get(k, "-"), pb.get(k, "-"))

    def expectations(i: RunInfo) -> dict[str, Mapping[str, Any]]:
        items = (i.results or {}).get("expectations")
        if not isinstance(items, list):
            return {}
        return {cell(e.get("name")): e for e in items if isinstance(e, Mapping)}

    ea, eb = expectations(a), expectations(b)

    def measured(e: Mapping[str, Any] | None) -> str:
        if e is None:
            return "-"
        return f"{cell(e.get('measured'))} ({_ok_word(e.get('ok'))})"

    for k in [*ea, *(k for k in eb if k not in ea)]:
        x, y = ea.get(k), eb.get(k)
        change = _change(_num(x.get("measured")) if x else None, _num(y.get("measured")) if y else None)
        row(f"expectation {k}", measured(x), measured(y), change)

    def figures(i: RunInfo) -> dict[str, float]:
        res = i.results or {}
        return {**flatten(res.get("metrics")), **flatten(res.get("timings_s"), "timings")}

    fa, fb = figures(a), figures(b)
    keys = [*fa, *(k for k in fb if k not in fa)]
    shown = [k for k in keys if everything or fa.get(k) != fb.get(k)]
    head = ["", "", f"A {a.id}", f"B {b.id}", "change"]
    lines = table(head, rows)
    lines += [
        "",
        f"figures from results.json ({len(shown)} of {len(keys)} shown"
        + ("" if everything else ": those that differ; --all for every one")
        + ")",
    ]
    if shown:
        frows = [
            [
                "*" if fa.get(k) != fb.get(k) else "",
                k,
                cell(fa.get(k)),
                cell(fb.get(k)),
                _change(fa.get(k), fb.get(k)),
            ]
            for k in shown
        ]
        lines += table(head, frows)
    return lines


# pruning ---------------------------------------------------------------------------------------------
@dataclass
class Pruned:
    """What `prune` removed (or would remove), what it kept because it still runs, and what failed."""

    removed: list[RunInfo] = field(default_factory=list)
    running: list[RunInfo] = field(default_factory=list)
    kept: list[RunInfo] = field(default_factory=list)
    failed: list[tuple[RunInfo, str]] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(r.size for r in self.removed)


def prune(keep: int, dry_run: bool = False, base: Path | None = None) -> Pruned:
    """Remove all but the newest `keep` govnet runs under `base` (default: the runs folder). Only
    directories that look like runs (looks_like_run) are candidates; a run whose process still runs
    is never removed."""
    if keep < 1:
        raise UsageError(
            f"--keep {keep}: keep at least 1 run (to remove every run, delete the folder yourself)"
        )
    root = base or runs_dir()
    runs = [r for r in list_runs(root) if looks_like_run(r.path)]
    out = Pruned(kept=runs[:keep])
    for r in runs[keep:]:
        if r.live:
            out.running.append(r)
            continue
        if not dry_run:
            try:
                shutil.rmtree(r.path)
            except OSError as exc:
                out.failed.append((r, exc.strerror or str(exc)))
                continue
        out.removed.append(r)
    return out
