"""A lab's expectations: typed checks of what must have happened, evaluated after the run from the
event stream, the timeline's records and the parts' results (results.json's `metrics`, `checks`).

Each expectation is `{kind: ..., <params>}` (kinds in `KINDS`, checked before anything starts) and
evaluates to a record `{name, kind, expected, measured, ok, text}` whose text is a sentence. Missing
data (a part that did not run, a figure a part does not record) fails the expectation with a text
saying what was missing; it never raises. This module checks them (schema, against the scenario);
labs/evaluate.py evaluates them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from govnet.errors import Problem
from govnet.eventkinds import KINDS as EVENT_KINDS
from labs.timeline import DO_RE
from topology.schema import (
    MISSING,
    REQUIRED,
    Checker,
    Checker_,
    described,
    enum_field,
    json_schema_of,
    obj,
    text_field,
)

CHECK_NAMES = ("reachability", "rates", "heal")  # labs.parts.network.CHECKS


@described({"enum": sorted(EVENT_KINDS), "description": "an event kind (govnet/eventkinds.py)"})
def event_kind_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str) or value not in EVENT_KINDS:
        close = difflib.get_close_matches(str(value), list(EVENT_KINDS), n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(EVENT_KINDS)}"
        v.err(path, "is not an event kind", value, fix)
        return MISSING
    return value


def _number(lo: float, *, whole: bool = False, above: bool = False, unit: str = "") -> Checker:
    word = "a whole number" if whole else "a number"
    bound = f"above {lo:g}" if above else f"at least {lo:g}"

    def check(v: Checker_, value: Any, path: str) -> Any:
        ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or value != value or (value <= lo if above else value < lo):
            v.err(
                path,
                f"must be {word} {bound}" + (f" ({unit})" if unit else ""),
                value,
                f"e.g. {max(lo, 1):g}",
            )
            return MISSING
        return value

    schema: dict[str, Any] = {"type": "integer" if whole else "number"}
    schema["exclusiveMinimum" if above else "minimum"] = lo
    if unit:
        schema["description"] = unit
    return described(schema)(check)


@described(
    {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": DO_RE.pattern}],
        "description": "the timeline entry: its index, or PART.ACTION (the first such entry)",
    }
)
def after_field(v: Checker_, value: Any, path: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and DO_RE.match(value):
        return value
    v.err(path, "must name a timeline entry", value, "give its index (0 is the first) or PART.ACTION")
    return MISSING


_COMMON: dict[str, tuple[Checker, Any]] = {"name": (text_field, "")}
_FIELDS: dict[str, dict[str, tuple[Checker, Any]]] = {
    "no_event": {"event": (event_kind_field, REQUIRED), "subject": (text_field, "")},
    "event_within": {
        "event": (event_kind_field, REQUIRED),
        "within_s": (_number(0, above=True, unit="seconds"), REQUIRED),
        "after": (after_field, REQUIRED),
        "subject": (text_field, ""),
    },
    "max_outage_ms": {
        "max": (_number(0, unit="milliseconds"), REQUIRED),
        "source": (enum_field("probe", "firewall"), None),
    },
    "sessions_lost": {"max": (_number(0, whole=True), 0)},
    "validation_error_max": {
        "max": (_number(0, above=True, unit="mean relative error, 0.1 is 10 %"), REQUIRED)
    },
    "points_lost": {"max": (_number(0, whole=True), 0)},
    "check_passed": {"check": (enum_field(*CHECK_NAMES), None)},
    "no_false_block": {},
    "link_utilisation_max": {
        "max": (_number(0, above=True, unit="share of capacity, 0.8 is 80 %"), REQUIRED),
        "link": (text_field, ""),
    },
}
KINDS = tuple(_FIELDS)
_SCHEMAS = {k: obj({"kind": (enum_field(k), REQUIRED), **_COMMON, **f}) for k, f in _FIELDS.items()}


def _expectation(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        v.err(path, "must be a mapping {kind: ..., ...}", value, f"kinds: {', '.join(KINDS)}")
        return None
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in _SCHEMAS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(KINDS)}"
        if "kind" not in value:
            v.err(f"{path}.kind", "is required", None, f"add 'kind:' ({', '.join(KINDS)})", has_value=False)
        else:
            v.err(f"{path}.kind", "is not an expectation kind", kind, fix)
        return None
    before = len(v.problems)
    out = _SCHEMAS[kind](v, value, path)
    return out if len(v.problems) == before else None


def _expectations_check(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, list):
        v.err(
            path,
            "must be a list of {kind: ...} entries",
            value,
            "e.g. - {kind: no_event, event: fw.split_brain}",
        )
        return MISSING
    return [_expectation(v, x, f"{path}[{i}]") for i, x in enumerate(value)]


expectations_field = described(
    {
        "type": "array",
        "items": {"oneOf": [json_schema_of(s) for s in _SCHEMAS.values()]},
        "description": "checks evaluated after the run; a lab passes only when every one holds",
    }
)(_expectations_check)


# --- against the scenario ------------------------------------------------------------------------
def expectation_problems(
    expectations: Sequence[Mapping[str, Any] | None],
    timeline: Sequence[Mapping[str, Any] | None],
    parts: Iterable[str],
    checks: Sequence[str],
    source: str,
) -> list[Problem]:
    """What the expectations name that this lab lacks: timeline entries, parts, checks."""
    keys = set(parts)
    dos = [str(e["do"]) for e in timeline if e is not None]
    needs = {
        "sessions_lost": (
            "firewall",
            "the lab has no firewall pair",
            "use a model with firewall_members >= 2",
        ),
        "validation_error_max": ("validate", "the lab does not run the validation", "add 'validate: true'"),
        "points_lost": ("monitor", "the lab does not run the monitoring", "remove 'monitor: false'"),
        "no_false_block": ("ids", "the lab runs no NIDS, so nothing blocks", "add 'ids: true'"),
        "link_utilisation_max": ("monitor", "the lab does not run the monitoring", "remove 'monitor: false'"),
    }
    out = []
    for i, e in enumerate(expectations):
        if e is None:
            continue
        where, kind = f"expectations[{i}]", e["kind"]
        if kind in needs and needs[kind][0] not in keys:
            out.append(Problem(source, f"{where}.kind", needs[kind][1], kind, needs[kind][2]))
        if kind == "event_within":
            after = e["after"]
            if not dos:
                out.append(
                    Problem(
                        source, f"{where}.after", "the scenario has no timeline", after, "add 'timeline:'"
                    )
                )
            elif isinstance(after, int) and after >= len(timeline):
                fix = f"the timeline has {len(timeline)} entries: 0 to {len(timeline) - 1}"
                out.append(Problem(source, f"{where}.after", "no timeline entry with this index", after, fix))
            elif isinstance(after, str) and after not in dos:
                fix = f"use one of: {', '.join(dict.fromkeys(dos))}"
                out.append(Problem(source, f"{where}.after", "no timeline entry does this", after, fix))
        if kind == "max_outage_ms" and e["source"]:
            part = e["source"]
            if part not in keys:
                fix = (
                    "add 'probe: {src: HOST, dst: HOST}'"
                    if part == "probe"
                    else "use a model with a firewall pair"
                )
                out.append(Problem(source, f"{where}.source", f"the lab has no {part} part", part, fix))
        if kind == "max_outage_ms" and not e["source"] and not keys & {"probe", "firewall"}:
            out.append(
                Problem(
                    source,
                    f"{where}.kind",
                    "nothing in this lab measures outages",
                    kind,
                    "add 'probe: {src, dst}'",
                )
            )
        if kind == "check_passed" and e["check"] and e["check"] not in checks:
            out.append(
                Problem(
                    source,
                    f"{where}.check",
                    "this check is not run by the scenario",
                    e["check"],
                    "add it to 'checks:'",
                )
            )
    return out
