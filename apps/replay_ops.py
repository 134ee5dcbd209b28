"""The users' operations of `apps.replay`: HTTP requests from inside a host's namespace, OA and approval.

An operation is what a person does, so it may take several requests; `ReplayOps` does one (`_oa`,
`_approval`, `_login`) and raises `HttpFailure` when a request fails.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from apps.replay_plan import Op, ReplayPlan
from govnet.netns import socket_in_netns

OA_NEXT = {  # the holder's next action for a document in each state (apps.oa.TRANSITIONS)
    "draft": "submit",
    "review": "review",
    "countersign": "countersign",
    "signing": "sign",
    "signed": "seal",
    "sealed": "send",
    "sent": "receive",
    "received": "route",
    "routed": "archive",
}
SHARED_WORK = frozenset({"review", "decide", "flow"})  # operations on queues that colleagues share
RETURN_SHARE = 0.1  # reviews that send an application back for correction
REJECT_SHARE = 0.15  # final decisions that reject


@dataclass
class Lane:
    """One user's state: their queued operations, session token, documents and applications."""

    user: str
    ops: deque[Op] = field(default_factory=deque)
    tokens: dict[str, str] = field(default_factory=dict)  # application -> session token
    drafts: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # an applicant's open applications
    conns: dict[tuple[str, str], http.client.HTTPConnection] = field(default_factory=dict)


class NsConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket lives in the network namespace of `pid`."""

    def __init__(self, host: str, port: int, pid: int | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._pid = pid

    def connect(self) -> None:
        s = socket_in_netns(self._pid, socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        self.sock = s


class HttpFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ReplayOps(ReplayPlan):
    """The requests and operations of one lane (one user)."""

    # --- HTTP ---------------------------------------------------------------------------------------
    def _call(
        self, lane: Lane, src: str, target: str, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, Any], int, int]:
        """(status, JSON, bytes sent, bytes received) of one request from `src` to server `target`."""
        key = (src, target)
        conn = lane.conns.get(key)
        if conn is None:
            host, port = self.servers[target]
            conn = NsConnection(host, port, self.hosts[src].get("pid"), self.timeout_s)
            lane.conns[key] = conn
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        token = lane.tokens.get("approval" if target == "portal" else target, "")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=data or None, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            lane.conns.pop(key, None)
            raise HttpFailure(0, f"{type(exc).__name__}: {exc}") from None
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {"error": raw[:200].decode(errors="replace")}
        return resp.status, doc if isinstance(doc, dict) else {}, len(data) + len(path) + 150, len(raw) + 150

    def _ok(
        self, lane: Lane, src: str, target: str, method: str, path: str, body: Any = None
    ) -> tuple[dict[str, Any], int, int]:
        status, doc, up, down = self._call(lane, src, target, method, path, body)
        if status >= 400:
            raise HttpFailure(status, str(doc.get("error", f"HTTP {status}")))
        return doc, up, down

    # --- operations -----------------------------------------------------------------------------
    def _oa(self, lane: Lane, o: Op, rng: random.Random) -> tuple[str, int, int]:
        up = down = 0

        def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
            nonlocal up, down
            doc, u, d = self._ok(lane, o.src, "oa", method, path, body)
            up, down = up + u, down + d
            return doc

        did = o.op
        if o.op == "todo":
            call("GET", "/todo")
        elif o.op == "open":
            todo = call("GET", "/todo")["todo"]
            ids = [t["id"] for t in todo] or lane.drafts
            if ids:
                call("GET", f"/documents/{rng.choice(ids)}")
            else:
                did = "open-nothing"
        elif o.op == "attach" and lane.drafts:
            data = rng.randbytes(max(1, (o.up - 600) * 3 // 4))  # base64 makes 4 bytes of 3
            call(
                "POST",
                f"/documents/{lane.drafts[-1]}/attachments",
                {"name": f"att-{rng.randrange(1 << 30)}.bin", "data_b64": base64.b64encode(data).decode()},
            )
        elif o.op in ("create", "attach"):
            did = "create"
            doc = call(
                "POST",
                "/documents",
                {
                    "title": f"doc {rng.randrange(1 << 30)}",
                    "content": "x" * max(1, o.up - 600),
                    **self._roles(lane.user, rng),
                },
            )
            lane.drafts = [*lane.drafts[-4:], int(doc["id"])]
        elif o.op == "flow":
            todo = call("GET", "/todo")["todo"]
            if not todo:
                did = "flow-idle"
            else:
                item = todo[0]
                action = OA_NEXT[item["state"]]
                body = {"instructions": "for action"} if action == "route" else {}
                call("POST", f"/documents/{item['id']}/{action}", body)
                if item["id"] in lane.drafts and action == "submit":
                    lane.drafts.remove(item["id"])
                did = f"flow-{action}"
        else:
            raise HttpFailure(0, f"unknown OA operation {o.op!r}")
        return did, up, down

    def _roles(self, user: str, rng: random.Random) -> dict[str, str]:
        """Reviewer from the author's bureau when possible; the others and the recipient elsewhere."""
        mine = self.oa_users.get(user, "")
        others = [u for u in self.oa_users if u != user]
        same = [u for u in others if self.oa_users[u] == mine] or others
        away = [u for u in others if self.oa_users[u] != mine] or others
        if not others:
            raise HttpFailure(0, "no other OA user to route a document to")
        return {
            "reviewer": rng.choice(same),
            "countersigner": rng.choice(away),
            "signer": rng.choice(others),
            "recipient": rng.choice(away),
        }

    def _approval(self, lane: Lane, o: Op, rng: random.Random) -> tuple[str, int, int]:
        up = down = 0
        target = "portal" if o.via else "approval"

        def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
            nonlocal up, down
            doc, u, d = self._ok(lane, o.src, target, method, path, body)
            up, down = up + u, down + d
            return doc

        did = o.op
        dept = self.departments.get(lane.user, "")
        if o.op == "submit":  # an applicant: correct a returned application, else file a new one
            if lane.pending:
                app_id = lane.pending[0]
                state = call("GET", f"/applications/{app_id}")["state"]
                if state == "returned":
                    call("POST", f"/applications/{app_id}/resubmit", {})
                    return "resubmit", up, down
                if state in ("approved", "rejected"):
                    lane.pending.pop(0)
            depts = rng.sample(self.dept_names, min(3, len(self.dept_names)))
            doc = call(
                "POST",
                "/applications",
                {
                    "applicant": lane.user,
                    "email": f"{lane.user}@example.org",
                    "subject": f"permit {rng.randrange(1 << 20)}",
                    "departments": depts,
                    "form": "f" * max(1, o.up - 600),
                },
            )
            lane.pending.append(int(doc["id"]))
        elif o.op == "query":
            apps = call("GET", "/applications?state=in_review&limit=20")["applications"]
            if apps:
                call("GET", f"/applications/{rng.choice(apps)['id']}")
            else:
                did = "query-empty"
        elif o.op == "review":
            apps = call("GET", f"/applications?department={dept}&limit=5")["applications"] if dept else []
            if not apps:
                return "review-idle", up, down
            ret = rng.random() < RETURN_SHARE
            body = {"by": lane.user, "decision": "return" if ret else "approve"}
            call(
                "POST",
                f"/applications/{rng.choice(apps)['id']}/reviews/{dept}",
                {**body, "note": "please correct the form"} if ret else body,
            )
            did = "review-return" if ret else "review-approve"
        elif o.op == "decide":  # final decisions first (finish work), then acceptance of new ones
            apps = call("GET", "/applications?state=final&limit=5")["applications"]
            if apps:
                rej = rng.random() < REJECT_SHARE
                body = {"by": lane.user, "decision": "reject" if rej else "approve", "reason": "as reviewed"}
                call("POST", f"/applications/{rng.choice(apps)['id']}/decide", body)
                return ("decide-reject" if rej else "decide-approve"), up, down
            apps = call("GET", "/applications?state=submitted&limit=5")["applications"]
            if not apps:
                return "decide-idle", up, down
            call("POST", f"/applications/{rng.choice(apps)['id']}/accept", {"by": lane.user})
            did = "accept"
        else:
            raise HttpFailure(0, f"unknown approval operation {o.op!r}")
        return did, up, down

    def _login(self, lane: Lane, o: Op) -> tuple[str, int, int]:
        password = self.passwords.get(lane.user, "")
        body = {"user": lane.user, "password": password if o.ok else password + "-typo"}
        status, doc, up, down = self._call(lane, o.src, o.app, "POST", "/login", body)
        if status == 200:
            lane.tokens[o.app] = str(doc.get("token", ""))
            return "login", up, down
        if status == 401 and not o.ok:
            return "login-mistyped", up, down  # as planned: not an error
        raise HttpFailure(status, str(doc.get("error", f"HTTP {status}")))
