"""Background traffic classes as flow schedules (rates and packet sizes; sending comes later).

* **IP telephony**: G.711 at 20 ms packetisation is 160 B of voice + 12 RTP + 8 UDP + 20 IP + 18
  Ethernet = 218 B, 50 packets/s = 87.2 kbit/s per direction per call. Calls arrive as a Poisson
  process (peak rate x the diurnal curve) with exponential holding times (mean 210 s), between two
  random office desktops (or a desktop and a service desk), one flow each way: class `voice`.
* **Video on demand**: Poisson sessions, exponential durations, one stream from the video server to a
  desktop at `rate_bps` in 1,358 B packets (7 x 188 B MPEG-TS + RTP/UDP/IP/Ethernet): class `video`.
* **Video conferences** (H.323 through an MCU on the first server): meetings spread uniformly over
  08:00-18:00, `sites` bureaus each sending and receiving `rate_bps` (768 kbit/s-2 Mbit/s) plus
  `overhead` (20 %, IP/UDP/RTP) in 1,200 B packets: class `video` up to 768 kbit/s, else `video-hd`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apps.config import TrafficConfig
from apps.traffic import DAY_S, DiurnalCurve, server_of, session_starts
from topology.model import Network

VOICE_BPS = 87_200.0
VOICE_PACKET_BYTES = 218
VOD_PACKET_BYTES = 1_358
CONFERENCE_PACKET_BYTES = 1_200
_STREAMS = {"voice": 11, "vod": 12, "conference": 13}


@dataclass(frozen=True)
class Flow:
    """One unidirectional constant-rate flow: when, between which model nodes, how fast, in what packets."""

    start_s: float
    duration_s: float
    src: str
    dst: str
    cls: str
    bps: float
    packet_bytes: int

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def _desktops(net: Network) -> list[str]:
    return [n.name for n in net.nodes if n.is_host and n.zone in ("office", "service")]


def background_flows(
    net: Network, cfg: TrafficConfig, start_s: float = 0.0, duration_s: float = DAY_S
) -> list[Flow]:
    """Every background flow that starts in [start, start + duration), in time order."""
    curve = DiurnalCurve()
    desks = _desktops(net)
    flows: list[Flow] = []
    if cfg.voice is not None and len(desks) >= 2:
        rng = np.random.default_rng([cfg.seed, _STREAMS["voice"]])
        for t in session_starts(rng, cfg.voice.calls_per_hour / 3600.0, start_s, duration_s, curve):
            a, b = rng.choice(len(desks), size=2, replace=False)
            hold = float(rng.exponential(cfg.voice.holding_s))
            for src, dst in ((desks[a], desks[b]), (desks[b], desks[a])):
                flows.append(Flow(float(t), hold, src, dst, "voice", VOICE_BPS, VOICE_PACKET_BYTES))
    if desks and cfg.vod is not None:
        rng = np.random.default_rng([cfg.seed, _STREAMS["vod"]])
        server = server_of(net, "vod").name
        for t in session_starts(rng, cfg.vod.sessions_per_hour / 3600.0, start_s, duration_s, curve):
            dst = desks[int(rng.integers(len(desks)))]
            hold = float(rng.exponential(cfg.vod.mean_duration_s))
            flows.append(Flow(float(t), hold, server, dst, "video", cfg.vod.rate_bps, VOD_PACKET_BYTES))
    if cfg.conference is not None:
        flows += _conferences(net, cfg, start_s, duration_s)
    flows.sort(key=lambda f: (f.start_s, f.src, f.dst))
    return flows


def _conferences(net: Network, cfg: TrafficConfig, start_s: float, duration_s: float) -> list[Flow]:
    c = cfg.conference
    assert c is not None
    first_desk: dict[str, str] = {}
    for n in net.nodes:
        if n.is_host and n.zone == "office" and n.site.startswith("bureau-"):
            first_desk.setdefault(n.site, n.name)
    sites = sorted(first_desk)
    if len(sites) < 2:
        return []
    mcu = server_of(net, "mcu").name
    rng = np.random.default_rng([cfg.seed, _STREAMS["conference"]])
    bps = c.rate_bps * (1.0 + c.overhead)
    cls = "video" if c.rate_bps <= 768_000 else "video-hd"
    out = []
    day0 = np.floor(start_s / DAY_S) * DAY_S
    for day in np.arange(day0, start_s + duration_s, DAY_S):
        for t in np.sort(rng.uniform(day + 8 * 3600, day + 18 * 3600, rng.poisson(c.meetings_per_day))):
            chosen = rng.choice(len(sites), size=min(c.sites, len(sites)), replace=False)
            if not start_s <= t < start_s + duration_s:
                continue
            for i in chosen:
                host = first_desk[sites[i]]
                out.append(Flow(float(t), c.duration_s, host, mcu, cls, bps, CONFERENCE_PACKET_BYTES))
                out.append(Flow(float(t), c.duration_s, mcu, host, cls, bps, CONFERENCE_PACKET_BYTES))
    return out
