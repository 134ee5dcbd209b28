"""The summary of a replay (replay.json): per operation counts, errors and latency; per class, delivery."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summarise(recs: list[dict[str, Any]], flows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per application and operation: counts, errors, latency; logins by outcome; per class: delivery."""
    ops: dict[str, dict[str, Any]] = {}
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        by[(r["app"], r["op"])].append(r)
    for (app, op), rs in sorted(by.items()):
        lat = [r["latency_s"] for r in rs if r["status"] == "ok"]
        conflicts = sum(r["status"] == "conflict" for r in rs)
        ops[f"{app}/{op}"] = {
            "count": len(rs),
            "ok": len(lat),
            "conflicts": conflicts,
            "errors": len(rs) - len(lat) - conflicts,
            "latency_mean_s": round(sum(lat) / len(lat), 5) if lat else None,
            "latency_p95_s": round(_pct(lat, 0.95), 5) if lat else None,
            "lag_p95_s": round(_pct([r["lag_s"] for r in rs], 0.95), 3),
        }
    did: dict[str, int] = defaultdict(int)
    for r in recs:
        if r["status"] == "ok":
            did[f"{r['app']}/{r['did']}"] += 1
    classes: dict[str, dict[str, Any]] = {}
    for f in flows:
        c = classes.setdefault(f["class"], {"flows": 0, "planned": 0, "sent": 0, "received": 0})
        c["flows"] += 1
        for k in ("planned", "sent", "received"):
            c[k] += f[k]
    for c in classes.values():
        c["delivered"] = round(c["received"] / c["sent"], 4) if c["sent"] else None
    logins = [r for r in recs if r["op"] == "login"]
    return {
        "operations": len(recs),
        "errors": sum(r["status"] == "error" for r in recs),
        "conflicts": sum(r["status"] == "conflict" for r in recs),
        "by_op": ops,
        "done": dict(sorted(did.items())),
        "login_attempts": {
            app: sum(1 for r in logins if r["app"] == app and r.get("http", 200) != 0)
            for app in sorted({r["app"] for r in logins})
        },
        "background": classes,
    }
