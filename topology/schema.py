"""The network model's YAML schema: strict structural validation with defaults.

`validate(data, source)` returns the normalised model (plain dicts, every default filled in) or
raises ModelError with one Problem per mistake. Unknown fields are errors. Cross-references
(VLAN names, cores, zones, overlapping subnets, duplicate names) are checked in `semantics.py`.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from govnet.errors import ModelError, Problem

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
SUBNET_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/([0-9]|[12][0-9]|30)$"
NAME_FIX = "use lower-case letters, digits and '-', starting with a letter, at most 40 characters"
REQUIRED = object()

Checker = Callable[["Checker_", Any, str], Any]

# The JSON Schema (draft 2020-12) of each checker, declared beside it, so that the file an editor
# checks against (`govnet topo schema`) is derived from the same declarations that validate the model.
_JSON: dict[Checker, dict[str, Any]] = {}


def described(schema: dict[str, Any]) -> Callable[[Checker], Checker]:
    """Declare the JSON Schema of a checker (a decorator)."""

    def mark(check: Checker) -> Checker:
        _JSON[check] = schema
        return check

    return mark


def json_schema_of(check: Checker) -> dict[str, Any]:
    """The JSON Schema of a checker; {} (anything) for one that declared none."""
    return dict(_JSON.get(check, {}))


class Checker_:
    """Collects problems while walking one model file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def err(self, path: str, message: str, got: object = None, fix: str = "", has_value: bool = True) -> None:
        self.problems.append(Problem(self.source, path, message, got, fix, has_value))


_MISSING = object()


def _type_name(value: object) -> str:
    return type(value).__name__ if value is not None else "null"


@described({"type": "string", "pattern": NAME_RE.pattern})
def name_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        v.err(path, f"must be a name (text), not {_type_name(value)}", value, NAME_FIX)
        return _MISSING
    if not NAME_RE.match(value):
        v.err(path, "is not a valid name", value, NAME_FIX)
        return _MISSING
    return value


@described({"type": "string"})
def text_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        v.err(path, f"must be text, not {_type_name(value)}", value, "quote it")
        return _MISSING
    return value


def int_field(lo: int, hi: int) -> Checker:
    def check(v: Checker_, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            v.err(
                path, f"must be a whole number, not {_type_name(value)}", value, f"use an integer {lo}..{hi}"
            )
            return _MISSING
        if not lo <= value <= hi:
            v.err(path, f"must be between {lo} and {hi}", value, f"use an integer {lo}..{hi}")
            return _MISSING
        return value

    return described({"type": "integer", "minimum": lo, "maximum": hi})(check)


@described({"type": "number", "exclusiveMinimum": 0, "maximum": 100_000, "description": "Mbit/s"})
def bw_field(v: Checker_, value: Any, path: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        v.err(path, f"bandwidth must be a number of Mbit/s, not {_type_name(value)}", value, "e.g. 100")
        return _MISSING
    if value != value:  # NaN compares false with everything and would slip through the range checks
        v.err(path, "bandwidth must be a number of Mbit/s, not NaN", value, "e.g. 100")
        return _MISSING
    if value <= 0:
        v.err(path, "bandwidth must be positive", value, "give the link rate in Mbit/s, e.g. 1000")
        return _MISSING
    if value > 100_000:
        v.err(path, "bandwidth is above 100000 Mbit/s", value, "give the rate in Mbit/s, e.g. 1000")
        return _MISSING
    return value


def nonneg_number(hi: float, unit: str) -> Checker:
    def check(v: Checker_, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            v.err(path, f"must be a number of {unit}, not {_type_name(value)}", value, f"e.g. 0 (0..{hi})")
            return _MISSING
        if not 0 <= value <= hi:
            v.err(path, f"must be between 0 and {hi} {unit}", value, f"use 0..{hi}")
            return _MISSING
        return value

    return described({"type": "number", "minimum": 0, "maximum": hi, "description": unit})(check)


@described({"type": "boolean"})
def bool_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, bool):
        v.err(path, f"must be true or false, not {_type_name(value)}", value, "write true or false")
        return _MISSING
    return value


@described({"type": "string", "pattern": SUBNET_PATTERN, "description": "IPv4 ADDRESS/PREFIX, /30 or larger"})
def subnet_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str):
        v.err(path, f"must be an IPv4 subnet like 10.10.0.0/16, not {_type_name(value)}", value, "quote it")
        return _MISSING
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        fix = "write it as ADDRESS/PREFIX with the host bits zero, e.g. 10.10.0.0/16"
        try:
            loose = ipaddress.IPv4Network(value, strict=False)
            fix = f"did you mean {loose}?"
        except ValueError:
            pass
        v.err(path, f"is not a valid IPv4 subnet ({exc})", value, fix)
        return _MISSING
    if net.prefixlen > 30:
        v.err(path, "subnet is too small (longer than /30)", value, "use a /30 or larger")
        return _MISSING
    return str(net)


def list_of(item: Checker, min_len: int = 0) -> Checker:
    def check(v: Checker_, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            v.err(path, f"must be a list, not {_type_name(value)}", value, "write a YAML list (- item)")
            return _MISSING
        if len(value) < min_len:
            v.err(path, f"needs at least {min_len} item(s)", value, "add the missing entries")
            return _MISSING
        out = []
        for i, x in enumerate(value):
            r = item(v, x, f"{path}[{i}]")
            if r is not _MISSING:
                out.append(r)
        return out

    schema: dict[str, Any] = {"type": "array", "items": json_schema_of(item)}
    if min_len:
        schema["minItems"] = min_len
    return described(schema)(check)


def dict_of(item: Checker) -> Checker:
    """A mapping of names to values checked by `item`."""

    def check(v: Checker_, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            v.err(path, f"must be a mapping, not {_type_name(value)}", value, "write name: value pairs")
            return _MISSING
        out = {}
        for key, x in value.items():
            if name_field(v, key, _join(path, str(key))) is _MISSING:
                continue
            r = item(v, x, _join(path, str(key)))
            if r is not _MISSING:
                out[key] = r
        return out

    return described(
        {
            "type": "object",
            "propertyNames": {"pattern": NAME_RE.pattern},
            "additionalProperties": json_schema_of(item),
        }
    )(check)


def obj(fields: dict[str, tuple[Checker, Any]], doc: str = "") -> Checker:
    """A mapping with exactly these fields; (checker, default) where default may be REQUIRED."""

    def check(v: Checker_, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            v.err(
                path or "(top level)",
                f"must be a mapping{doc}, not {_type_name(value)}",
                value,
                "write key: value pairs",
            )
            return _MISSING
        out: dict[str, Any] = {}
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                fix = f"did you mean '{close[0]}'?" if close else f"allowed fields: {', '.join(fields)}"
                v.err(_join(path, str(key)), "unknown field", key, fix)
        for key, (checker, default) in fields.items():
            sub = _join(path, key)
            if key in value:
                r = checker(v, value[key], sub)
                if r is not _MISSING:
                    out[key] = r
            elif default is REQUIRED:
                v.err(sub, "is required", None, f"add '{key}:'", has_value=False)
            elif default is dict:
                r = checker(v, {}, sub)
                if r is not _MISSING:
                    out[key] = r
            elif default is list:
                out[key] = []
            elif callable(default):
                out[key] = default()
            else:
                out[key] = default
        return out

    props: dict[str, Any] = {}
    for key, (checker, default) in fields.items():
        props[key] = json_schema_of(checker)
        if isinstance(default, str | int | float | bool) and default is not REQUIRED:
            props[key]["default"] = default
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [k for k, (_c, d) in fields.items() if d is REQUIRED]
    if required:
        schema["required"] = required
    return described(schema)(check)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def enum_field(*allowed: str) -> Checker:
    """One of these words."""

    def check(v: Checker_, value: Any, path: str) -> Any:
        if value not in allowed:
            v.err(path, "is not one of the allowed values", value, f"use one of: {', '.join(allowed)}")
            return _MISSING
        return value

    return described({"enum": list(allowed)})(check)


# --- the schema --------------------------------------------------------------------------

_LINK_OPTS: dict[str, tuple[Checker, Any]] = {
    "delay_ms": (nonneg_number(10_000, "ms"), 0),
    "loss_pct": (nonneg_number(100, "%"), 0),
}

_LAN = obj(
    {
        "vlan": (name_field, REQUIRED),
        "bw_mbps": (bw_field, REQUIRED),
        "hosts": (list_of(name_field), list),
        "count": (int_field(0, 250), 0),
        "host_prefix": (name_field, "pc"),
        "kind": (enum_field("host", "server"), "host"),
    }
)

_GATEWAY = obj(
    {
        "name": (name_field, REQUIRED),
        "kind": (enum_field("router", "firewall"), "router"),
    }
)

_UPLINK = obj({"bw_mbps": (bw_field, REQUIRED), "members": (int_field(1, 8), 1), **_LINK_OPTS})

_SITE = obj(
    {
        "name": (name_field, REQUIRED),
        "description": (text_field, ""),
        "core": (name_field, REQUIRED),
        "gateway": (_GATEWAY, REQUIRED),
        "uplink": (_UPLINK, REQUIRED),
        "lans": (list_of(_LAN, 1), REQUIRED),
    }
)

_BUREAUS = obj(
    {
        "names": (list_of(name_field), list),
        "uplink": (_UPLINK, REQUIRED),
        "lans": (list_of(_LAN, 1), REQUIRED),
    }
)

_EXIT = obj(
    {
        "core": (name_field, REQUIRED),
        "firewall": (obj({"prefix": (name_field, "fw"), "bw_mbps": (bw_field, 1000)}), dict),
        "uplink": (obj({"bw_mbps": (bw_field, REQUIRED), **_LINK_OPTS}), REQUIRED),
        "dmz": (
            obj(
                {
                    "vlan": (name_field, REQUIRED),
                    "bw_mbps": (bw_field, 1000),
                    "hosts": (list_of(name_field), list),
                }
            ),
            REQUIRED,
        ),
        "internet": (
            obj(
                {
                    "router": (name_field, "isp"),
                    "bw_mbps": (bw_field, 1000),
                    "hosts": (list_of(name_field), list),
                }
            ),
            dict,
        ),
    }
)

_VLAN = obj(
    {
        "id": (int_field(1, 4094), REQUIRED),
        "name": (name_field, REQUIRED),
        "subnet": (subnet_field, REQUIRED),
        "zone": (name_field, REQUIRED),
        "routed": (bool_field, True),
        "description": (text_field, ""),
    }
)

SERVICE_RE = re.compile(r"^(tcp|udp)/(\d{1,5})$|^icmp$")
SERVICE_FIX = "write tcp/PORT, udp/PORT (port 1-65535) or icmp, e.g. tcp/443"


@described({"type": "string", "pattern": SERVICE_RE.pattern, "description": "tcp/PORT, udp/PORT or icmp"})
def service_field(v: Checker_, value: Any, path: str) -> Any:
    """A service as PROTO/PORT (tcp/443, udp/53) or icmp."""
    if not isinstance(value, str):
        v.err(path, f"must be a service like tcp/443, not {_type_name(value)}", value, SERVICE_FIX)
        return _MISSING
    m = SERVICE_RE.match(value)
    if not m or (m.group(2) is not None and not 1 <= int(m.group(2)) <= 65535):
        v.err(path, "is not a valid service", value, SERVICE_FIX)
        return _MISSING
    return value


HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@described(
    {"type": "string", "pattern": "^$|" + HOURS_RE.pattern, "description": "HH:MM-HH:MM; empty: always"}
)
def hours_field(v: Checker_, value: Any, path: str) -> Any:
    """A daily time window HH:MM-HH:MM (firewall local time); may wrap midnight (22:00-06:00); "" = always."""
    if value == "":
        return ""
    if not isinstance(value, str) or not HOURS_RE.match(value) or value[:5] == value[6:]:
        v.err(
            path,
            "is not a time window",
            value,
            "write HH:MM-HH:MM with two different times, e.g. 08:00-18:00",
        )
        return _MISSING
    return value


@described({"anyOf": [json_schema_of(subnet_field), json_schema_of(name_field)]})
def source_field(v: Checker_, value: Any, path: str) -> Any:
    """A source range (IPv4 subnet) or the name of a user group from `groups`."""
    if isinstance(value, str) and "/" in value:
        return subnet_field(v, value, path)
    return name_field(v, value, path)


_POLICY = obj(
    {
        "from": (name_field, REQUIRED),
        "to": (name_field, REQUIRED),
        "services": (list_of(service_field), list),  # empty: every service
        # access management: only these source ranges / user groups, only in this daily window
        "sources": (list_of(source_field), list),
        "hours": (hours_field, ""),
    }
)

_EXTRA_LINK = obj(
    {"a": (name_field, REQUIRED), "b": (name_field, REQUIRED), "bw_mbps": (bw_field, REQUIRED), **_LINK_OPTS}
)

_PARAMETERS = obj(
    {
        "ring_size": (int_field(3, 64), 4),
        "distribution_per_core": (int_field(0, 16), 2),
        "bureaus": (int_field(0, 250), 0),
        "desktops_per_bureau": (int_field(0, 250), 1),
        "firewall_members": (int_field(1, 8), 2),
    }
)

MODEL = obj(
    {
        "name": (name_field, REQUIRED),
        "description": (text_field, ""),
        "parameters": (_PARAMETERS, dict),
        "addressing": (
            obj(
                {
                    "infrastructure": (subnet_field, "10.255.0.0/16"),
                    "internet": (subnet_field, "198.18.0.0/15"),
                }
            ),
            dict,
        ),
        "vlans": (list_of(_VLAN, 1), REQUIRED),
        "zones": (list_of(name_field), list),
        "policy": (list_of(_POLICY), list),
        "backbone": (
            obj(
                {
                    "ring": (
                        obj(
                            {
                                "prefix": (name_field, "core"),
                                "bw_mbps": (bw_field, 1000),
                                "medium": (enum_field("fibre", "copper"), "fibre"),
                                **_LINK_OPTS,
                            }
                        ),
                        dict,
                    ),
                    "distribution": (
                        obj({"prefix": (name_field, "dist"), "bw_mbps": (bw_field, 1000)}),
                        dict,
                    ),
                }
            ),
            dict,
        ),
        "sites": (list_of(_SITE), list),
        "bureaus": (_BUREAUS, None),
        "exit": (_EXIT, None),
        "extra_links": (list_of(_EXTRA_LINK), list),
        "forbidden_services": (list_of(service_field), list),  # blocked at every firewall, logged
        # user groups by address range, for policy `sources` (e.g. finance-staff: [10.10.2.0/24])
        "groups": (dict_of(list_of(subnet_field, 1)), dict),
    },
    doc=" (a network model)",
)


MODEL_DOCS = {
    "name": "the model's name (run directories and reports use it)",
    "parameters": "numbers that grow the generated parts: ring size, bureaus, firewall members",
    "addressing": "pools for infrastructure links and the emulated Internet",
    "vlans": "every VLAN: id, name, subnet, security zone",
    "zones": "security zones, graded by security level",
    "policy": "allowed flows between zones (default deny), with sources and hours",
    "backbone": "the core ring and the distribution layer",
    "sites": "departments and their LANs, each on a core router",
    "bureaus": "bureaus generated from one template",
    "exit": "the firewall pair, the DMZ and the Internet uplink",
    "extra_links": "links beyond the generated ones",
    "forbidden_services": "services blocked and logged at every firewall",
    "groups": "user groups by address range, for policy sources",
}


def model_json_schema() -> dict[str, Any]:
    """The network model's JSON Schema (draft 2020-12), for editors: `govnet topo schema`."""
    body = json_schema_of(MODEL)
    body["properties"] = {
        k: {**v, "description": MODEL_DOCS.get(k, "")} for k, v in body["properties"].items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "govnet network model",
        "description": "A city network: VLANs, zones and policy, backbone ring, sites, bureaus, exit. "
        "govnet topo check gives the file:line of each mistake and checks cross-references too.",
        **body,
    }


def validate_structure(data: Any, source: str) -> dict[str, Any]:
    """Check fields and types, fill defaults; raise ModelError listing every structural problem."""
    v = Checker_(source)
    if data is None:
        raise ModelError(
            [
                Problem(
                    source,
                    "",
                    "the file is empty",
                    has_value=False,
                    fix="start from topology/models/small.yaml",
                )
            ]
        )
    out = MODEL(v, data, "")
    if v.problems:
        raise ModelError(v.problems)
    assert isinstance(out, dict)
    return out
