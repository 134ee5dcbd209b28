"""Client traffic models: who does what when, deterministic for a seed.

* **Diurnal curve**: relative activity over a day, piecewise linear — quiet night, a morning ramp
  from 08:00, a lunch dip at 12:00-13:30, the afternoon peak at 15:30 (1.0), a quiet evening.
  Times are simulated seconds since midnight; `TrafficConfig.day_minutes` compresses a day into
  N wall-clock minutes (`Event.wall_s`).
* **Sessions** per user arrive as a non-homogeneous Poisson process (rate
  `sessions_per_user_hour` x curve), drawn for all users at once by thinning (Lewis & Shedler 1979).
* **Think times** between operations: negative exponential, mean 7 s, truncated at 70 s — the TPC-W
  think-time rule (TPC Benchmark W, clause 5.3.1.1).
* **Document sizes**: lognormal, mu = 10.4 (median e^10.4 = 33 kB), sigma = 1.6, truncated to
  [512 B, 20 MB] by redrawing. The lognormal body follows Downey, "The structural cause of file size
  distributions" (MASCOTS 2001); mu and sigma are our choice for office documents, not a fit.
* **Mistyped passwords**: each password entry is wrong with probability 4 % (our assumption; the
  user retries at once), so logins produce a realistic share of `login` failure events.
* **Users per bureau**: `users_per_desktop` for each office desktop the model gives the bureau.
* **Applicants** file approval applications from the internet hosts through the DMZ portal
  (`Event.via`), when the model has both; staff log in and review from their desks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apps.config import ClientParams, TrafficConfig
from topology.model import Network, Node

DAY_S = 86_400.0
OFFICE_CURVE: tuple[tuple[float, float], ...] = (
    (0.0, 0.02), (7.0, 0.03), (8.0, 0.35), (9.5, 0.85), (11.5, 0.9), (12.0, 0.4), (13.5, 0.4),
    (14.5, 0.9), (15.5, 1.0), (17.0, 0.75), (18.0, 0.2), (20.0, 0.06), (24.0, 0.02),
)  # fmt: skip
HTTP_OVERHEAD_BYTES = 600  # request line, headers and the JSON envelope, each way

# op -> (share of operations, bytes up, bytes down); "doc" means a document-size draw
OP_MIX: dict[str, dict[str, tuple[float, int | str, int | str]]] = {
    "oa": {
        "todo": (0.30, 0, 2_000),
        "open": (0.30, 0, "doc"),
        "create": (0.10, "doc", 1_000),
        "attach": (0.10, "doc", 1_000),
        "flow": (0.20, 500, 1_000),
    },
    "approval": {
        "query": (0.45, 0, 3_000),
        "submit": (0.15, "doc", 1_000),
        "review": (0.30, 800, 1_000),
        "decide": (0.10, 500, 1_000),
    },
}
LOGIN_BYTES = (400, 600)
APPLICANT_OPS = frozenset({"submit"})  # approval operations of applicants, who reach the portal from outside
CLIENT_APPS_INDEX = {"oa": 1, "approval": 2}  # one random stream per application


@dataclass(frozen=True)
class DiurnalCurve:
    """Relative activity (0..1) by hour of the day, linear between the given (hour, weight) points."""

    points: tuple[tuple[float, float], ...] = OFFICE_CURVE

    def weight(self, t_s: np.typing.ArrayLike) -> np.typing.NDArray[np.float64]:
        hours = (np.asarray(t_s, dtype=float) % DAY_S) / 3600.0
        xs, ys = zip(*self.points, strict=True)
        return np.asarray(np.interp(hours, xs, ys), dtype=np.float64)

    def mean(self, start_s: float = 0.0, duration_s: float = DAY_S) -> float:
        """The average weight over [start, start + duration) (numerically, 10 s steps)."""
        t = np.arange(start_s, start_s + duration_s, 10.0) + 5.0
        return float(self.weight(t).mean())


@dataclass(frozen=True)
class User:
    """One simulated user: a name, the model host they sit at and their bureau."""

    name: str
    host: str
    bureau: str


@dataclass(frozen=True)
class Event:
    """One client operation; t_s is simulated seconds, wall_s the same moment in compressed time."""

    t_s: float
    wall_s: float
    app: str
    user: str
    src: str
    dst: str
    op: str
    bytes_up: int
    bytes_down: int
    ok: bool = True
    via: str = ""  # a relay on the way (the DMZ portal in front of the approval server), or ""


def users_of(net: Network, app: str, per_desktop: int) -> list[User]:
    """The users of `app`: office desktops of each bureau (OA); for approval also the service desks."""
    hosts = [n for n in net.nodes if n.is_host]
    office = [n for n in hosts if n.zone == "office" and n.site.startswith("bureau-")]
    desks = [n for n in hosts if n.zone == "service"]
    seats = desks + office if app == "approval" else office  # bureau users review as departments
    return [User(f"{h.name}-u{i + 1}", h.name, h.site) for h in seats for i in range(per_desktop)]


def server_of(net: Network, app: str) -> Node:
    """The server of `app`: the server-zone host named after it, else the first server (as capacity does)."""
    servers = [n for n in net.nodes if n.is_host and n.zone == "servers"]
    if not servers:
        raise ValueError(f"model {net.name} has no host in the servers zone")
    return next((n for n in servers if app in n.name), servers[0])


def portal_of(net: Network) -> Node | None:
    """The DMZ portal that internet clients reach services through: the first DMZ host (None: no DMZ)."""
    if not any(n.is_host and n.zone == "internet" for n in net.nodes):
        return None
    return next((n for n in net.nodes if n.is_host and n.zone == "dmz"), None)


def doc_sizes(rng: np.random.Generator, p: ClientParams, n: int) -> np.typing.NDArray[np.int64]:
    """n document sizes: lognormal(mu, sigma) truncated to [size_min, size_max] by redrawing."""
    out = rng.lognormal(p.size_mu, p.size_sigma, n)
    bad = (out < p.size_min) | (out > p.size_max)
    while bad.any():
        out[bad] = rng.lognormal(p.size_mu, p.size_sigma, int(bad.sum()))
        bad = (out < p.size_min) | (out > p.size_max)
    return out.astype(np.int64)


def think_times(rng: np.random.Generator, p: ClientParams, n: int) -> np.typing.NDArray[np.float64]:
    """n think times: exponential(mean think_mean_s), truncated at think_max_s by redrawing."""
    out = rng.exponential(p.think_mean_s, n)
    bad = out > p.think_max_s
    while bad.any():
        out[bad] = rng.exponential(p.think_mean_s, int(bad.sum()))
        bad = out > p.think_max_s
    return out


def session_starts(
    rng: np.random.Generator, rate_per_s: float, start_s: float, duration_s: float, curve: DiurnalCurve
) -> np.typing.NDArray[np.float64]:
    """Arrival times of a Poisson process of rate `rate_per_s` x curve(t), by thinning."""
    n = rng.poisson(rate_per_s * duration_s)
    t = np.sort(rng.uniform(start_s, start_s + duration_s, n))
    return t[rng.uniform(0.0, 1.0, n) < curve.weight(t)]


def client_events(
    net: Network,
    cfg: TrafficConfig,
    app: str,
    start_s: float = 0.0,
    duration_s: float = DAY_S,
    curve: DiurnalCurve | None = None,
) -> list[Event]:
    """The operations of every user of `app` over [start, start + duration), in time order."""
    p = cfg.clients[app]
    curve = curve or DiurnalCurve()
    users = users_of(net, app, p.users_per_desktop)
    if not users:
        return []
    server = server_of(net, app).name
    portal = portal_of(net) if app == "approval" else None
    citizens = [n.name for n in net.nodes if n.is_host and n.zone == "internet"] if portal else []
    rng = np.random.default_rng([cfg.seed, CLIENT_APPS_INDEX[app]])
    compress = cfg.day_minutes * 60.0 / DAY_S
    starts = session_starts(rng, len(users) * p.sessions_per_user_hour / 3600.0, start_s, duration_s, curve)
    mix = OP_MIX[app]
    names = list(mix)
    shares = np.array([mix[o][0] for o in names])
    out: list[Event] = []
    for t0 in starts:
        u = users[int(rng.integers(len(users)))]
        t = float(t0)

        def emit(op: str, up: int, down: int, ok: bool = True) -> None:
            out.append(Event(t, t * compress, app, u.name, u.host, server, op, up, down, ok))  # noqa: B023

        while rng.random() < p.mistype_rate:  # a wrong password, then another try
            emit("login", *LOGIN_BYTES, ok=False)
            t += float(rng.uniform(2.0, 8.0))
        emit("login", *LOGIN_BYTES)
        n_ops = int(rng.geometric(1.0 / p.ops_per_session))
        ops = rng.choice(len(names), size=n_ops, p=shares / shares.sum())
        thinks = think_times(rng, p, n_ops)
        sizes = doc_sizes(rng, p, n_ops)
        for k in range(n_ops):
            t += float(thinks[k])
            if t >= start_s + duration_s:
                break
            op = names[ops[k]]
            _, up, down = mix[op]
            up_b = (int(sizes[k]) if up == "doc" else int(up)) + HTTP_OVERHEAD_BYTES
            down_b = (int(sizes[k]) if down == "doc" else int(down)) + HTTP_OVERHEAD_BYTES
            if op in APPLICANT_OPS and citizens:  # an applicant files it from the internet, via the portal
                src = citizens[int(rng.integers(len(citizens)))]
                out.append(Event(t, t * compress, app, f"{src}-applicant", src, server, op, up_b, down_b,
                                 via=portal.name if portal else ""))  # fmt: skip
            else:
                emit(op, up_b, down_b)
    out.sort(key=lambda e: (e.t_s, e.user))
    return out


def expected_sessions(net: Network, cfg: TrafficConfig, app: str, start_s: float, duration_s: float) -> float:
    """The mean number of sessions the configuration asks for over the window (for checks)."""
    p = cfg.clients[app]
    users = len(users_of(net, app, p.users_per_desktop))
    return users * p.sessions_per_user_hour / 3600.0 * duration_s * DiurnalCurve().mean(start_s, duration_s)
