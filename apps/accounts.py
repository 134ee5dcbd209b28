"""Accounts, sessions and the login step shared by the OA and approval services.

Every attempt (success, failure, locked) becomes one `login` audit event whose detail carries the
client's `source` address (`Request.source`: the TCP peer, or X-Forwarded-For behind a trusted
proxy), so the login audit (`ids.audit.appevents`) sees where each attempt came from. An account
locks after MAX_FAILURES consecutive failures.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Callable

from apps.clock import Clock
from apps.store import Audit, Store
from apps.web import ApiError, Json, Request
from govnet.errors import GovnetError
from govnet.safeload import load_json_file

MAX_FAILURES = 5  # consecutive failed logins before an account is locked
_PBKDF2_ROUNDS = 20_000
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, salt BLOB, hash BLOB, failures INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, user TEXT NOT NULL, created REAL NOT NULL);
"""


def load_users_option(
    p: argparse.ArgumentParser, path: str, add: Callable[[str, str], object], close: Callable[[], object]
) -> None:
    """`--users FILE` of a service: a JSON object user -> password; a bad file is a usage error."""
    try:
        for name, password in dict(load_json_file(path)).items():
            add(str(name), str(password))
    except (OSError, ValueError, TypeError, GovnetError) as exc:
        close()
        p.error(f"--users {path}: expected a JSON object of user -> password ({exc})")


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS)


class Accounts:
    """Users and sessions in a service's store; `login` is the POST /login handler."""

    def __init__(self, store: Store, audit: Audit, clock: Clock) -> None:
        self.store, self.audit, self.clock = store, audit, clock

    def add_user(self, name: str, password: str) -> None:
        """Create or reset a user (not over HTTP: accounts come from the deployment's user file)."""
        if not NAME.match(name) or not password:
            raise ValueError(f"bad user name or empty password for {name!r}")
        salt = secrets.token_bytes(16)
        with self.store.tx() as cur:
            cur.execute(
                "INSERT INTO users (name, salt, hash, failures) VALUES (?,?,?,0) ON CONFLICT(name) "
                "DO UPDATE SET salt=excluded.salt, hash=excluded.hash, failures=0",
                (name, salt, _hash(password, salt)),
            )

    def login(self, req: Request) -> tuple[int, Json]:
        """Check a password; every attempt is audited with its source address."""
        user, password = req.text("user"), req.text("password")
        with self.store.tx() as cur:
            row = cur.execute("SELECT * FROM users WHERE name = ?", (user,)).fetchone()
            if row is not None and row["failures"] >= MAX_FAILURES:
                self.audit.login(cur, user, "locked", source=req.source)
                return 403, {"error": f"account {user!r} is locked after {MAX_FAILURES} failed logins"}
            if row is None or not hmac.compare_digest(_hash(password, row["salt"]), row["hash"]):
                if row is not None:
                    cur.execute("UPDATE users SET failures = failures + 1 WHERE name = ?", (user,))
                self.audit.login(cur, user, "failure", known_user=row is not None, source=req.source)
                return 401, {"error": "wrong user name or password"}
            token = secrets.token_urlsafe(24)
            cur.execute("UPDATE users SET failures = 0 WHERE name = ?", (user,))
            cur.execute("INSERT INTO sessions VALUES (?,?,?)", (token, user, self.clock.now()))
            self.audit.login(cur, user, "success", source=req.source)
        return 200, {"token": token, "user": user}

    @staticmethod
    def user(req: Request, cur: sqlite3.Cursor) -> str:
        """The user of the request's bearer token (401 without a valid one)."""
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        row = cur.execute("SELECT user FROM sessions WHERE token = ?", (token,)).fetchone() if token else None
        if row is None:
            raise ApiError(401, "log in first: send 'Authorization: Bearer <token>' from POST /login")
        return str(row["user"])
