"""The network model's YAML schema, built from the checkers of topology.schema: strict structural
validation with defaults, and the JSON Schema editors check model files against.

`validate_structure(data, source)` returns the normalised model (plain dicts, every default filled
in) or raises ModelError with one Problem per mistake. Unknown fields are errors. Cross-references
(VLAN names, cores, zones, overlapping subnets, duplicate names) are checked when the model is
expanded (topology.expand).
"""

from __future__ import annotations

import re
from typing import Any

from govnet.errors import ModelError, Problem
from topology.schema import (
    MISSING,
    REQUIRED,
    Checker,
    Checker_,
    bool_field,
    bw_field,
    described,
    dict_of,
    enum_field,
    int_field,
    json_schema_of,
    list_of,
    name_field,
    nonneg_number,
    obj,
    subnet_field,
    text_field,
    type_name,
)

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
        v.err(path, f"must be a service like tcp/443, not {type_name(value)}", value, SERVICE_FIX)
        return MISSING
    m = SERVICE_RE.match(value)
    if not m or (m.group(2) is not None and not 1 <= int(m.group(2)) <= 65535):
        v.err(path, "is not a valid service", value, SERVICE_FIX)
        return MISSING
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
        return MISSING
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
