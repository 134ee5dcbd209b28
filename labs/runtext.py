"""Stored runs and scenarios as the text `govnet lab runs`, `lab show` and `lab diff` print: the runs
table, one run's facts and why it ended as it did, a scenario in words, two runs compared.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from labs.runrecord import find_seed
from labs.runs import RunInfo, num


# text ---------------------------------------------------------------------------------------------
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
    end = num(r.get("end_epoch"))
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


# scenarios, in words ------------------------------------------------------------------------------
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
        if k != "at" and item.get(k) not in (None, ""):
            head.append(cell(item[k]) + (":" if k == "name" else ""))
    rest = [f"{k} {cell(v)}" for k, v in item.items() if k not in lead and v not in (None, "", {})]
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


# comparing two runs -------------------------------------------------------------------------------
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
        n = num(data)
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
        change = _change(num(x.get("measured")) if x else None, num(y.get("measured")) if y else None)
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
