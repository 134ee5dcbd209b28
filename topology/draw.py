"""A model as a picture (SVG or PNG) and as a node table: `govnet topo show --draw` / `--nodes`, and the
topology figure of lab reports.

`draw_network(net, out, loads=..., failed=..., title=...)` draws the star-plus-ring laid out by
`topology.layout`: the ring as a circle, each core's distribution switches and sites around it, a
site's LANs as one box, the internet exit above. Cable width grows with the rate. With `loads`
(utilisation 0..1 per link) cables are coloured by load with a colour bar; `failed` links are dashed
red with an × at their middle. Links are named as in the model (`core1--core2`, `fw-inner--core1#1`),
A--B in either order, a bundle's name for all its members, or an (a, b) pair of node names.
SVG output is deterministic: fixed hash salt, no date. Matplotlib (Agg) is imported only here,
inside the functions.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govnet.errors import UsageError
from topology.layout import LABEL_PT, RADIAL_PT, Edge, Element, Layout, layout
from topology.model import Link, Network
from topology.nodetable import NodeRow, format_rates, node_table, render_node_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

__all__ = [
    "FORMATS",
    "NodeRow",
    "check_picture_path",
    "draw_network",
    "find_links",
    "format_rates",
    "link_names",
    "network_figure",
    "node_table",
    "render_node_table",
]

FORMATS = {".svg": "SVG", ".png": "PNG"}
LinkKey = str | tuple[str, str]

FAILED = "#d62728"
NO_LOAD = "#b8b8b8"
KIND_COLOUR = {"ring": "#1f4e79"}
LINE = "#5a5a5a"
MARKERS: dict[str, tuple[str, float, str, str]] = {  # kind -> (marker, size pt, face, legend text)
    "core": ("o", 17, "#1f4e79", "core router (ring)"),
    "distribution": ("s", 9, "#7f7f7f", "distribution switch"),
    "router": ("o", 7, "#2e7d32", "site router"),
    "firewall": ("D", 8, "#e08a00", "firewall"),
    "internet": ("o", 9, "#6a3d9a", "internet router"),
    "switch": ("s", 6, "#a0a0a0", "switch"),
}
BOX_FACE, BOX_EDGE = "#eef3f8", "#7f9fbf"


def link_names(net: Network) -> list[str]:
    """Every link's name and every bundle's name (what `--fail` accepts, for suggestions)."""
    names = [lk.name for lk in net.links]
    return list(dict.fromkeys([*names, *(n.split("#")[0] for n in names)]))


def find_links(net: Network, key: LinkKey) -> list[Link]:
    """The links a key names: a link's name, A--B in either order (all members of a bundle),
    A--B#k (member k), or an (a, b) pair of node names; [] when none."""
    if isinstance(key, tuple):
        a, b = key
        return [lk for lk in net.links if {lk.a, lk.b} == {a, b}]
    exact = [lk for lk in net.links if lk.name == key]
    if exact:
        return exact
    base, _, member = key.partition("#")
    a, sep, b = base.partition("--")
    if not sep:
        return []
    return [
        lk
        for lk in net.links
        if {lk.a, lk.b} == {a, b} and (not member or lk.name.partition("#")[2] == member)
    ]


def _resolve(net: Network, keys: Iterable[LinkKey], what: str) -> dict[str, LinkKey]:
    out: dict[str, LinkKey] = {}
    for key in keys:
        links = find_links(net, key)
        if not links:
            shown = "--".join(key) if isinstance(key, tuple) else key
            raise UsageError(
                f"{what} {shown}: no such link in model {net.name}; name links as in the model "
                f"(A--B, a bundle's members A--B#1, A--B#2), see 'govnet topo show {net.name} --json'"
            )
        for lk in links:
            out[lk.name] = key
    return out


def check_picture_path(out: str | Path, option: str = "output") -> Path:
    """`out` as a Path when it ends in .svg or .png and its folder is writable; UsageError otherwise."""
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"{option} {out}: is a directory; give a file name such as {path / 'network.svg'}")
    if path.suffix.lower() not in FORMATS:
        raise UsageError(
            f"{option} {out}: unknown picture format {path.suffix or '(no extension)'}; "
            f"give a file name ending in .svg or .png"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(
            f"{option} {out}: folder {folder} does not exist (or is not a folder); "
            "create it or pick another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {out}: cannot write there (permission denied); pick a writable path")
    return path


def _width(mbps: float) -> float:
    """Line width in points: 10 Mbit/s thin, 1 Gbit/s thick, growing with the logarithm of the rate."""
    return min(4.5, max(0.6, 0.6 + 0.9 * math.log10(max(mbps, 1.0) / 10)))


def _rate_text(mbps: float) -> str:
    return f"{mbps / 1000:g} Gbit/s" if mbps >= 1000 else f"{mbps:g} Mbit/s"


def _points(lay: Layout, e: Edge) -> tuple[list[float], list[float]]:
    if e.arc is not None:
        r, t0, t1 = e.arc
        steps = max(8, int(abs(t1 - t0) / 3))
        ts = [math.radians(t0 + (t1 - t0) * i / steps) for i in range(steps + 1)]
        return [r * math.cos(t) for t in ts], [r * math.sin(t) for t in ts]
    a, b = lay.elements[e.a], lay.elements[e.b]
    dx, dy = b.x - a.x, b.y - a.y
    d = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / d * e.offset, dx / d * e.offset
    return [a.x + ox, b.x + ox], [a.y + oy, b.y + oy]


def _gid(prefix: str, name: str) -> str:
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"


def network_figure(
    net: Network,
    *,
    loads: Mapping[LinkKey, float] | None = None,
    failed: Iterable[LinkKey] = (),
    title: str = "",
) -> Figure:
    """The picture as a matplotlib Figure (Agg canvas, 1 data unit = 1 inch), every label inside it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lay = layout(net)
    down = set(_resolve(net, failed, "failed link"))
    load_of: dict[str, float] = {}
    for key, value in (loads or {}).items():
        if not math.isfinite(float(value)):
            continue  # no measurement: drawn grey
        for name in _resolve(net, [key], "load of link"):
            load_of[name] = max(load_of.get(name, 0.0), float(value))
    fig = Figure(figsize=(8, 8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    cmap = _load_colours() if loads is not None else None
    _cables(ax, lay, down, load_of, cmap)
    hidden_down: dict[str, list[str]] = {}
    for name, box in lay.inside.items():
        if name in down:
            hidden_down.setdefault(box, []).append(name)
    kinds_seen: set[str] = set()
    for el in lay.elements.values():
        if el.kind == "lans":
            _box(ax, el, hidden_down.get(el.key, []))
            continue
        marker, size, face, _text = MARKERS.get(el.kind, MARKERS["router"])
        kinds_seen.add(el.kind if el.kind in MARKERS else "router")
        ax.plot([el.x], [el.y], marker=marker, markersize=size, color=face, markeredgecolor="white",
                mew=0.8, linestyle="none", zorder=4, gid=_gid("node", el.key))  # fmt: skip
        if el.label:
            _node_label(ax, lay, el)
    x0, y0, x1, y1 = lay.extent
    _legend(ax, lay, kinds_seen, bool(down), (x0, y0 - 0.25))
    if cmap is not None:
        _colour_bar(fig, ax, cmap, (x1 - 3.0, y0 - 0.7))
    heading = title or f"{net.name}: {len(net.nodes)} nodes, {len(net.links)} links"
    ax.text((x0 + x1) / 2, y1 + 0.15, heading, ha="center", va="bottom", fontsize=12, fontweight="bold",
            gid="title")  # fmt: skip
    _fit(fig, ax, (x0 - 0.2, y0 - 0.3, x1 + 0.2, y1 + 0.5))
    return fig


def _cables(ax: Axes, lay: Layout, down: set[str], load_of: Mapping[str, float], cmap: Any) -> None:
    """Each cable: width by rate; coloured by load (grey without one) when there are loads; failed
    ones dashed red with an × at their middle (SVG group id failed-NAME)."""
    for e in lay.edges:
        lk = e.link
        xs, ys = _points(lay, e)
        if cmap is not None:
            colour: Any = cmap(min(1.0, max(0.0, load_of[lk.name]))) if lk.name in load_of else NO_LOAD
        else:
            colour = KIND_COLOUR.get(lk.kind, LINE)
        is_down = lk.name in down
        ax.plot(xs, ys, color=FAILED if is_down else colour, linewidth=_width(lk.bw_mbps),
                linestyle=(0, (4, 2)) if is_down else "-", solid_capstyle="butt", zorder=2 if is_down else 1,
                gid=_gid("link", lk.name))  # fmt: skip
        if is_down:
            mid = len(xs) // 2
            mx, my = ((xs[0] + xs[1]) / 2, (ys[0] + ys[1]) / 2) if len(xs) == 2 else (xs[mid], ys[mid])
            ax.plot([mx], [my], marker="x", markersize=9, mew=2.5, color=FAILED, zorder=6,
                    gid=_gid("failed", lk.name))  # fmt: skip


def _legend(ax: Axes, lay: Layout, kinds: set[str], any_down: bool, at: tuple[float, float]) -> None:
    from matplotlib.lines import Line2D

    handles: list[Any] = [
        Line2D([], [], marker=m, markersize=size * 0.8, color=face, linestyle="none", label=text)
        for k, (m, size, face, text) in MARKERS.items()
        if k in kinds
    ]
    handles.append(Line2D([], [], marker="s", markersize=9, color=BOX_FACE, markeredgecolor=BOX_EDGE,
                          linestyle="none", label="LANs of a site (bridges and hosts)"))  # fmt: skip
    for rate in sorted({e.link.bw_mbps for e in lay.edges}):
        handles.append(Line2D([], [], color=LINE, linewidth=_width(rate), label=_rate_text(rate)))
    if any_down:
        handles.append(Line2D([], [], color=FAILED, linewidth=2, linestyle=(0, (4, 2)), marker="x",
                              markersize=8, mew=2, label="failed link"))  # fmt: skip
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=at, bbox_transform=ax.transData,
                       fontsize=LABEL_PT, frameon=True, ncol=2, title="legend",
                       title_fontsize=LABEL_PT)  # fmt: skip
    legend.set_gid("legend")


def _colour_bar(fig: Figure, ax: Axes, cmap: Any, at: tuple[float, float]) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cax = ax.inset_axes((at[0], at[1], 3.0, 0.16), transform=ax.transData)
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), cax=cax, orientation="horizontal")
    bar.set_label("utilisation (grey: no value)", fontsize=LABEL_PT)
    bar.ax.tick_params(labelsize=LABEL_PT)
    bar.set_ticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0", "25%", "50%", "75%", "100%"])


def _load_colours() -> Any:
    """Light yellow-green (idle) to dark violet (full): no red, which marks failed links."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps["viridis_r"]
    return ListedColormap([base(0.08 + 0.92 * i / 255) for i in range(256)], name="govnet-load")


def _box(ax: Axes, el: Element, down: Sequence[str]) -> None:
    n = len(down)  # on the last line: the box keeps the height its slot at the rim was sized for
    text = el.label + (f" ({n} cable{'' if n == 1 else 's'} inside failed)" if n else "")
    bbox = {
        "boxstyle": "round,pad=0.25",
        "facecolor": BOX_FACE,
        "edgecolor": FAILED if down else BOX_EDGE,
        "linestyle": "--" if down else "-",
        "linewidth": 1.2 if down else 0.6,
    }
    if el.radial:
        ang = el.angle % 360
        flip = 90 < ang < 270
        ax.text(
            el.x,
            el.y,
            text,
            rotation=ang - 180 if flip else ang,
            rotation_mode="anchor",
            ha="right" if flip else "left",
            va="center",
            fontsize=RADIAL_PT,
            bbox=bbox,
            zorder=5,
            gid=_gid("box", el.key),
            linespacing=1.2,
        )
    else:
        ax.text(
            el.x,
            el.y,
            text,
            ha="left" if el.angle == 0.0 else "center",
            va="center",
            fontsize=LABEL_PT,
            bbox=bbox,
            zorder=5,
            gid=_gid("box", el.key),
        )


def _node_label(ax: Axes, lay: Layout, el: Element) -> None:
    t = math.radians(el.angle)
    if el.radial:  # a leaf node without LANs: its name outwards along the radius
        ang = el.angle % 360
        flip = 90 < ang < 270
        ax.text(
            el.x + 0.1 * math.cos(t),
            el.y + 0.1 * math.sin(t),
            el.label,
            rotation=ang - 180 if flip else ang,
            rotation_mode="anchor",
            ha="right" if flip else "left",
            va="center",
            fontsize=RADIAL_PT,
            zorder=5,
            gid=_gid("label", el.key),
        )
        return
    style = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
    if el.kind == "core":  # inside the ring, towards the centre
        r = lay.ring_radius - 0.22
        c, s = math.cos(t), math.sin(t)
        ha = "right" if c > 0.35 else "left" if c < -0.35 else "center"
        va = "top" if s > 0.35 else "bottom" if s < -0.35 else "center"
        ax.text(
            r * c,
            r * s,
            el.label,
            ha=ha,
            va=va,
            fontsize=9,
            fontweight="bold",
            bbox=style,
            zorder=5,
            gid=_gid("label", el.key),
        )
    elif el.angle == 90.0 and el.kind in ("firewall", "internet") and el.x < lay.elements[lay.exit_core].x:
        ax.text(
            el.x - 0.13,
            el.y,
            el.label,
            ha="right",
            va="center",
            fontsize=LABEL_PT,
            bbox=style,
            zorder=5,
            gid=_gid("label", el.key),
        )
    elif el.angle == 90.0 and el.kind in ("firewall", "internet"):
        ax.text(
            el.x + 0.13,
            el.y,
            el.label,
            ha="left",
            va="center",
            fontsize=LABEL_PT,
            bbox=style,
            zorder=5,
            gid=_gid("label", el.key),
        )
    else:  # inner nodes and the sync switch: below the marker
        ax.text(
            el.x,
            el.y - 0.13,
            el.label,
            ha="center",
            va="top",
            fontsize=LABEL_PT,
            bbox=style,
            zorder=5,
            gid=_gid("label", el.key),
        )


def shown_texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text of the figure (labels, boxes, legend, colour bar, title)."""
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if isinstance(t, Text) and t.get_visible() and t.get_text()]


def _fit(fig: Figure, ax: Axes, guess: tuple[float, float, float, float]) -> None:
    """Size the figure to the drawing at 1 unit = 1 inch, grown to hold every label. Labels are
    anchored in data units and sized in points, so one measurement holds for the final size too."""
    x0, y0, x1, y1 = guess
    fig.set_size_inches(x1 - x0, y1 - y0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    fig.draw_without_rendering()  # lays out every artist (legend, colour bar) without rasterising
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    dpi = fig.dpi
    boxes: list[Bbox] = [t.get_window_extent(renderer) for t in shown_texts(fig)]
    boxes += [b for b in (c.get_tightbbox(renderer) for c in fig.axes[1:]) if b is not None]
    leg = ax.get_legend()
    if leg is not None:
        boxes.append(leg.get_window_extent(renderer))
    m = 0.12  # inches around the outermost label
    nx0 = min([x0, *(b.x0 / dpi + x0 - m for b in boxes)])
    ny0 = min([y0, *(b.y0 / dpi + y0 - m for b in boxes)])
    nx1 = max([x1, *(b.x1 / dpi + x0 + m for b in boxes)])
    ny1 = max([y1, *(b.y1 / dpi + y0 + m for b in boxes)])
    fig.set_size_inches(nx1 - nx0, ny1 - ny0)
    ax.set_xlim(nx0, nx1)
    ax.set_ylim(ny0, ny1)


def draw_network(
    net: Network,
    out: Path,
    *,
    loads: Mapping[LinkKey, float] | None = None,
    failed: Iterable[LinkKey] = (),
    title: str = "",
) -> Path:
    """Draw `net` into `out` (.svg or .png, from its name); UsageError for a bad path or link name."""
    from matplotlib import rc_context

    path = check_picture_path(out)
    with rc_context({"svg.hashsalt": "govnet", "svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        fig = network_figure(net, loads=loads, failed=failed, title=title)
        meta: dict[str, Any] = {"Date": None} if path.suffix.lower() == ".svg" else {"Software": None}
        try:
            fig.savefig(
                path,
                format=path.suffix.lower()[1:],
                bbox_inches="tight",
                pad_inches=0.1,
                metadata=meta,
                facecolor="white",
            )
        except OSError as exc:
            raise UsageError(
                f"{out}: cannot write the picture ({exc.strerror or exc}); pick another path"
            ) from None
    return path
