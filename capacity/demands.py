"""Traffic classes and demands: the built-in busy-hour model derived from the network model, or JSON.

Elastic classes (TCP: OA, file, approval, portal, web) ask for up to `mbps` and share links max-min
fairly. Inelastic classes (voice, video) are calls: `mbps` is the offered mean load per direction,
i.e. erlangs x the per-call rate, and calls are admitted or blocked (Erlang B) against the share of
each link the class may use (a priority queue with a policer, as an LLQ would configure).

Built-in figures, per emulated host, busy hour (a model host stands for its office or desk group):

| class | between | down (server -> user) | up |
| --- | --- | --- | --- |
| oa | each office desktop and the OA server | 0.5 Mbit/s | 0.1 Mbit/s |
| file | each office desktop and the file server | 2.0 | 0.5 |
| web | each office desktop and the DMZ proxy | 1.0 | 0.2 |
| approval | each approval desk (service VLAN) and the approval server | 4.0 | 1.0 |
| portal | each internet host (not the attacker) and the DMZ portal | 20.0 | 2.0 |
| voice | each office desktop and an approval desk (round robin): 0.2 erlang of 87 kbit/s calls | | |
| video | each bureau (its first desktop) and the first server: 0.3 erlang of 768 kbit/s + 20 % calls | | |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from govnet.errors import ModelError, WhatIfError
from govnet.safeload import load_json_file
from topology.model import Network, Node


@dataclass(frozen=True)
class TrafficClass:
    """One class: elastic (max-min fair) or inelastic (calls of call_mbps, at most `share` of a link)."""

    name: str
    elastic: bool
    call_mbps: float = 0.0
    share: float = 0.0


CLASSES: dict[str, TrafficClass] = {
    c.name: c
    for c in (
        TrafficClass("oa", True),
        TrafficClass("file", True),
        TrafficClass("web", True),
        TrafficClass("approval", True),
        TrafficClass("portal", True),
        TrafficClass("bulk", True),
        TrafficClass("voice", False, call_mbps=0.087, share=0.10),  # G.711 + IP/UDP/RTP, per direction
        TrafficClass("video", False, call_mbps=0.768 * 1.2, share=0.30),  # 768 kbit/s + 20 % overhead
        TrafficClass("video-hd", False, call_mbps=2.0 * 1.2, share=0.30),  # 2 Mbit/s + 20 %
    )
}

# (class, mbps down, mbps up) per user; see the module docstring
_ELASTIC_FIGURES = {"oa": (0.5, 0.1), "file": (2.0, 0.5), "web": (1.0, 0.2), "approval": (4.0, 1.0)}
_PORTAL = (20.0, 2.0)
_VOICE_ERLANG = 0.2
_VIDEO_ERLANG = 0.3


@dataclass(frozen=True)
class Demand:
    """src -> dst traffic of one class: elastic wish in Mbit/s, or offered call load per direction."""

    src: str
    dst: str
    cls: str
    mbps: float

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "class": self.cls, "mbps": round(self.mbps, 6)}


def _pick(servers: list[Node], word: str) -> Node | None:
    for n in servers:
        if word in n.name:
            return n
    return None


def builtin_demands(net: Network) -> list[Demand]:
    """The busy-hour demand model of the module docstring, derived from the model's hosts."""
    hosts = [n for n in net.nodes if n.is_host]
    office = [n for n in hosts if n.zone == "office"]
    desks = [n for n in hosts if n.zone == "service"]
    servers = [n for n in hosts if n.zone == "servers"]
    dmz = [n for n in hosts if n.zone == "dmz"]
    citizens = [n for n in hosts if n.zone == "internet" and "attacker" not in n.name]
    out: list[Demand] = []

    def pair(user: Node, server: Node | None, cls: str, down: float, up: float) -> None:
        if server is not None:
            out.append(Demand(server.name, user.name, cls, down))
            out.append(Demand(user.name, server.name, cls, up))

    first_server = servers[0] if servers else None
    oa = _pick(servers, "oa") or first_server
    file_srv = _pick(servers, "file") or first_server
    approval = _pick(servers, "approval") or first_server
    proxy = _pick(dmz, "proxy") or (dmz[0] if dmz else None)
    portal = _pick(dmz, "portal") or (dmz[0] if dmz else None)
    for u in office:
        pair(u, oa, "oa", *_ELASTIC_FIGURES["oa"])
        pair(u, file_srv, "file", *_ELASTIC_FIGURES["file"])
        pair(u, proxy, "web", *_ELASTIC_FIGURES["web"])
    for u in desks:
        pair(u, approval, "approval", *_ELASTIC_FIGURES["approval"])
    for u in citizens:
        pair(u, portal, "portal", *_PORTAL)
    if desks:
        for i, u in enumerate(office):
            out.append(Demand(u.name, desks[i % len(desks)].name, "voice", _VOICE_ERLANG * 0.087))
    if first_server is not None:
        seen: set[str] = set()
        for u in office:
            if u.site.startswith("bureau-") and u.site not in seen:
                seen.add(u.site)
                out.append(
                    Demand(u.name, first_server.name, "video", _VIDEO_ERLANG * CLASSES["video"].call_mbps)
                )
    return out


def load_demands(path: str | Path, net: Network) -> list[Demand]:
    """Read a JSON list of {src, dst, class, mbps}; names are checked against the model."""
    p = Path(path)
    try:
        data = load_json_file(p, what="demands file")  # bounded: size and depth
    except ModelError as exc:
        raise WhatIfError(str(exc)) from None
    if isinstance(data, dict):
        data = data.get("demands")
    if not isinstance(data, list):
        raise WhatIfError(f"{p}: expected a JSON list of {{src, dst, class, mbps}}")
    names = [n.name for n in net.nodes]
    known = set(names)
    out = []
    for i, item in enumerate(data):
        where = f"{p}: demands[{i}]"
        if not isinstance(item, dict) or not {"src", "dst", "class", "mbps"} <= set(item):
            raise WhatIfError(f"{where}: needs src, dst, class and mbps (got {item!r})")
        for key in ("src", "dst"):
            if item[key] not in known:
                raise WhatIfError(f"{where}.{key}: unknown node {item[key]!r}{suggest(item[key], names)}")
        if item["class"] not in CLASSES:
            raise WhatIfError(
                f"{where}.class: unknown class {item['class']!r}{suggest(item['class'], CLASSES)}"
            )
        mbps = item["mbps"]
        if isinstance(mbps, bool) or not isinstance(mbps, int | float) or mbps < 0:
            raise WhatIfError(f"{where}.mbps: must be a number >= 0 (got {mbps!r})")
        out.append(Demand(str(item["src"]), str(item["dst"]), str(item["class"]), float(mbps)))
    return out


def suggest(word: str, valid: Any) -> str:
    """'; did you mean a, b?' with the nearest valid names (difflib), or ''."""
    import difflib

    close = difflib.get_close_matches(word, list(valid), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


def scale(demands: list[Demand], net: Network, factors: dict[str, float]) -> list[Demand]:
    """Multiply demands by class factors and site factors (a demand touching a grown site grows once)."""
    if not factors:
        return demands
    site = {n.name: n.site for n in net.nodes}
    out = []
    for d in demands:
        f = factors.get(d.cls, 1.0)
        sites = {site.get(d.src, ""), site.get(d.dst, "")}
        site_f = max((factors[s] for s in sites if s in factors), default=1.0)
        out.append(replace(d, mbps=d.mbps * f * site_f))
    return out
