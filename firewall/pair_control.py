"""The pair controller's UNIX control socket (`govnet fw status|drain|add`), and `request` to talk to it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from firewall.errors import FirewallError
from firewall.pair_state import PairState


class PairControl(PairState):
    """Answers status, drain and add requests, one JSON line each way."""

    _server: socket.socket | None
    socket_path: Path | None

    # control socket ------------------------------------------------------------------------------
    def _serve(self, path: Path) -> None:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        os.chmod(path, 0o600)
        srv.listen(8)
        srv.settimeout(0.2)
        self._server = srv
        self.socket_path = path

    def _serve_loop(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    req = json.loads(conn.makefile("r").readline() or "{}")
                    op = req.get("op")
                    if op == "status":
                        reply: dict[str, Any] = {"ok": True, "status": self.status()}
                    elif op == "drain":
                        reply = {"ok": True, "result": self.drain(str(req.get("member", "")))}
                    elif op == "add":
                        reply = {"ok": True, "result": self.add(str(req.get("member", "")))}
                    else:
                        reply = {"ok": False, "error": f"unknown operation {op!r}"}
                except (FirewallError, ValueError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall((json.dumps(reply) + "\n").encode())


def request(
    op: str, member: str = "", socket_path: str | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """Ask the running pair controller (found through the emulation's state file) to act."""
    path = socket_path
    if path is None:
        from topology.emulator.state import active_records

        recs = [r for r in active_records() if r.get("fw_socket")]
        if not recs:
            raise FirewallError(
                "no running emulation has a firewall pair controller; start one with "
                "'sudo govnet topo up' (a model with firewall_members >= 2) or 'govnet lab run ...'"
            )
        path = str(recs[0]["fw_socket"])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((json.dumps({"op": op, "member": member}) + "\n").encode())
        reply = json.loads(s.makefile("r").readline() or "{}")
    except (OSError, json.JSONDecodeError) as exc:
        raise FirewallError(f"the pair controller at {path} did not answer: {exc}") from None
    finally:
        s.close()
    if not reply.get("ok"):
        raise FirewallError(str(reply.get("error", "the controller refused")))
    return dict(reply)
