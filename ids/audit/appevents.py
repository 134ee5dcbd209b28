"""The apps' audit events (OA, approval) -> LoginEvent and Activity.

The services keep their audit log in the `events` table of their SQLite database and serve it at
`GET /events` as `{"events": [...]}`; they have no other export. `read_app_events` reads any of:

- the service's database file itself (opened read-only; the `events` table),
- the `/events` reply (`{"events": [...]}`) or a bare JSON array of events,
- JSON lines, one event object a line (e.g. `curl .../events | jq -c '.events[]'`),
- govnet EVE `login` records (`event_type: "login"`, fields in `detail`).

An event is `{"id", "ts", "kind", "service", "user", "action", "target", "detail"}`; a login has
kind `login` and its outcome in `detail.result` (success, failure, locked; an `action` of one of
those words is accepted too). `ts` may be POSIX seconds or ISO 8601. The source address is read from
`detail.source`, `src_ip`, `remote_addr` or `client` (the stubs record it only for `locked` so far).
`line` is the JSON line number, or the 1-based position in an array or in the table.
Records that are not objects, lack a user or have an unreadable time are skipped.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

from ids.audit.records import Activity, LoginEvent

ADMIN_ACTIONS = frozenset(
    {
        "add-user",
        "add_user",
        "reset-password",
        "unlock",
        "disable",
        "grant",
        "revoke",
        "decide-approve",
        "decide-reject",
        "config",
        "delete",
    }
)
DOC_ACTIONS = frozenset({"create", "open", "read", "edit", "attach", "flow", "submit", "seal", "receive"})
_SOURCE_KEYS = ("source", "src_ip", "remote_addr", "client", "ip", "rhost")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _ts(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if 0 <= f < 1e11 else None
    if isinstance(value, str):
        try:
            d = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if d.tzinfo is None:
            d = d.replace(tzinfo=_dt.UTC)
        return d.timestamp()
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _records_from_text(text: str) -> Iterator[tuple[int, Any]]:
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):  # JSONDecodeError, or an int over 4300 digits
            doc = None
        if isinstance(doc, list):
            yield from enumerate(doc, 1)
            return
        if isinstance(doc, dict):
            events = doc.get("events")
            if isinstance(events, list):
                yield from enumerate(events, 1)
            else:
                yield 1, doc
            return
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            yield n, json.loads(line)
        except (ValueError, RecursionError):  # JSONDecodeError, or an int over 4300 digits
            continue


def _records_from_sqlite(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    uri = f"file:{os.fspath(path)}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return
    try:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM events ORDER BY id").fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        db.close()
    for n, row in enumerate(rows, 1):
        rec = dict(row)
        try:
            rec["detail"] = json.loads(rec.get("detail") or "{}")
        except (json.JSONDecodeError, TypeError):
            rec["detail"] = {}
        yield n, rec


def read_app_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """(position, raw record) of an app event file or database."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head == _SQLITE_MAGIC:
        yield from _records_from_sqlite(path)
        return
    with open(path, "rb") as fh:
        text = fh.read().decode("utf-8", errors="replace")
    yield from _records_from_text(text)


def app_login(n: int, rec: Any) -> LoginEvent | None:
    """The login event in one app event record, or None."""
    if not isinstance(rec, dict):
        return None
    detail = rec.get("detail")
    if not isinstance(detail, dict):
        detail = {}
    if rec.get("event_type") == "login":  # govnet's own EVE login record
        rec = {**detail, "ts": rec.get("timestamp"), "kind": "login"}
        detail = rec
    if rec.get("kind") != "login":
        return None
    result = _text(detail.get("result")) or _text(rec.get("result"))
    if result not in ("success", "failure", "locked"):
        action = _text(rec.get("action"))
        result = action if action in ("success", "failure", "locked") else ""
    user = _text(rec.get("user"))
    ts = _ts(rec.get("ts", rec.get("time")))
    if not result or not user or ts is None:
        return None
    host = ""
    for key in _SOURCE_KEYS:
        host = _text(detail.get(key)) or _text(rec.get(key))
        if host:
            break
    if result == "locked":
        reason = "locked"
    elif result == "success":
        reason = "accepted-password"
    elif detail.get("known_user") is False:
        reason = "invalid-user"
    else:
        reason = _text(detail.get("reason")) or "failed-password"
    return LoginEvent(
        line=n,
        ts=ts,
        user=user,
        host=host,
        result="success" if result == "success" else "failure",
        reason=reason,
        service=_text(rec.get("service")) or "app",
        server=_text(rec.get("server")),
        method="password",
        invalid_user=reason == "invalid-user",
        source_kind="app",
    )


def app_activity(rec: Any) -> Activity | None:
    """The user activity (an `op` event) in one app event record, or None."""
    if not isinstance(rec, dict) or rec.get("kind") != "op":
        return None
    user = _text(rec.get("user"))
    action = _text(rec.get("action"))
    ts = _ts(rec.get("ts"))
    if not user or not action or ts is None:
        return None
    detail = rec.get("detail") if isinstance(rec.get("detail"), dict) else {}
    admin = action in ADMIN_ACTIONS or (isinstance(detail, dict) and detail.get("admin") is True)
    target = rec.get("target")
    return Activity(
        ts=ts,
        user=user,
        service=_text(rec.get("service")) or "app",
        action=action,
        target=str(target) if isinstance(target, str | int) else "",
        admin=admin,
    )
