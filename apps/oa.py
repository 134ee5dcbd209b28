"""The OA service: logins, document flow as a state machine, to-do lists, attachments, sealing.

    draft -submit-> review -review-> countersign -countersign-> signing -sign-> signed -seal-> sealed
      ^  <-------------- return (from review, countersign, signing) --------------'
    sealed -send-> sent -receive-> received -route-> routed -archive-> archived
    sent -recall-> recalled   (only while the recipient has not read it)

Each state has one holder (author, reviewer, ...) who alone may act on the document and whose
to-do list shows it. Sealing signs the content, the metadata and the attachment digests with
HMAC-SHA256 under a per-deployment key; `receive` verifies it and refuses (with an alert event)
a document changed after sealing. Run it: `python -m apps.oa --db oa.db --port 8080 --users u.json`.

Document bodies (`<id>/body.txt`, a new version on every edit) and attachments (`<id>/<sha256>`) are
files on the file server, kept through a `govnet.filestore.FileStore`: a directory by default, or the
HSM file server (`--files http://HOST:8090`). Opening a document or an attachment reads its file, which
the HSM counts as an access (heat) and recalls from optical or tape if it went cold; the reply's
`storage` says from where and the modelled latency, and `audit.points()` reports the mean.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from apps.accounts import MAX_FAILURES as MAX_FAILURES
from apps.accounts import NAME, Accounts, load_users_option
from apps.accounts import SCHEMA as ACCOUNTS_SCHEMA
from apps.clock import Clock, SystemClock
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
from govnet.filestore import DirFileStore, FileRead, FileStore, FileStoreError, open_file_store

ROLES = ("author", "reviewer", "countersigner", "signer", "recipient")
HOLDER = {
    "draft": "author",
    "review": "reviewer",
    "countersign": "countersigner",
    "signing": "signer",
    "signed": "author",
    "sealed": "author",
    "sent": "recipient",
    "received": "recipient",
    "routed": "recipient",
}
# action -> (states it may be taken from, resulting state)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "submit": (("draft",), "review"),
    "review": (("review",), "countersign"),
    "countersign": (("countersign",), "signing"),
    "sign": (("signing",), "signed"),
    "return": (("review", "countersign", "signing"), "draft"),
    "seal": (("signed",), "sealed"),
    "send": (("sealed",), "sent"),
    "receive": (("sent",), "received"),
    "route": (("received",), "routed"),
    "archive": (("routed",), "archived"),
    "recall": (("sent",), "recalled"),
}
_NAME = NAME

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, content TEXT NOT NULL, state TEXT NOT NULL,
    author TEXT NOT NULL, reviewer TEXT NOT NULL, countersigner TEXT NOT NULL, signer TEXT NOT NULL,
    recipient TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, read_at REAL,
    sealed_at REAL, seal TEXT, instructions TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS attachments (
    doc_id INTEGER NOT NULL REFERENCES documents(id), name TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, PRIMARY KEY (doc_id, name)
);
"""


def load_key(path: Path) -> bytes:
    """The deployment's sealing key: read from `path`, or created there (0600) on first start."""
    if path.exists():
        key = path.read_bytes()
        if len(key) < 32:
            raise ValueError(f"{path}: sealing key must be at least 32 bytes (got {len(key)})")
        return key
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class OAService:
    """The OA service over one SQLite database, one attachment directory and one sealing key."""

    def __init__(
        self,
        db: str | Path,
        attachments: str | Path,
        key: bytes,
        clock: Clock,
        files: FileStore | None = None,
    ) -> None:
        self.store = Store(db, ACCOUNTS_SCHEMA + _SCHEMA)
        self.clock = clock
        self.audit = Audit(self.store, "oa", clock)
        self.accounts = Accounts(self.store, self.audit, clock)
        self.files = Path(attachments)
        self.files.mkdir(parents=True, exist_ok=True)
        self.fs: FileStore = files or DirFileStore(self.files)
        self._key = key
        self.app = JsonApp("oa")
        self.app.on_op = self.audit.operation
        r = self.app.route
        r("GET", "/health", "health", lambda req: (200, {"ok": True}))
        r("POST", "/login", "login", self.accounts.login)
        r("POST", "/documents", "create", self._create)
        r("GET", "/documents/{id}", "open", self._open)
        r("PUT", "/documents/{id}", "edit", self._edit)
        r("POST", "/documents/{id}/attachments", "attach", self._attach)
        r("GET", "/documents/{id}/attachments/{name}", "fetch", self._fetch)
        r("POST", "/documents/{id}/{action}", "flow", self._act)
        r("GET", "/todo", "todo", self._todo)
        r("GET", "/events", "events", self._events)

    def add_user(self, name: str, password: str) -> None:
        """Create or reset a user (not over HTTP: accounts come from the deployment's user file)."""
        self.accounts.add_user(name, password)

    # --- requests ---------------------------------------------------------------------------
    def _user(self, req: Request, cur: sqlite3.Cursor) -> str:
        return self.accounts.user(req, cur)

    def _doc(self, cur: sqlite3.Cursor, req: Request) -> sqlite3.Row:
        doc_id = req.number("id")
        row = cur.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise ApiError(404, f"no document {doc_id}")
        return row  # type: ignore[no-any-return]

    def _create(self, req: Request) -> tuple[int, Json]:
        fields = {k: req.text(k) for k in ("title", "content", *ROLES[1:])}
        with self.store.tx() as cur:
            user = self._user(req, cur)
            for role in ROLES[1:]:
                if cur.execute("SELECT 1 FROM users WHERE name = ?", (fields[role],)).fetchone() is None:
                    raise ApiError(422, f"field {role!r}: no such user {fields[role]!r}")
            now = self.clock.now()
            cur.execute(
                "INSERT INTO documents (title, content, state, author, reviewer, countersigner, signer, "
                "recipient, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    fields["title"],
                    fields["content"],
                    "draft",
                    user,
                    *(fields[r] for r in ROLES[1:]),
                    now,
                    now,
                ),
            )
            doc_id = int(cur.lastrowid or 0)
            self.audit.record(cur, "op", user, "create", str(doc_id))
            view = self._view(cur, doc_id)
        try:  # outside the transaction: file-server writes of concurrent requests overlap
            self.fs.put(_body(doc_id), fields["content"].encode())
        except FileStoreError as exc:
            with self.store.tx() as cur:  # not stored: the document never existed for the client
                cur.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
                self.audit.record(cur, "op", user, "create-failed", str(doc_id), reason=str(exc))
            raise ApiError(503, f"file server: {exc}") from None
        return 201, view

    def _view(self, cur: sqlite3.Cursor, doc_id: int) -> Json:
        row = cur.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        files = cur.execute(
            "SELECT name, sha256, size FROM attachments WHERE doc_id = ? ORDER BY name", (doc_id,)
        ).fetchall()
        return {**dict(row), "holder": row[HOLDER[row["state"]]] if row["state"] in HOLDER else None,
                "attachments": [dict(f) for f in files]}  # fmt: skip

    def _open(self, req: Request) -> tuple[int, Json]:
        with self.store.tx() as cur:
            user = self._user(req, cur)
            doc = self._doc(cur, req)
            if user not in {doc[r] for r in ROLES}:
                raise ApiError(403, f"{user!r} has no part in document {doc['id']}")
            if user == doc["recipient"] and doc["state"] == "sent" and doc["read_at"] is None:
                cur.execute("UPDATE documents SET read_at = ? WHERE id = ?", (self.clock.now(), doc["id"]))
                self.audit.record(cur, "op", user, "read", str(doc["id"]))
            self.audit.record(cur, "op", user, "open", str(doc["id"]))
            view = self._view(cur, doc["id"])
        # outside the transaction: a recall must not hold the database; a body lost by a crash right
        # after create is written again from the database, which holds the content too
        got, repaired = self._read(_body(doc["id"]), repair=view["content"].encode())
        storage = {**got.storage(), **({"repaired": True} if repaired else {})}
        return 200, {**view, "content": got.data.decode(errors="replace"), "storage": storage}

    def _fetch(self, req: Request) -> tuple[int, Json]:
        name = req.params["name"]
        with self.store.tx() as cur:
            user = self._user(req, cur)
            doc = self._doc(cur, req)
            if user not in {doc[r] for r in ROLES}:
                raise ApiError(403, f"{user!r} has no part in document {doc['id']}")
            row = cur.execute(
                "SELECT sha256, size FROM attachments WHERE doc_id = ? AND name = ?", (doc["id"], name)
            ).fetchone()
            if row is None:
                raise ApiError(404, f"document {doc['id']} has no attachment {name!r}")
            self.audit.record(cur, "op", user, "fetch", str(doc["id"]), name=name)
        got = self._read(f"{doc['id']}/{row['sha256']}")[0]
        return 200, {
            "name": name,
            "sha256": row["sha256"],
            "size": row["size"],
            "data_b64": base64.b64encode(got.data).decode(),
            "storage": got.storage(),
        }

    def _store(self, name: str, data: bytes) -> None:
        try:
            self.fs.put(name, data)
        except FileStoreError as exc:
            raise ApiError(503 if exc.status >= 500 else 507, f"file server: {exc}") from None

    def _read(self, name: str, repair: bytes | None = None) -> tuple[FileRead, bool]:
        """Read a file from the file server (counting its modelled latency); (read, repaired)."""
        try:
            got, repaired = self.fs.get(name), False
        except FileStoreError as exc:
            if exc.status != 404 or repair is None:
                where = "missing on" if exc.status == 404 else "unavailable from"
                raise ApiError(503, f"file {name} is {where} the file server: {exc}") from None
            self._store(name, repair)
            return self._read(name)[0], True
        self.audit.storage(got.latency_s, got.recalled)
        return got, repaired

    def _edit(self, req: Request) -> tuple[int, Json]:
        with self.store.tx() as cur:
            user = self._user(req, cur)
            doc = self._doc(cur, req)
            self._check_holder(doc, user, "edit")
            if doc["state"] != "draft":
                raise ApiError(409, f"document {doc['id']} is {doc['state']}; only a draft can be edited")
            title = req.text("title", required=False, default=doc["title"])
            content = req.text("content", required=False, default=doc["content"])
            cur.execute(
                "UPDATE documents SET title = ?, content = ?, updated = ? WHERE id = ?",
                (title, content, self.clock.now(), doc["id"]),
            )
            if content != doc["content"]:
                self._store(_body(doc["id"]), content.encode())
            self.audit.record(cur, "op", user, "edit", str(doc["id"]))
            return 200, self._view(cur, doc["id"])

    def _attach(self, req: Request) -> tuple[int, Json]:
        name = req.text("name")
        if not _NAME.match(name):
            raise ApiError(400, f"field 'name': attachment names are letters, digits, '._- ' (got {name!r})")
        try:
            data = base64.b64decode(req.text("data_b64"), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "field 'data_b64' is not valid base64") from None
        with self.store.tx() as cur:
            user = self._user(req, cur)
            doc = self._doc(cur, req)
            self._check_holder(doc, user, "attach")
            if doc["state"] != "draft":
                raise ApiError(409, f"document {doc['id']} is {doc['state']}; attach files to a draft")
            digest = hashlib.sha256(data).hexdigest()
            self._store(f"{doc['id']}/{digest}", data)
            cur.execute(
                "INSERT OR REPLACE INTO attachments VALUES (?,?,?,?)", (doc["id"], name, digest, len(data))
            )
            self.audit.record(cur, "op", user, "attach", str(doc["id"]), name=name, size=len(data))
            return 201, self._view(cur, doc["id"])

    def _check_holder(self, doc: sqlite3.Row, user: str, action: str) -> None:
        role = HOLDER.get(doc["state"])
        if role is None or doc[role] != user:
            holder = doc[role] if role else "nobody"
            raise ApiError(403, f"{user!r} cannot {action} document {doc['id']}: it is with {holder!r}")

    def _act(self, req: Request) -> tuple[int, Json]:
        action = req.params["action"]
        if action not in TRANSITIONS:
            raise ApiError(404, f"unknown action {action!r}; actions: {', '.join(TRANSITIONS)}")
        sources, target = TRANSITIONS[action]
        instructions = req.text("instructions") if action == "route" else ""
        alert: str | None = None
        with self.store.tx() as cur:
            user = self._user(req, cur)
            doc = self._doc(cur, req)
            if doc["state"] not in sources:
                raise ApiError(
                    409,
                    f"cannot {action} document {doc['id']} in state {doc['state']!r}; "
                    f"{action} is allowed from {', '.join(sources)}",
                )
            if action == "recall":
                if doc["author"] != user:
                    raise ApiError(403, f"only the author {doc['author']!r} can recall document {doc['id']}")
                if doc["read_at"] is not None:
                    raise ApiError(409, f"document {doc['id']} was already read by {doc['recipient']!r}")
            else:
                self._check_holder(doc, user, action)
            now = self.clock.now()
            extra: dict[str, Any] = {}
            if action == "seal":
                extra = {"sealed_at": now, "seal": self._signature(cur, doc, now)}
            elif action == "receive":
                alert = self._verify(cur, doc)
            elif action == "route":
                extra = {"instructions": instructions}
            if alert is None:
                sets = ", ".join(f"{k} = ?" for k in ("state", "updated", *extra))
                cur.execute(
                    f"UPDATE documents SET {sets} WHERE id = ?", (target, now, *extra.values(), doc["id"])
                )
                self.audit.record(
                    cur, "op", user, action, str(doc["id"]), **{"from": doc["state"], "to": target}
                )
            else:
                self.audit.record(cur, "alert", user, "tamper", str(doc["id"]), reason=alert)
                body = {"error": f"document {doc['id']} refused: {alert}", "status": 422, "alert": "tamper"}
            view = self._view(cur, doc["id"])
        return (422, body) if alert is not None else (200, view)

    def _signature(self, cur: sqlite3.Cursor, doc: sqlite3.Row, sealed_at: float) -> str:
        files = cur.execute(
            "SELECT name, sha256, size FROM attachments WHERE doc_id = ? ORDER BY name", (doc["id"],)
        ).fetchall()
        signed = {
            "id": doc["id"], "title": doc["title"], "content": doc["content"], "sealed_at": sealed_at,
            **{r: doc[r] for r in ROLES}, "attachments": [list(f) for f in files],
        }  # fmt: skip
        canonical = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, canonical, hashlib.sha256).hexdigest()

    def _verify(self, cur: sqlite3.Cursor, doc: sqlite3.Row) -> str | None:
        """None if the seal holds (metadata, content and every attachment file), else the reason."""
        if not doc["seal"] or doc["sealed_at"] is None:
            return "it carries no seal"
        if not hmac.compare_digest(self._signature(cur, doc, doc["sealed_at"]), doc["seal"]):
            return "seal does not match content and metadata (changed after sealing)"
        try:
            body = self.fs.get(_body(doc["id"])).data
        except FileStoreError:
            return "the document file is missing on the file server"
        if body != doc["content"].encode():
            return "the document file on the file server changed after sealing"
        for f in cur.execute("SELECT name, sha256 FROM attachments WHERE doc_id = ?", (doc["id"],)):
            try:
                actual = hashlib.sha256(self.fs.get(f"{doc['id']}/{f['sha256']}").data).hexdigest()
            except FileStoreError:
                return f"attachment {f['name']!r} is missing"
            if actual != f["sha256"]:
                return f"attachment {f['name']!r} changed after sealing"
        return None

    def _todo(self, req: Request) -> tuple[int, Json]:
        with self.store.tx() as cur:
            user = self._user(req, cur)
            clauses = " OR ".join(f"(state = '{s}' AND {role} = ?)" for s, role in HOLDER.items())
            rows = cur.execute(
                f"SELECT id, title, state FROM documents WHERE {clauses} ORDER BY id", (user,) * len(HOLDER)
            ).fetchall()
        return 200, {"user": user, "todo": [dict(r) for r in rows]}

    def _events(self, req: Request) -> tuple[int, Json]:
        with self.store.tx() as cur:
            self._user(req, cur)
        kind = req.query.get("kind", "")
        return 200, {"events": self.audit.events(kind)}

    def close(self) -> None:
        self.store.close()
        self.fs.close()


def _body(doc_id: int) -> str:
    return f"{doc_id}/body.txt"


def main(argv: list[str] | None = None) -> int:
    """`python -m apps.oa`: serve the OA service until interrupted."""
    p = argparse.ArgumentParser(prog="python -m apps.oa", description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True, help="SQLite database (created if missing)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--attachments", help="attachment directory (default: DB path + '.files')")
    p.add_argument(
        "--files",
        help="where document files live: a directory, or the HSM file server http://HOST:PORT "
        "(python -m backup_hsm.files); default: the attachment directory",
    )
    p.add_argument("--key", help="sealing key file (default: DB path + '.key'; created if missing)")
    p.add_argument("--users", help='JSON file {"user": "password", ...} to create or reset accounts')
    add_trusted_proxy_option(p)
    a = p.parse_args(argv)
    trusted = trusted_proxy_option(p, a)
    files = a.attachments or a.db + ".files"
    try:
        store = open_file_store(a.files or files)
    except FileStoreError as exc:
        p.error(f"--files: {exc}")
    svc = OAService(a.db, files, load_key(Path(a.key or a.db + ".key")), SystemClock(), store)
    svc.app.trusted_proxies = trusted
    if a.users:
        load_users_option(p, a.users, svc.add_user, svc.close)
    server = make_server(svc.app, a.bind, a.port)
    print(f"oa: serving on http://{a.bind}:{server.server_address[1]}", flush=True)
    stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        svc.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
