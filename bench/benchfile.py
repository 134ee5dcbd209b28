"""Write a benchmark's figures to bench/results/<name>.json and a short Markdown table beside it.

Every bench script prints its figures against its anchor; it also calls `write_results` at the end of
its main, so the docs can point at the files instead of quoting hand-typed numbers. The JSON holds the
command, the machine (cores, kernel, load average), the parameters and one row per figure; the
Markdown is the same as a table. `GOVNET_BENCH_RESULTS=DIR` writes them to DIR instead.
(Not bench/results.py: that name would sit beside the bench/results/ directory it writes.)
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
Value = float | int | str | None


@dataclass
class Figure:
    """One measured figure: govnet's value, the anchor's, and how they compare."""

    what: str
    govnet: Value
    anchor: Value = None
    unit: str = ""
    ratio: float | None = None
    ratio_is: str = ""  # how the ratio is formed, e.g. "anchor/govnet" (> 1: govnet is faster)
    note: str = ""


def _fmt(v: Value, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool | str):
        text = str(v)
    elif isinstance(v, int):
        text = f"{v:,}"
    elif v != v or v in (float("inf"), float("-inf")):
        text = str(v)
    elif abs(v) >= 100:
        text = f"{v:,.0f}"
    elif abs(v) >= 10:
        text = f"{v:.1f}"
    elif abs(v) >= 0.1:
        text = f"{v:.2f}"
    else:
        text = f"{v:.3g}"
    return f"{text} {unit}".rstrip()


def _clean(v: Any) -> Any:
    """JSON has no inf/nan: write them as strings."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def write_results(
    name: str,
    title: str,
    anchor: str,
    figures: list[Figure],
    params: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write <name>.json and <name>.md in bench/results/ (or $GOVNET_BENCH_RESULTS); return the JSON."""
    out = Path(os.environ.get("GOVNET_BENCH_RESULTS") or RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    script = "bench/" + Path(sys.argv[0]).name
    command = " ".join([".venv/bin/python", script, *sys.argv[1:]])
    machine = {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc = {
        "script": script,
        "title": title,
        "written_at": written,
        "command": command,
        "machine": machine,
        "params": params or {},
        "anchor": anchor,
        "figures": [asdict(f) for f in figures],
        "notes": notes or [],
        "extra": extra or {},
    }
    path = out / f"{name}.json"
    path.write_text(json.dumps(_clean(doc), indent=2, ensure_ascii=False) + "\n")
    lines = [
        f"# {script}: {title}",
        "",
        f"Written by `{command}` at {written} on {machine['cores']} cores (kernel {machine['kernel']}, "
        f"load average {machine['load_avg_1m']} when it finished). Anchor: {anchor}.",
        "",
        "| figure | govnet | anchor | ratio | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        ratio = "" if f.ratio is None else f"{_fmt(f.ratio)}× ({f.ratio_is})" if f.ratio_is else _fmt(f.ratio)
        note = f.note.replace("|", "\\|")
        lines.append(f"| {f.what} | {_fmt(f.govnet, f.unit)} | {_fmt(f.anchor, f.unit)} | {ratio} | {note} |")
    lines += ["", *(f"- {n}" for n in notes or [])]
    (out / f"{name}.md").write_text("\n".join(lines).rstrip() + "\n")
    print(f"figures written to {path} and {path.with_suffix('.md')}")
    return path
