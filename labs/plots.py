"""The pictures of a lab's HTML report, drawn with matplotlib (Agg) as inline SVG strings.

Each function takes plain data (already read from the run directory by labs.rundata) and returns one
`<svg>` element without XML prolog or metadata, ready to sit in an HTML page; times are seconds
from the start of the run. matplotlib is imported inside the functions: importing this module costs
nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERIES_FILE = "metrics/series.json"  # written by labs.parts.monitoring at stop, read by labs.pictures

WIDTH_IN, HEIGHT_IN = 9.0, 3.4


@dataclass(frozen=True)
class Marker:
    """A timeline action drawn as a vertical line: at `t` s from the start of the run."""

    t: float
    label: str
    ok: bool = True
    executed: bool = True


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)


def svg_of(fig: Any, name: str) -> str:
    """The figure as an inline `<svg>` (text as text, ids salted with `name`), and the figure closed."""
    plt = _plt()
    buf = io.StringIO()
    try:
        with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        plt.close(fig)
    text = _COMMENT.sub("", _METADATA.sub("", _PROLOG.sub("", buf.getvalue(), count=1)))
    return text.strip()


def _figure(height: float = HEIGHT_IN) -> tuple[Any, Any]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), dpi=100)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _markers(ax: Any, markers: Sequence[Marker]) -> None:
    """Vertical lines for the timeline's actions, labelled at the top of the plot."""
    if not markers:
        return
    top = ax.get_ylim()[1]
    for m in markers:
        colour = "#555555" if m.ok else "#c0392b"
        style = "-" if m.executed else ":"
        ax.axvline(m.t, color=colour, linestyle=style, linewidth=1.0, alpha=0.8)
        label = m.label if m.executed else f"{m.label} (not run)"
        ax.text(m.t, top, " " + label, rotation=90, va="top", ha="right", fontsize=7, color=colour)


def _legend(ax: Any) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


Lines = Sequence[tuple[str, Sequence[tuple[float, float]]]]  # (label, [(t, value), ...]) per line


def utilisation_svg(lines: Lines, markers: Sequence[Marker]) -> str:
    """Utilisation (%) over time, one line per (label, [(t, percent), ...]), with the actions."""
    fig, ax = _figure()
    for label, pts in lines:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], linewidth=1.2, label=label)
    ax.set_xlabel("seconds from the start of the run")
    ax.set_ylabel("utilisation, % of capacity")
    ax.set_ylim(bottom=0)
    _markers(ax, markers)
    _legend(ax)
    return svg_of(fig, "utilisation")


def lines_svg(
    name: str,
    lines: Lines,
    ylabel: str,
    markers: Sequence[Marker] = (),
    step: bool = False,
) -> str:
    """A time series plot: one line per (label, [(t, value), ...])."""
    fig, ax = _figure()
    for label, pts in lines:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if step:
            ax.step(xs, ys, where="post", linewidth=1.2, label=label)
        else:
            ax.plot(xs, ys, linewidth=1.2, label=label)
    ax.set_xlabel("seconds from the start of the run")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    _markers(ax, markers)
    _legend(ax)
    return svg_of(fig, name)


def alerts_svg(by_signature: Mapping[str, Sequence[float]], markers: Sequence[Marker]) -> str:
    """Alerts so far over time, one step line per signature (times in s from the start of the run)."""
    lines = []
    for sig, times in by_signature.items():
        ts = sorted(times)
        pts = [(ts[0], 0.0)] + [(t, float(i + 1)) for i, t in enumerate(ts)]
        lines.append((f"{sig} ({len(ts)})", pts))
    return lines_svg("alerts", lines, "alerts so far", markers, step=True)


def bars_svg(
    name: str,
    categories: Sequence[str],
    stacks: Mapping[str, Sequence[float]],
    xlabel: str,
    notes: Sequence[str] = (),
) -> str:
    """Horizontal bars, one per category, stacked by the keys of `stacks` (each a value per
    category); `notes`, when given, are written at the end of each bar."""
    plt = _plt()
    height = max(1.6, 0.32 * len(categories) + 0.9)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), dpi=100)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ys = list(range(len(categories)))
    left = [0.0] * len(categories)
    for label, values in stacks.items():
        ax.barh(ys, list(values), left=left, height=0.6, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(ys, list(categories), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    for y, x, note in zip(ys, left, notes, strict=False):
        ax.text(x, y, " " + note, va="center", fontsize=7, color="#444444")
    if len(stacks) > 1:
        _legend(ax)
    return svg_of(fig, name)
