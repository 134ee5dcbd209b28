"""The online-approval service: submit, accept, parallel review, final decision, escalation.

    submitted -accept-> in_review --(every department approves)--> final -decide-> approved | rejected
                          |  ^
      (a department returns)  resubmit
                          v  |
                        returned

Every open step (acceptance, each department's review, the final decision) has a time limit. When
the clock passes it, `escalate()` raises the step one level (officer -> section chief -> director ->
deputy mayor) and gives it a fresh limit; `python -m apps.approval` runs it every second. On submit
the applicant gets a receipt by e-mail (SMTP; a failed send is logged, not fatal). Staff (officers of
the departments) log in at `POST /login` (accounts from `--users`); every attempt is audited with its
source address, as in the OA service. The step endpoints still take the actor in `by` and do not
require the token yet.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.accounts import SCHEMA as ACCOUNTS_SCHEMA
from apps.accounts import Accounts, load_users_option
from apps.clock import Clock, SystemClock
from apps.smtp import send_mail
from apps.store import Audit, Store
from apps.web import (
    ApiError,
    Json,
    JsonApp,
    Request,
    add_trusted_proxy_option,
    make_server,
    stop_on_sigterm,
    trusted_proxy_option,
)

LEVELS = ("officer", "section-chief", "director", "deputy-mayor")
MIN_DEPARTMENTS = 3
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS applications (
    id INTEGER PRIMARY KEY, applicant TEXT NOT NULL, email TEXT NOT NULL, subject TEXT NOT NULL,
    departments TEXT NOT NULL, state TEXT NOT NULL, round INTEGER NOT NULL, created REAL NOT NULL,
    updated REAL NOT NULL, note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY, app_id INTEGER NOT NULL REFERENCES applications(id), kind TEXT NOT NULL,
    department TEXT NOT NULL, round INTEGER NOT NULL, state TEXT NOT NULL, level INTEGER NOT NULL,
    opened REAL NOT NULL, deadline REAL NOT NULL, closed REAL, note TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class Limits:
    """Time limit of each step kind, in seconds (defaults: a working day to accept, three to review)."""

    accept: float = 8 * 3600.0
    review: float = 3 * 8 * 3600.0
    final: float = 2 * 8 * 3600.0

    def __post_init__(self) -> None:
        for name in ("accept", "review", "final"):
            if getattr(self, name) <= 0:
                raise ValueError(f"limits.{name}: must be > 0 seconds (got {getattr(self, name)})")


@dataclass(frozen=True)
class Mailer:
    """Where receipts go: an SMTP server and the From address."""

    host: str
    port: int
    sender: str = "approval@govnet.invalid"


class ApprovalService:
    """The approval service over one SQLite database."""

    def __init__(
        self, db: str | Path, clock: Clock, limits: Limits | None = None, mailer: Mailer | None = None
    ) -> None:
        self.store = Store(db, ACCOUNTS_SCHEMA + _SCHEMA)
        self.clock = clock
        self.limits = limits or Limits()
        self.mailer = mailer
        self.audit = Audit(self.store, "approval", clock)
        self.accounts = Accounts(self.store, self.audit, clock)
        self.app = JsonApp("approval")
        self.app.on_op = self.audit.operation
        r = self.app.route
        r("GET", "/health", "health", lambda req: (200, {"ok": True}))
        r("POST", "/login", "login", self.accounts.login)
        r("POST", "/applications", "submit", self._submit)
        r("GET", "/applications", "list", self._list)
        r("GET", "/applications/{id}", "query", self._query)
        r("POST", "/applications/{id}/accept", "accept", self._accept)
        r("POST", "/applications/{id}/reviews/{department}", "review", self._review)
        r("POST", "/applications/{id}/resubmit", "resubmit", self._resubmit)
        r("POST", "/applications/{id}/decide", "decide", self._decide)
        r("POST", "/escalate", "escalate", lambda req: (200, {"escalated": self.escalate()}))
        r(
            "GET",
            "/events",
            "events",
            lambda req: (200, {"events": self.audit.events(req.query.get("kind", ""))}),
        )

    # --- steps ------------------------------------------------------------------------------
    def _open_step(self, cur: sqlite3.Cursor, app_id: int, kind: str, department: str, rnd: int) -> None:
        now = self.clock.now()
        limit = getattr(self.limits, kind)
        cur.execute(
            "INSERT INTO steps (app_id, kind, department, round, state, level, opened, deadline) "
            "VALUES (?,?,?,?,'open',0,?,?)",
            (app_id, kind, department, rnd, now, now + limit),
        )

    def _close_step(
        self, cur: sqlite3.Cursor, app_id: int, kind: str, state: str, department: str = ""
    ) -> None:
        cur.execute(
            "UPDATE steps SET state = ?, closed = ? WHERE app_id = ? AND kind = ? AND state = 'open'"
            + (" AND department = ?" if department else ""),
            (state, self.clock.now(), app_id, kind, *([department] if department else [])),
        )

    def escalate(self) -> list[dict[str, Any]]:
        """Raise every overdue open step one level per time limit passed; returns what moved."""
        now = self.clock.now()
        moved = []
        with self.store.tx() as cur:
            for s in cur.execute(
                "SELECT * FROM steps WHERE state = 'open' AND deadline <= ?", (now,)
            ).fetchall():
                level, deadline = s["level"], s["deadline"]
                limit = getattr(self.limits, s["kind"])
                while deadline <= now and level < len(LEVELS) - 1:
                    level, deadline = level + 1, deadline + limit
                if level == s["level"]:
                    continue  # already at the top level: it stays overdue and visible in the status
                cur.execute(
                    "UPDATE steps SET level = ?, deadline = ? WHERE id = ?", (level, deadline, s["id"])
                )
                item = {"application": s["app_id"], "step": s["kind"], "department": s["department"],
                        "level": LEVELS[level]}  # fmt: skip
                self.audit.record(cur, "alert", "system", "escalate", str(s["app_id"]), **item)
                moved.append(item)
        return moved

    # --- requests ---------------------------------------------------------------------------
    def _app(self, cur: sqlite3.Cursor, req: Request) -> sqlite3.Row:
        app_id = req.number("id")
        row = cur.execute("SELECT * FROM applications WHERE id = ?", (app_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"no application {app_id}")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _require(row: sqlite3.Row, state: str, action: str) -> None:
        if row["state"] != state:
            raise ApiError(
                409,
                f"cannot {action} application {row['id']} in state {row['state']!r}; it must be {state!r}",
            )

    def _submit(self, req: Request) -> tuple[int, Json]:
        applicant, email, subject = req.text("applicant"), req.text("email"), req.text("subject")
        if not _EMAIL.match(email):
            raise ApiError(400, f"field 'email' is not an e-mail address (got {email!r})")
        depts = req.body.get("departments")
        if not isinstance(depts, list) or not all(isinstance(d, str) and d.strip() for d in depts):
            raise ApiError(400, f"field 'departments' must be a list of names (got {depts!r})")
        if len(set(depts)) < MIN_DEPARTMENTS:
            raise ApiError(
                400, f"field 'departments': at least {MIN_DEPARTMENTS} distinct ones (got {depts!r})"
            )
        with self.store.tx() as cur:
            now = self.clock.now()
            cur.execute(
                "INSERT INTO applications (applicant, email, subject, departments, state, round, created, "
                "updated) VALUES (?,?,?,?,'submitted',0,?,?)",
                (applicant, email, subject, json.dumps(sorted(set(depts))), now, now),
            )
            app_id = int(cur.lastrowid or 0)
            self._open_step(cur, app_id, "accept", "", 0)
            self.audit.record(cur, "op", applicant, "submit", str(app_id))
        self._receipt(app_id, applicant, email, subject)
        return 201, self._status(app_id)

    def _receipt(self, app_id: int, applicant: str, email: str, subject: str) -> None:
        if self.mailer is None:
            return
        text = f"Dear {applicant},\n\nyour application {app_id} ({subject}) was received.\n"
        try:
            send_mail(
                self.mailer.host, self.mailer.port, self.mailer.sender, email, f"Receipt {app_id}", text
            )
            result: dict[str, Any] = {"sent": True}
        except OSError as exc:  # smtplib.SMTPException is an OSError
            result = {"sent": False, "reason": str(exc)}
        with self.store.tx() as cur:
            self.audit.record(cur, "op", "system", "receipt", str(app_id), to=email, **result)

    def _accept(self, req: Request) -> tuple[int, Json]:
        by = req.text("by")
        with self.store.tx() as cur:
            row = self._app(cur, req)
            self._require(row, "submitted", "accept")
            self._close_step(cur, row["id"], "accept", "done")
            self._start_round(cur, row, 1)
            self.audit.record(cur, "op", by, "accept", str(row["id"]))
        return 200, self._status(row["id"])

    def _start_round(self, cur: sqlite3.Cursor, row: sqlite3.Row, rnd: int) -> None:
        for dept in json.loads(row["departments"]):
            self._open_step(cur, row["id"], "review", dept, rnd)
        cur.execute(
            "UPDATE applications SET state = 'in_review', round = ?, updated = ? WHERE id = ?",
            (rnd, self.clock.now(), row["id"]),
        )

    def _review(self, req: Request) -> tuple[int, Json]:
        by, decision = req.text("by"), req.choice("decision", ("approve", "return"))
        note = req.text("note", required=decision == "return")
        dept = req.params["department"]
        with self.store.tx() as cur:
            row = self._app(cur, req)
            if dept not in json.loads(row["departments"]):
                raise ApiError(404, f"department {dept!r} does not review application {row['id']}")
            self._require(row, "in_review", "review")
            step = cur.execute(
                "SELECT id FROM steps WHERE app_id = ? AND kind = 'review' AND department = ? "
                "AND state = 'open'",
                (row["id"], dept),
            ).fetchone()
            if step is None:
                raise ApiError(409, f"department {dept!r} has already reviewed application {row['id']}")
            now = self.clock.now()
            if decision == "return":
                cur.execute(
                    "UPDATE steps SET state = 'cancelled', closed = ? WHERE app_id = ? AND state = 'open'",
                    (now, row["id"]),
                )
                cur.execute("UPDATE steps SET state = 'returned', note = ? WHERE id = ?", (note, step["id"]))
                cur.execute(
                    "UPDATE applications SET state = 'returned', note = ?, updated = ? WHERE id = ?",
                    (f"{dept}: {note}", now, row["id"]),
                )
            else:
                self._close_step(cur, row["id"], "review", "approved", dept)
                left = cur.execute(
                    "SELECT COUNT(*) FROM steps WHERE app_id = ? AND kind = 'review' AND state = 'open'",
                    (row["id"],),
                ).fetchone()[0]
                if left == 0:
                    self._open_step(cur, row["id"], "final", "", row["round"])
                    cur.execute(
                        "UPDATE applications SET state = 'final', updated = ? WHERE id = ?", (now, row["id"])
                    )
            self.audit.record(cur, "op", by, f"review-{decision}", str(row["id"]), department=dept)
        return 200, self._status(row["id"])

    def _resubmit(self, req: Request) -> tuple[int, Json]:
        with self.store.tx() as cur:
            row = self._app(cur, req)
            self._require(row, "returned", "resubmit")
            self._start_round(cur, row, row["round"] + 1)
            self.audit.record(cur, "op", row["applicant"], "resubmit", str(row["id"]))
        return 200, self._status(row["id"])

    def _decide(self, req: Request) -> tuple[int, Json]:
        by, decision = req.text("by"), req.choice("decision", ("approve", "reject"))
        with self.store.tx() as cur:
            row = self._app(cur, req)
            self._require(row, "final", "decide")
            self._close_step(cur, row["id"], "final", "done")
            state = "approved" if decision == "approve" else "rejected"
            cur.execute(
                "UPDATE applications SET state = ?, note = ?, updated = ? WHERE id = ?",
                (state, req.text("reason", required=False), self.clock.now(), row["id"]),
            )
            self.audit.record(cur, "op", by, f"decide-{decision}", str(row["id"]))
        return 200, self._status(row["id"])

    def _list(self, req: Request) -> tuple[int, Json]:
        """A work queue: applications in `state` (oldest first), or those awaiting `department`'s review."""
        state, dept = req.query.get("state", ""), req.query.get("department", "")
        states = ("submitted", "in_review", "returned", "final", "approved", "rejected")
        if state and state not in states:
            raise ApiError(400, f"query 'state': unknown state {state!r}; use one of {', '.join(states)}")
        raw_limit = req.query.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise ApiError(400, f"query 'limit' must be 1..1000 (got {raw_limit!r})")
        sql = "SELECT a.id, a.state, a.subject, a.round FROM applications a"
        args: list[Any] = []
        where = []
        if dept:
            sql += " JOIN steps s ON s.app_id = a.id AND s.kind = 'review' AND s.state = 'open'"
            where.append("s.department = ?")
            args.append(dept)
        if state:
            where.append("a.state = ?")
            args.append(state)
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.id LIMIT ?"
        with self.store.tx() as cur:
            rows = cur.execute(sql, (*args, int(raw_limit))).fetchall()
        return 200, {"applications": [dict(r) for r in rows]}

    def _query(self, req: Request) -> tuple[int, Json]:
        return 200, self._status(req.number("id"))

    def _status(self, app_id: int) -> Json:
        with self.store.tx() as cur:
            row = cur.execute("SELECT * FROM applications WHERE id = ?", (app_id,)).fetchone()
            if row is None:
                raise ApiError(404, f"no application {app_id}")
            steps = cur.execute("SELECT * FROM steps WHERE app_id = ? ORDER BY id", (app_id,)).fetchall()
        now = self.clock.now()
        return {
            **{k: v for k, v in dict(row).items() if k != "departments"},
            "departments": json.loads(row["departments"]),
            "steps": [
                {
                    **dict(s),
                    "level": LEVELS[s["level"]],
                    "overdue": s["state"] == "open" and s["deadline"] <= now,
                }
                for s in steps
            ],
        }

    def close(self) -> None:
        self.store.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m apps.approval`: serve the approval service, escalating overdue steps every second."""
    p = argparse.ArgumentParser(prog="python -m apps.approval", description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True, help="SQLite database (created if missing)")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--smtp", default="", help="HOST:PORT of the mail server for receipts (none: no mail)")
    p.add_argument("--limits", default="", help="accept,review,final time limits in seconds")
    p.add_argument("--users", help='JSON file {"user": "password", ...}: staff accounts for POST /login')
    add_trusted_proxy_option(p)
    a = p.parse_args(argv)
    mailer = None
    try:
        if a.smtp:
            host, _, port = a.smtp.rpartition(":")
            mailer = Mailer(host or "127.0.0.1", int(port))
        limits = Limits(*(float(x) for x in a.limits.split(","))) if a.limits else Limits()
    except (TypeError, ValueError) as exc:
        p.error(f"--smtp HOST:PORT / --limits ACCEPT,REVIEW,FINAL seconds: {exc}")
    trusted = trusted_proxy_option(p, a)
    svc = ApprovalService(a.db, SystemClock(), limits, mailer)
    svc.app.trusted_proxies = trusted
    if a.users:
        load_users_option(p, a.users, svc.accounts.add_user, svc.close)
    server = make_server(svc.app, a.bind, a.port)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            svc.escalate()

    threading.Thread(target=tick, name="escalation", daemon=True).start()
    print(f"approval: serving on http://{a.bind}:{server.server_address[1]}", flush=True)
    stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
