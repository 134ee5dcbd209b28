"""`govnet audit report`: lockouts, top failing users and sources, anomalies — from the ledger.

Anomalies are found by replaying the ledger's counted logins through fresh behaviour profiles, so
the report needs nothing but the ledger (app activity, which is not in the ledger, is not replayed).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ids.audit.config import Policy
from ids.audit.ledger import Ledger
from ids.audit.profile import Profiles
from ids.audit.records import LoginEvent, iso


def summarise(ledger: Ledger, policy: Policy | None = None, top: int = 10) -> dict[str, Any]:
    """The report as plain data (the `--json` form)."""
    policy = policy or Policy()
    profiles = Profiles(success_after_failures=policy.success_after_failures)
    users: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    results: Counter[str] = Counter()
    lockouts: list[dict[str, Any]] = []
    refusals: list[dict[str, Any]] = []
    anomalies: list[dict[str, Any]] = []
    records = 0
    for e in ledger.entries():
        records += 1
        if e.kind == "login":
            if not e.detail.get("counted", True):
                continue
            results[e.result] += 1
            if e.result == "failure":
                users[e.user or "(none)"] += 1
                if e.source:
                    sources[e.source] += 1
            ev = LoginEvent(
                e.id,
                e.ts,
                e.user,
                e.source,
                "success" if e.result == "success" else "failure",
                e.reason,
                e.service,
            )
            a = profiles.login(ev)
            if a is not None and a.score >= policy.anomaly_threshold:
                anomalies.append(
                    {
                        "record": e.id,
                        "time": iso(a.ts),
                        "user": a.user,
                        "source": a.source,
                        "service": a.service,
                        "score": a.score,
                        "reasons": [list(r) for r in a.reasons],
                    }
                )
        elif e.detail.get("decision") in ("lock_account", "block_source"):
            until = e.detail.get("until")
            lockouts.append(
                {
                    "record": e.id,
                    "time": iso(e.ts),
                    "kind": e.detail["decision"],
                    "subject": e.detail.get("subject", ""),
                    "until": iso(until) if until else None,
                    "reason": e.reason,
                }
            )
        elif e.result == "refused":
            refusals.append(
                {
                    "record": e.id,
                    "time": iso(e.ts),
                    "subject": e.detail.get("subject", ""),
                    "reason": e.reason,
                }
            )
    return {
        "ledger": str(ledger.path),
        "records": records,
        "attempts": dict(sorted(results.items())),
        "top_failing_users": users.most_common(top),
        "top_failing_sources": sources.most_common(top),
        "lockouts": lockouts,
        "refusals": refusals,
        "anomalies": anomalies,
    }


def format_report(rep: dict[str, Any]) -> str:
    """The report as text tables."""
    att = rep["attempts"]
    lines = [
        f"ledger {rep['ledger']}: {rep['records']} records; attempts: "
        f"{att.get('success', 0)} success, {att.get('failure', 0)} failure",
        "",
        f"lockouts ({len(rep['lockouts'])}):",
    ]
    if rep["lockouts"]:
        lines.append(f"  {'time':26} {'kind':13} {'subject':24} {'until':26} reason")
        for lk in rep["lockouts"]:
            lines.append(
                f"  {lk['time'][:26]:26} {lk['kind']:13} {lk['subject'][:24]:24} "
                f"{(lk['until'] or '-')[:26]:26} {lk['reason']}"
            )
    for title, key in (
        ("top failing users", "top_failing_users"),
        ("top failing sources", "top_failing_sources"),
    ):
        lines += ["", f"{title}:"]
        lines += [f"  {name[:40]:40} {n:>7}" for name, n in rep[key]] or ["  (none)"]
    lines += ["", f"anomalies ({len(rep['anomalies'])}):"]
    for a in rep["anomalies"]:
        why = "; ".join(f"{t} (+{w:g})" for t, w in a["reasons"])
        lines.append(f"  {a['time'][:19]} {a['user'][:16]:16} {a['source'][:18]:18} {a['score']:.2f}  {why}")
    if rep["refusals"]:
        lines += ["", f"refused changes ({len(rep['refusals'])}):"]
        lines += [f"  {r['time'][:19]} {r['subject']:16} {r['reason']}" for r in rep["refusals"]]
    return "\n".join(lines)
