"""The one metric registry: every measurement, its tags, fields and units, defined once.

Monitors write `Point`s, dashboards and reports read the same definitions. Points travel as
InfluxDB line protocol; VictoriaMetrics stores each field as its own series named
`<measurement>_<field>` (see `promql_name`) with the tags as labels. VictoriaMetrics stores string
fields as 0, so anything textual is a tag, and every field here is a number or a boolean.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from govnet.errors import MetricError

FieldKind = Literal["gauge", "counter"]
FieldValue = int | float | bool

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Tag:
    """A label on every series of a measurement; `values`, when given, is the closed set allowed."""

    name: str
    help: str
    required: bool = True
    values: frozenset[str] | None = None


@dataclass(frozen=True)
class Field:
    """One numeric field: its unit, whether it is a gauge or a monotonic counter, and its valid range."""

    name: str
    unit: str
    help: str
    kind: FieldKind = "gauge"
    type: type[int] | type[float] | type[bool] = float
    min: float | None = 0.0
    max: float | None = None


@dataclass(frozen=True)
class Measurement:
    """A measurement: a name, its tags and its fields."""

    name: str
    help: str
    tags: tuple[Tag, ...]
    fields: tuple[Field, ...]

    @functools.cached_property
    def _tag_map(self) -> dict[str, Tag]:
        return {t.name: t for t in self.tags}

    @functools.cached_property
    def _field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def tag(self, name: str) -> Tag:
        """The tag definition called `name` (MetricError if this measurement has none)."""
        found = self._tag_map.get(name)
        if found is not None:
            return found
        raise MetricError(
            f"{self.name}: unknown tag {name!r}; known tags: {', '.join(t.name for t in self.tags)}"
        )

    def field(self, name: str) -> Field:
        """The field definition called `name` (MetricError if this measurement has none)."""
        found = self._field_map.get(name)
        if found is not None:
            return found
        raise MetricError(
            f"{self.name}: unknown field {name!r}; known fields: {', '.join(f.name for f in self.fields)}"
        )

    def promql(self, field_name: str) -> str:
        """The series name of one field in VictoriaMetrics, e.g. `iface_tx_bytes`."""
        return f"{self.name}_{self.field(field_name).name}"


# Units (UCUM-like spelling, also used by dashboards for axis labels).
BYTES = "bytes"
BPS = "bit/s"
PPS = "packet/s"
RATIO = "ratio"  # 0..1
PERCENT = "percent"  # 0..100
SECONDS = "s"
COUNT = "count"
BOOL = "bool"

IFACE = Measurement(
    "iface",
    "one network interface of one node (SNMP IF-MIB or /sys/class/net)",
    (
        Tag("node", "node name from the model, e.g. core1"),
        Tag("ifname", "interface name on that node, e.g. gn12e0"),
        Tag("link", "model link name, e.g. core1--core2", required=False),
        Tag("vlan", "VLAN name the interface carries, e.g. office", required=False),
        Tag("kind", "model link kind, e.g. ring, uplink, access", required=False),
        Tag("source", "where the counters come from", required=False, values=frozenset({"snmp", "kernel"})),
    ),
    (
        Field("rx_bytes", BYTES, "bytes received (IF-MIB ifHCInOctets)", "counter", int),
        Field("tx_bytes", BYTES, "bytes sent (IF-MIB ifHCOutOctets)", "counter", int),
        Field("rx_bps", BPS, "receive rate over the last poll interval"),
        Field("tx_bps", BPS, "send rate over the last poll interval"),
        Field("utilisation", RATIO, "max(rx, tx) rate over the link's model rate (may exceed 1 briefly)"),
        Field("errors", COUNT, "in + out errors", "counter", int),
        Field("discards", COUNT, "in + out discards", "counter", int),
        Field("oper_up", BOOL, "operational status is up", type=bool, min=None),
    ),
)

HOST = Measurement(
    "host",
    "one host's operating system (psutil inside its namespace)",
    (Tag("node", "node name from the model"),),
    (
        Field("cpu_pct", PERCENT, "CPU busy, all cores", max=100.0),
        Field("mem_pct", PERCENT, "memory in use", max=100.0),
        Field("mem_used_bytes", BYTES, "memory in use", type=int),
        Field("connections", COUNT, "open TCP/UDP sockets", type=int),
        Field("processes", COUNT, "running processes", type=int),
    ),
)

DEVICE = Measurement(
    "device",
    "one network device seen over SNMP (HOST-RESOURCES / UCD-SNMP MIBs)",
    (Tag("node", "node name from the model"),),
    (
        Field("uptime_s", SECONDS, "agent uptime (sysUpTime); a drop means a restart"),
        Field("cpu_pct", PERCENT, "CPU busy", max=100.0),
        Field("mem_pct", PERCENT, "memory in use", max=100.0),
        Field("routes", COUNT, "IPv4 routes in the kernel table (device CLI)", type=int),
    ),
)

POLLER = Measurement(
    "poller",
    "one monitoring poller's own health, one point per poll cycle",
    (Tag("poller", "poller name, e.g. snmp, host, cli"),),
    (
        Field("cycle_s", SECONDS, "how long the last cycle took"),
        Field("targets", COUNT, "targets polled in the cycle", type=int),
        Field("answered", COUNT, "targets that answered", type=int),
        Field("timeouts", COUNT, "targets that timed out", type=int),
        Field("completeness", RATIO, "answered / targets", max=1.0),
        Field("data_age_s", SECONDS, "age of the oldest datum written in the cycle"),
    ),
)

FW = Measurement(
    "fw",
    "one firewall member (nftables counters, conntrack)",
    (Tag("node", "firewall node name, e.g. fw-a"),),
    (
        Field("sessions", COUNT, "conntrack entries", type=int),
        Field("accepted", COUNT, "packets accepted", "counter", int),
        Field("dropped", COUNT, "packets dropped by policy", "counter", int),
        Field(
            "ruleset_drift", BOOL, "ruleset differs from the other members' (device CLI)", type=bool, min=None
        ),
        Field("pps", PPS, "packets/s received by the member (pair controller)"),
        Field("bps", BPS, "bits/s received by the member (pair controller)"),
        Field("load_share", RATIO, "the member's share of the pair's packets/s", max=1.0),
        Field("slot_share", RATIO, "the member's share of the hash slots (new flows steered to it)", max=1.0),
        Field(
            "in_service", BOOL, "the member is in the slot table (not failed, drained)", type=bool, min=None
        ),
        Field("healthy", BOOL, "the member answers its sub-second health probes", type=bool, min=None),
    ),
)

IDS = Measurement(
    "ids",
    "alerts raised by one IDS sensor, per signature",
    (
        Tag("sensor", "sensor name"),
        Tag("signature_id", "signature id (Suricata sid)"),
        Tag("severity", "1 (highest) .. 4", values=frozenset({"1", "2", "3", "4"})),
    ),
    (
        Field("alerts", COUNT, "alerts raised", "counter", int),
        Field(
            "pcre_limit_hits",
            COUNT,
            "pcre searches of the rule stopped by the match limit (counted as no match)",
            "counter",
            int,
        ),
    ),
)

LOGIN = Measurement(
    "login",
    "login attempts seen by the audit, per service and result",
    (
        Tag("service", "service name, e.g. oa, approval, ssh"),
        Tag("result", "outcome", values=frozenset({"success", "failure", "locked"})),
    ),
    (Field("attempts", COUNT, "attempts", "counter", int),),
)

HSM = Measurement(
    "hsm",
    "one storage tier of the hierarchical backup system",
    (Tag("tier", "tier name from the model, e.g. disk, tape"),),
    (
        Field("bytes", BYTES, "bytes stored", type=int),
        Field("files", COUNT, "files stored", type=int),
        Field("recalls", COUNT, "recalls served from this tier", "counter", int),
    ),
)

APP = Measurement(
    "app",
    "one application operation as the clients see it",
    (
        Tag("app", "application, e.g. oa, approval"),
        Tag("op", "operation, e.g. login, submit, query"),
    ),
    (
        Field("latency_s", SECONDS, "response time"),
        Field("ops", COUNT, "operations completed", "counter", int),
        Field("errors", COUNT, "operations that failed (refused, timed out, 4xx/5xx)", "gauge", int),
    ),
)

MEASUREMENTS: tuple[Measurement, ...] = (IFACE, HOST, DEVICE, POLLER, FW, IDS, LOGIN, HSM, APP)
REGISTRY: Mapping[str, Measurement] = {m.name: m for m in MEASUREMENTS}


def measurement(name: str) -> Measurement:
    """The registry entry called `name` (MetricError naming the known ones otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise MetricError(
            f"unknown measurement {name!r}; known measurements: {', '.join(REGISTRY)}"
        ) from None


def promql_name(measurement_name: str, field_name: str) -> str:
    """The VictoriaMetrics series name of a field written as line protocol: `measurement_field`."""
    return measurement(measurement_name).promql(field_name)


@dataclass(frozen=True)
class Point:
    """One measurement at one time: string tags, numeric fields, a timestamp in ns since the epoch."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int = field(default_factory=time.time_ns)

    def line(self) -> str:
        """The point as one line of InfluxDB line protocol (tags sorted, as the protocol prefers)."""
        tags = self.tags
        head = _escape_name(self.measurement) + "".join(
            f",{_escape_key(k)}={_escape_key(tags[k])}" for k in sorted(tags)
        )
        body = ",".join(f"{_escape_key(k)}={_value(v)}" for k, v in self.fields.items())
        return f"{head} {body} {self.time_ns}"


_NAME_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ "})


@functools.lru_cache(maxsize=256)
def _escape_name(text: str) -> str:
    return text.translate(_NAME_ESCAPES)


@functools.lru_cache(maxsize=65536)  # tag keys and values repeat: node and interface names
def _escape_key(text: str) -> str:
    return text.translate(_KEY_ESCAPES)


def _value(v: FieldValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    return repr(float(v))


def validate(point: Point) -> Point:
    """Check a point against the registry; returns it unchanged, or raises MetricError naming the fault."""
    m = measurement(point.measurement)
    where = m.name
    if not isinstance(point.time_ns, int) or isinstance(point.time_ns, bool) or point.time_ns <= 0:
        raise MetricError(
            f"{where}: time_ns must be a positive integer of ns since the epoch (got {point.time_ns!r})"
        )
    for key, val in point.tags.items():
        tag = m.tag(key)
        if not isinstance(val, str) or not val or "\n" in val:
            raise MetricError(f"{where}: tag {key!r} must be a non-empty one-line string (got {val!r})")
        if tag.values is not None and val not in tag.values:
            raise MetricError(
                f"{where}: tag {key!r} must be one of {', '.join(sorted(tag.values))} (got {val!r})"
            )
    missing = [t.name for t in m.tags if t.required and t.name not in point.tags]
    if missing:
        raise MetricError(f"{where}: missing tag(s) {', '.join(missing)}")
    if not point.fields:
        raise MetricError(
            f"{where}: a point needs at least one field ({', '.join(f.name for f in m.fields)})"
        )
    for fname, fval in point.fields.items():
        _check_field(where, m.field(fname), fval)
    return point


def _check_field(where: str, f: Field, val: object) -> None:
    label = f"{where}.{f.name}"
    if f.type is bool:
        if not isinstance(val, bool):
            raise MetricError(f"{label}: must be a boolean (got {val!r})")
        return
    if isinstance(val, bool) or not isinstance(val, int | float):
        raise MetricError(f"{label}: must be a number in {f.unit} (got {val!r}); strings belong in tags")
    if f.type is int and not isinstance(val, int):
        raise MetricError(f"{label}: must be an integer {f.kind} in {f.unit} (got {val!r})")
    if not math.isfinite(val):
        raise MetricError(f"{label}: must be finite (got {val!r})")
    if f.min is not None and val < f.min:
        raise MetricError(f"{label}: must be >= {f.min:g} {f.unit} (got {val!r})")
    if f.max is not None and val > f.max:
        raise MetricError(f"{label}: must be <= {f.max:g} {f.unit} (got {val!r})")
    if f.type is int and not -(2**63) <= val < 2**64:
        raise MetricError(f"{label}: integer out of 64-bit range (got {val!r})")


def check_registry(measurements: tuple[Measurement, ...] = MEASUREMENTS) -> list[str]:
    """Consistency problems of the registry itself (names, duplicates, tag/field clashes); [] if none."""
    problems: list[str] = []
    seen: set[str] = set()
    series: dict[str, str] = {}
    for m in measurements:
        if not _NAME.match(m.name):
            problems.append(f"{m.name!r}: measurement name must be lower_snake_case")
        if m.name in seen:
            problems.append(f"{m.name}: defined twice")
        seen.add(m.name)
        if not m.fields:
            problems.append(f"{m.name}: no fields")
        names = [t.name for t in m.tags] + [f.name for f in m.fields]
        for n in names:
            if not _NAME.match(n):
                problems.append(f"{m.name}.{n}: name must be lower_snake_case")
            if names.count(n) > 1:
                problems.append(f"{m.name}.{n}: used more than once (tags and fields share one namespace)")
        for f in m.fields:
            other = series.setdefault(f"{m.name}_{f.name}", f"{m.name}.{f.name}")
            if other != f"{m.name}.{f.name}":
                problems.append(f"{m.name}.{f.name}: series name {m.name}_{f.name} clashes with {other}")
            if f.kind == "counter" and f.type is not int:
                problems.append(f"{m.name}.{f.name}: a counter must be an integer")
            if f.min is not None and f.max is not None and f.min > f.max:
                problems.append(f"{m.name}.{f.name}: min > max")
            if not f.unit or not f.help:
                problems.append(f"{m.name}.{f.name}: needs a unit and a help text")
    return sorted(set(problems))
