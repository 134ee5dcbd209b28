"""The apps lab's numbers: what the services' stores say (read-only), apps.json, and the registry points."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from apps.background import Flow
from apps.lab_traffic import TrafficSpec, to_wall
from apps.offered import export_offered
from apps.traffic import Event
from govnet.metrics import APP, LOGIN, Point, validate

WALL_INTERVAL_S = 10.0


def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def _logins(db: sqlite3.Connection) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in db.execute("SELECT detail FROM events WHERE kind = 'login'"):
        out[json.loads(r["detail"]).get("result", "?")] += 1
    return dict(out)


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


def server_numbers(d: Path) -> dict[str, Any]:
    """What the services' durable stores say happened (read-only)."""
    out: dict[str, Any] = {}
    if (d / "oa.db").exists():
        db = _db(d / "oa.db")
        states = dict(db.execute("SELECT state, COUNT(*) FROM documents GROUP BY state").fetchall())
        sent = {
            r["target"]: r["ts"] for r in db.execute("SELECT target, ts FROM events WHERE action = 'send'")
        }
        got = {
            r["target"]: r["ts"] for r in db.execute("SELECT target, ts FROM events WHERE action = 'receive'")
        }
        delivery = [got[k] - sent[k] for k in got if k in sent]
        out["oa"] = {
            "documents": sum(states.values()),
            "by_state": states,
            "attachments": db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0],
            "delivered": len(delivery),
            "delivery_mean_s": _mean(delivery),
            "logins": _logins(db),
            "tamper_alerts": db.execute("SELECT COUNT(*) FROM events WHERE action = 'tamper'").fetchone()[0],
        }
        db.close()
    if (d / "approval.db").exists():
        db = _db(d / "approval.db")
        states = dict(db.execute("SELECT state, COUNT(*) FROM applications GROUP BY state").fetchall())
        done = [
            r[0]
            for r in db.execute(
                "SELECT updated - created FROM applications WHERE state IN ('approved', 'rejected')"
            )
        ]
        last = db.execute("SELECT MAX(ts) FROM events").fetchone()[0] or 0.0
        receipts = [
            json.loads(r[0]).get("sent")
            for r in db.execute("SELECT detail FROM events WHERE action = 'receipt'")
        ]
        out["approval"] = {
            "applications": sum(states.values()),
            "by_state": states,
            "completed": len(done),
            "completion_mean_s": _mean(done),
            "escalations": db.execute("SELECT COUNT(*) FROM events WHERE action = 'escalate'").fetchone()[0],
            "overdue_open_steps": db.execute(
                "SELECT COUNT(*) FROM steps WHERE state = 'open' AND deadline <= ?", (last,)
            ).fetchone()[0],
            "receipts_sent": sum(1 for s in receipts if s),
            "receipts_failed": sum(1 for s in receipts if not s),
            "logins": _logins(db),
        }
        db.close()
    return out


def collect(
    d: Path, run: Path, events: list[Event], flows: list[Flow], spec: TrafficSpec, model: str
) -> dict[str, Any]:
    """apps.json: the plan's size, the users' view (replay.json) and the services' view; the exports."""
    start, duration = spec.start_hour * 3600.0, spec.hours * 3600.0
    export_offered(run / "offered.json", model, events, flows, start, duration, min(3600.0, duration))
    wall_ev, wall_fl = to_wall(events, flows, spec)
    export_offered(run / "offered-wall.json", model, wall_ev, wall_fl, 0.0, spec.wall_s, WALL_INTERVAL_S)
    users = json.loads((d / "replay.json").read_text())
    summary = {
        "window": {
            "start_hour": spec.start_hour,
            "hours": spec.hours,
            "day_minutes": spec.config.day_minutes,
            "wall_s": round(spec.wall_s, 1),
        },
        "planned": {"operations": len(events), "flows": len(flows)},
        "users": users,
        "services": server_numbers(d),
    }
    (d / "apps.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def points(d: Path, summary: dict[str, Any]) -> list[Point]:
    """Registry points: per 10 s of wall time and operation, the users' latency, count and errors;
    at the end, delivery and completion times, escalations and overdue steps, login attempts."""
    bins: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    with (d / "ops.jsonl").open() as fh:
        for line in fh:
            r = json.loads(line)
            bins[(int(r["wall"] // WALL_INTERVAL_S), r["app"], r["op"])].append(r)
    out = []
    for (b, app, op), rs in sorted(bins.items()):
        ok = [r["latency_s"] for r in rs if r["status"] == "ok"]
        fields: dict[str, float | int] = {"ops": len(ok), "errors": sum(r["status"] == "error" for r in rs)}
        if ok:
            fields["latency_s"] = sum(ok) / len(ok)
        ts = int((b + 1) * WALL_INTERVAL_S * 1e9)
        out.append(Point(APP.name, {"app": app, "op": op}, fields, ts))
    now = int(time.time() * 1e9)
    svc = summary["services"]
    if "oa" in svc:
        oa = svc["oa"]
        out.append(
            Point(
                APP.name,
                {"app": "oa", "op": "delivery"},
                {"ops": oa["delivered"], **({"latency_s": oa["delivery_mean_s"]} if oa["delivered"] else {})},
                now,
            )
        )
    if "approval" in svc:
        ap = svc["approval"]
        out.append(
            Point(
                APP.name,
                {"app": "approval", "op": "completion"},
                {
                    "ops": ap["completed"],
                    **({"latency_s": ap["completion_mean_s"]} if ap["completed"] else {}),
                },
                now,
            )
        )
        out.append(Point(APP.name, {"app": "approval", "op": "escalation"}, {"ops": ap["escalations"]}, now))
        out.append(
            Point(APP.name, {"app": "approval", "op": "overdue"}, {"ops": ap["overdue_open_steps"]}, now)
        )
    for name, s in svc.items():
        for result, n in s["logins"].items():
            if result in ("success", "failure", "locked"):
                out.append(Point(LOGIN.name, {"service": name, "result": result}, {"attempts": n}, now))
    return [validate(p) for p in out]
