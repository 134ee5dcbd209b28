"""Login auditing as a part: after the working day, every login the services and the management
SSH saw goes into the run's hash-chained ledger (audit.db) under the account policy; the lab fails
when the ledger does not verify. Enabled by `audit: true`, or by default with a `traffic` section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from govnet.events import Event
from ids.audit import Auditor, Ledger, load_policy, parse_file
from labs.parts.base import LabContext, Part, Verdict
from labs.parts.registry import register
from topology.model import Network
from topology.schema import Checker_, bool_field


@register
class Audit(Part):
    key = "audit"
    steps = ((80, "run"),)
    result_path = ("apps", "audit")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.doc: dict[str, Any] | None = None

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        return None if value is None else bool_field(v, value, path)

    @classmethod
    def wanted(cls, scenario: Mapping[str, Any], net: Network) -> bool:
        own = scenario.get(cls.key)
        return bool(own) if own is not None else scenario.get("traffic") is not None

    def run(self, ctx: LabContext) -> None:
        self.doc = audit_logins(ctx.run)
        ctx.log(f"apps: {login_counts(self.doc['login_records'])} in the audit ledger {ctx.run / 'audit.db'}")
        if not self.doc["intact"]:
            ctx.emit(Event(self.key, "audit.broken", str(ctx.run / "audit.db"), {}))

    def verdict(self) -> Verdict:
        if self.doc is not None and not self.doc["intact"]:
            return Verdict(False, ["the audit ledger does not verify"])
        return super().verdict()

    def summary(self) -> Any:
        return self.doc


def login_counts(counts: Mapping[str, int]) -> str:
    """'166 approval, 170 oa, 12 ssh login records' (or 'no login records')."""
    if not counts:
        return "no login records"
    return ", ".join(f"{n} {source}" for source, n in sorted(counts.items())) + " login records"


def audit_logins(run: Path) -> dict[str, Any]:
    """Feed the lab's logins into the run's audit ledger (the login event stream): the services'
    login events, and the management SSH logins on the routers and firewalls (device CLI, NIDS
    block pushes), from their sshd logs."""
    counts: dict[str, int] = {}
    with Ledger(run / "audit.db") as ledger:
        auditor = Auditor(load_policy(None), ledger=ledger, batch=1000)
        decisions = []
        for db in ("oa.db", "approval.db"):
            if (run / "apps" / db).exists():
                decisions += auditor.feed_all(parse_file(run / "apps" / db, "app")).decisions
        for log in sorted((run / "ssh").glob("*/sshd.log")):
            decisions += auditor.feed_all(parse_file(log, "sshd")).decisions
        for e in ledger.entries(kind="login"):
            counts[e.service] = counts.get(e.service, 0) + 1
        intact = ledger.verify().ok
    return {
        "ledger": "audit.db",
        "login_records": dict(sorted(counts.items())),
        "decisions": [f"{d.kind} {d.subject}: {d.reason}" for d in decisions],
        "intact": intact,
    }
