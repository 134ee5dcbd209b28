"""A lab's expectations: typed checks of what must have happened, evaluated after the run from the
event stream, the timeline's records and the parts' results (results.json's `metrics`, `checks`).

Each expectation is `{kind: ..., <params>}` (kinds in `KINDS`, checked before anything starts) and
evaluates to a record `{name, kind, expected, measured, ok, text}` whose text is a sentence. Missing
data (a part that did not run, a figure a part does not record) fails the expectation with a text
saying what was missing; it never raises.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


# --- evaluation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """One event as the expectations see it: `at` is on the timeline clock (None: no clock)."""

    kind: str
    subject: str
    at: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Facts:
    """What a run left behind: its events, results.json's `metrics` and `checks`, the timeline records."""

    events: list[Seen] = field(default_factory=list)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    checks: Mapping[str, Any] | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)


def _outcome(
    e: Mapping[str, Any], default: str, expected: Any, measured: Any, ok: bool, text: str
) -> dict[str, Any]:
    return {
        "name": e.get("name") or default,
        "kind": e["kind"],
        "expected": expected,
        "measured": measured,
        "ok": bool(ok),
        "text": text,
    }


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _matching(facts: Facts, e: Mapping[str, Any]) -> list[Seen]:
    sub = e.get("subject") or ""
    return [s for s in facts.events if s.kind == e["event"] and sub in s.subject]


def _no_event(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    seen = _matching(facts, e)
    what = e["event"] + (f" about '{e['subject']}'" if e.get("subject") else "")
    if not seen:
        return _outcome(e, f"no {what}", 0, 0, True, f"no {what} event, expected none")
    first = f"first: {seen[0].subject}" if seen[0].subject else ""
    text = f"{_plural(len(seen), what + ' event')}" + (f" ({first})" if first else "") + ", expected none"
    return _outcome(e, f"no {what}", 0, len(seen), False, text)


def _find_action(facts: Facts, after: int | str) -> dict[str, Any] | None:
    for rec in facts.timeline:
        if rec.get("index") == after or (isinstance(after, str) and rec.get("do") == after):
            return rec
    return None


def _event_within(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    within, after = float(e["within_s"]), e["after"]
    what = e["event"] + (f" about '{e['subject']}'" if e.get("subject") else "")
    name = f"{what} within {within:g} s of " + (after if isinstance(after, str) else f"timeline[{after}]")
    act = _find_action(facts, after)
    if act is None:
        label = after if isinstance(after, str) else f"timeline[{after}]"
        return _outcome(
            e,
            name,
            within,
            None,
            False,
            f"no timeline action {label} was recorded, so {what} cannot be timed",
        )
    label = f"{act['do']} (timeline[{act['index']}])"
    if act.get("executed_s") is None:
        why = act.get("error") or act.get("state") or "it did not run"
        return _outcome(
            e, name, within, None, False, f"{label} did not run ({why}), so {what} cannot be timed"
        )
    t = float(act["executed_s"])
    delays = sorted(s.at - t for s in _matching(facts, e) if s.at is not None and s.at >= t)
    if not delays:
        return _outcome(
            e, name, within, None, False, f"no {what} event after {label}, expected within {within:g} s"
        )
    d = round(delays[0], 3)
    if d <= within:
        return _outcome(
            e, name, within, d, True, f"{what} {d:.2f} s after {label}, expected within {within:g} s"
        )
    return _outcome(
        e,
        name,
        within,
        d,
        False,
        f"the first {what} came {d:.2f} s after {label}, expected within {within:g} s",
    )


def _max_outage(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    bound = float(e["max"])
    name = f"outage at most {_n(bound)} ms"
    probe = facts.metrics.get("probe")
    failovers = [s for s in facts.events if s.kind == "fw.failover" and "silent_s" in s.detail]
    source = e.get("source") or ("probe" if isinstance(probe, Mapping) else "firewall")
    measured: float | None = None
    missing = how = ""
    if source == "probe":
        if isinstance(probe, Mapping) and isinstance(probe.get("longest_gap_s"), int | float):
            measured, how = float(probe["longest_gap_s"]) * 1000, "the probe's longest silence"
        else:
            missing = "the probe recorded no result (it did not run or did not stop cleanly)"
    else:
        gaps = [
            float(s.detail["silent_s"]) for s in failovers if isinstance(s.detail["silent_s"], int | float)
        ]
        if gaps:
            measured, how = max(gaps) * 1000, "the firewall pair's longest failover detection"
        else:
            missing = "no outage was measured: no probe result and no firewall failover recorded"
    if measured is None:
        return _outcome(e, name, bound, None, False, f"{missing}; expected at most {_n(bound)} ms")
    measured = round(measured, 1)
    return _outcome(
        e,
        name,
        bound,
        measured,
        measured <= bound,
        f"longest outage {_n(measured)} ms ({how}), expected at most {_n(bound)} ms",
    )


def _figure(
    e: Mapping[str, Any],
    facts: Facts,
    name: str,
    get: Callable[[Mapping[str, Any]], Any],
    missing: str,
    say: str,
) -> dict[str, Any]:
    bound = e["max"]
    value = get(facts.metrics)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _outcome(e, name, bound, None, False, f"{missing}; expected at most {_n(bound)}")
    return _outcome(e, name, bound, value, value <= bound, say.format(value=_n(value), bound=_n(bound)))


def _dig(m: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(m, Mapping):
            return None
        m = m.get(k)  # type: ignore[assignment]
    return m


def _sessions_lost(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    fw = facts.metrics.get("firewall_pair")
    missing = (
        "the firewall pair recorded no count of lost sessions"
        if isinstance(fw, Mapping)
        else "the firewall pair left no result (it did not run)"
    )
    return _figure(
        e,
        facts,
        "no session lost" if not e["max"] else f"at most {e['max']} sessions lost",
        lambda m: _dig(m, "firewall_pair", "sessions_lost"),
        missing,
        "{value} sessions lost across the firewall pair, expected at most {bound}",
    )


def _validation(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    bound = float(e["max"])
    name = f"validation error at most {bound:.0%}"
    v = facts.metrics.get("validation")
    rel = v.get("mean_relative_error") if isinstance(v, Mapping) else None
    if isinstance(rel, bool) or not isinstance(rel, int | float):
        missing = (
            "the validation measured no link at 1 % utilisation or more"
            if isinstance(v, Mapping)
            else "the validation left no result (it did not run)"
        )
        return _outcome(e, name, bound, None, False, f"{missing}; expected at most {bound:.0%}")
    return _outcome(
        e,
        name,
        bound,
        rel,
        rel <= bound,
        f"mean relative error {rel:.1%} (simulator vs emulator), expected at most {bound:.0%}",
    )


def _points_lost(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    bound = int(e["max"])
    name = "no metric point lost" if not bound else f"at most {bound} metric points lost"
    dropped = facts.metrics.get("points_dropped")
    gaps = [s for s in facts.events if s.kind == "monitor.gap"]
    if isinstance(dropped, bool) or not isinstance(dropped, int):
        text = (
            f"the monitoring recorded no count of dropped points; {_plural(len(gaps), 'monitor.gap event')}"
        )
        return _outcome(e, name, bound, None, False, f"{text}; expected at most {bound}")
    ok = dropped <= bound and (bound > 0 or not gaps)
    gap_events = _plural(len(gaps), "monitor.gap event")
    text = f"{_plural(dropped, 'point')} dropped, {gap_events}, expected at most {bound}"
    return _outcome(e, name, bound, dropped, ok, text)


def _check_passed(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    which = e.get("check") or ""
    label = f"{which} checks" if which else "checks"
    name = f"{label} pass"
    rows = facts.checks.get("rows") if isinstance(facts.checks, Mapping) else None
    if not isinstance(rows, list):
        return _outcome(
            e,
            name,
            0,
            None,
            False,
            f"the checks left no result (they did not run); expected every {label[:-1]} to pass",
        )
    rows = [r for r in rows if isinstance(r, Mapping) and (not which or r.get("check") == which)]
    if not rows:
        return _outcome(e, name, 0, None, False, f"no {label[:-1]} ran; expected every {label[:-1]} to pass")
    bad = [r for r in rows if not r.get("ok")]
    if not bad:
        return _outcome(e, name, 0, 0, True, f"all {len(rows)} {label} passed")
    first = f"{bad[0].get('check')} {bad[0].get('subject')}: {bad[0].get('measured')}"
    return _outcome(
        e,
        name,
        0,
        len(bad),
        False,
        f"{len(bad)} of {len(rows)} {label} failed (first: {first}), expected all to pass",
    )


_EVAL: dict[str, Callable[[Mapping[str, Any], Facts], dict[str, Any]]] = {
    "no_event": _no_event,
    "event_within": _event_within,
    "max_outage_ms": _max_outage,
    "sessions_lost": _sessions_lost,
    "validation_error_max": _validation,
    "points_lost": _points_lost,
    "check_passed": _check_passed,
}


def evaluate(expectations: Iterable[Mapping[str, Any] | None], facts: Facts) -> list[dict[str, Any]]:
    """Every expectation's record, in file order; an evaluation that raises (a bug or a result of an
    unforeseen shape) fails that expectation with the error in its text."""
    out = []
    for e in expectations:
        if e is None:
            continue
        try:
            out.append(_EVAL[e["kind"]](e, facts))
        except Exception as exc:
            text = f"could not be evaluated: {type(exc).__name__}: {exc}"[:300]
            out.append(_outcome(e, str(e["kind"]), None, None, False, text))
    return out


def report_lines(outcomes: Sequence[Mapping[str, Any]]) -> list[str]:
    """The report's `## Expectations` section."""
    if not outcomes:
        return []
    lines = ["## Expectations", "", "| expectation | result | what was measured |", "| --- | --- | --- |"]
    lines += [f"| {o['name']} | {'ok' if o['ok'] else 'FAILED'} | {o['text']} |" for o in outcomes]
    return [*lines, ""]
