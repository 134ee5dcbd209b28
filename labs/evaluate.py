"""Evaluating a lab's expectations (their schema is labs/expect.py) after the run: each one, from
what the run left behind (`Facts`: events on the timeline clock, results.json's metrics and checks,
the timeline's records), becomes `{name, kind, expected, measured, ok, text}` with a sentence for
people; missing data fails it with a text saying what was missing, it never raises."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


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


def _no_false_block(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    """Every block the NIDS put in force was of a source that attacked (metrics.attacks)."""
    attacks = facts.metrics.get("attacks")
    attackers = (
        {str(a.get("src_ip")) for a in attacks if isinstance(a, Mapping)}
        if isinstance(attacks, list)
        else set()
    )
    blocks = [s for s in facts.events if s.kind == "ids.block" and "src_ip" in s.detail]
    false = [s for s in blocks if str(s.detail["src_ip"]) not in attackers]
    if not false:
        text = f"{_plural(len(blocks), 'block')}, all of attack sources ({_plural(len(attackers), 'source')})"
        return _outcome(e, "no false block", 0, 0, True, text)
    who = ", ".join(sorted({str(s.detail.get("src_host") or s.detail["src_ip"]) for s in false}))
    text = f"{_plural(len(false), 'block')} of sources that did not attack ({who}), expected none"
    return _outcome(e, "no false block", 0, len(false), False, text)


def _link_utilisation(e: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    """The busiest link's (or the named link's) peak rate as a share of its capacity."""
    bound, link = float(e["max"]), str(e.get("link") or "")
    name = f"{link or 'every link'} at most {bound:.0%} loaded"
    peaks = facts.metrics.get("peak_utilisation")
    if not isinstance(peaks, Mapping) or not peaks:
        text = "the monitoring recorded no link rates (metrics/series.json)"
        return _outcome(e, name, bound, None, False, f"{text}; expected at most {bound:.0%}")
    if link:
        if link not in peaks:
            text = f"no rate of {link} among the busiest links recorded ({', '.join(peaks)})"
            return _outcome(e, name, bound, None, False, f"{text}; expected at most {bound:.0%}")
        which, share = link, float(peaks[link])
    else:
        which, share = max(peaks.items(), key=lambda kv: float(kv[1]))
        share = float(share)
    text = f"{which} peaked at {share:.0%} of its capacity, expected at most {bound:.0%}"
    return _outcome(e, name, bound, share, share <= bound, text)


_EVAL: dict[str, Callable[[Mapping[str, Any], Facts], dict[str, Any]]] = {
    "no_event": _no_event,
    "event_within": _event_within,
    "max_outage_ms": _max_outage,
    "sessions_lost": _sessions_lost,
    "validation_error_max": _validation,
    "points_lost": _points_lost,
    "check_passed": _check_passed,
    "no_false_block": _no_false_block,
    "link_utilisation_max": _link_utilisation,
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
