"""Plots of a what-if: per-link utilisation, sorted, saturated links highlighted, N-1 worst beside.

SVG is written here without any plotting library (no matplotlib in the venv: the chart is a few
rectangles and labels). PNG needs matplotlib and says so when it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from capacity.simulate import SATURATED
from capacity.whatif import WhatIf
from govnet.errors import WhatIfError

BASE = "#4682b4"  # steel blue
HOT = "#d62728"  # saturated
WORST = "#ff9f40"  # N-1 worst case
GONE = "#b0b0b0"  # failed in this what-if


@dataclass(frozen=True)
class Bar:
    name: str
    utilisation: float
    worst: float | None  # N-1 worst utilisation, when asked
    worst_failure: str
    saturated: bool
    failed: bool


def bars(w: WhatIf, top: int = 40) -> list[Bar]:
    """The links to draw: the `top` highest by utilisation (or N-1 worst, when there is one)."""
    res, nm1 = w.result, w.nm1
    out = [
        Bar(
            lk.name,
            lk.utilisation,
            nm1.worst_utilisation[i] if nm1 else None,
            nm1.worst_failure[i] if nm1 else "",
            lk.saturated,
            lk.failed,
        )
        for i, lk in enumerate(res.links)
    ]
    out.sort(key=lambda b: (-max(b.utilisation, b.worst or 0.0), b.name))
    return out[:top]


def svg(w: WhatIf, top: int = 40) -> str:
    """The chart as an SVG document."""
    items = bars(w, top)
    res = w.result
    n1 = w.nm1 is not None
    label_w, bar_w, right = 340, 460, 150
    row = 22 if n1 else 16
    head = 64
    width = label_w + bar_w + right
    height = head + row * len(items) + 30
    scale_max = max([1.0, *(b.utilisation for b in items), *((b.worst or 0.0) for b in items)])
    x0 = label_w

    def x(u: float) -> float:
        return x0 + bar_w * min(u, scale_max) / scale_max

    grow = ", ".join(f"{k}x{v:g}" for k, v in w.grow.items()) or "none"
    title = (
        f"{res.net.name}: link utilisation (top {len(items)} of {len(res.links)} links) - "
        f"failures: {', '.join(res.failures) or 'none'}; grow: {grow}"
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    legend = [(BASE, "utilisation"), (HOT, f"saturated (>= {SATURATED:.0%} or calls blocked)")]
    if n1:
        legend.append((WORST, "N-1 worst case (failure named at the right)"))
    lx = 10
    for colour, text in legend:
        out.append(f'<rect x="{lx}" y="30" width="12" height="10" fill="{colour}"/>')
        out.append(f'<text x="{lx + 16}" y="39">{escape(text)}</text>')
        lx += 30 + 6 * len(text)
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        u = frac * scale_max
        gx = x(u)
        dash = ' stroke-dasharray="4,3"' if abs(u - 1.0) < 1e-9 else ""
        colour = "#333" if abs(u - 1.0) < 1e-9 else "#ddd"
        out.append(
            f'<line x1="{gx:.1f}" y1="{head - 8}" x2="{gx:.1f}" y2="{height - 24}" stroke="{colour}"{dash}/>'
        )
        out.append(f'<text x="{gx:.1f}" y="{height - 10}" text-anchor="middle">{u:.0%}</text>')
    if scale_max > 1.0 + 1e-9:
        gx = x(1.0)
        out.append(
            f'<line x1="{gx:.1f}" y1="{head - 8}" x2="{gx:.1f}" y2="{height - 24}" '
            'stroke="#333" stroke-dasharray="4,3"/>'
        )
    for k, b in enumerate(items):
        y = head + k * row
        name = b.name + (" (failed)" if b.failed else "")
        out.append(f'<text x="{x0 - 6}" y="{y + 11}" text-anchor="end">{escape(name)}</text>')
        colour = GONE if b.failed else (HOT if b.saturated else BASE)
        h = 8 if n1 else 12
        out.append(
            f'<rect x="{x0}" y="{y + 2}" width="{x(b.utilisation) - x0:.1f}" height="{h}" fill="{colour}">'
            f"<title>{escape(b.name)}: {b.utilisation:.1%}</title></rect>"
        )
        text = f"{b.utilisation:.1%}"
        if b.worst is not None:
            wc = HOT if b.worst >= SATURATED else WORST
            out.append(
                f'<rect x="{x0}" y="{y + 2 + h}" width="{x(b.worst) - x0:.1f}" height="{h}" fill="{wc}">'
                f"<title>{escape(b.name)}: N-1 worst {b.worst:.1%} when {escape(b.worst_failure)} fails"
                "</title></rect>"
            )
            text += f" / {b.worst:.1%} ({b.worst_failure})"
        out.append(f'<text x="{x0 + bar_w + 6}" y="{y + 11}">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _png(w: WhatIf, path: Path, top: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise WhatIfError(
            f"--plot {path}: PNG needs matplotlib, which is not installed "
            "(pip install matplotlib); an .svg plot needs nothing"
        ) from None
    items = bars(w, top)[::-1]
    fig, ax = plt.subplots(figsize=(11, 0.28 * len(items) + 1.5))
    ys = range(len(items))
    h = 0.4 if w.nm1 else 0.8
    colours = [GONE if b.failed else (HOT if b.saturated else BASE) for b in items]
    ax.barh([y + (h / 2 if w.nm1 else 0) for y in ys], [b.utilisation for b in items], h, color=colours)
    if w.nm1:
        ax.barh([y - h / 2 for y in ys], [b.worst or 0.0 for b in items], h, color=WORST, label="N-1 worst")
    ax.axvline(1.0, color="#333", linestyle="--", linewidth=1)
    ax.set_yticks(list(ys), [b.name for b in items], fontsize=7)
    ax.set_xlabel("utilisation")
    ax.set_title(f"{w.result.net.name}: link utilisation", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_plot(w: WhatIf, path: str | Path, top: int = 40) -> Path:
    """Write the chart to path: .svg (no dependencies) or .png (matplotlib)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise WhatIfError(f"--plot {p}: give a file ending in .svg or .png")
    if suffix == ".png":
        _png(w, p, top)
        return p
    try:
        p.write_text(svg(w, top))
    except OSError as exc:
        raise WhatIfError(f"--plot {p}: cannot write ({exc.strerror})") from None
    return p
