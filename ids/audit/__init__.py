"""Login-failure auditing, account policy and behaviour profiles (issue 7).

Parse sshd/PAM/app logs into login events, keep them in a hash-chained SQLite ledger, judge them
with the account policy (decisions go to enforcement hooks), and score them against per-user
behaviour profiles. See README "Login audit".
"""

from ids.audit.auditor import Auditor, FeedResult, LedgerRecorder, anomaly_alert, decision_entry
from ids.audit.config import Limit, Policy, PolicyError, load_policy, policy_document
from ids.audit.follow import AppDbFollower, LogFollower
from ids.audit.ledger import Cursor, Entry, Ledger, VerifyResult
from ids.audit.parse import KINDS, Attempts, attempts, parse_file, parse_line
from ids.audit.policy import CallbackEnforcer, Decision, Enforcer, HookFailure, Outcome, PolicyEngine
from ids.audit.profile import Anomaly, Profiles
from ids.audit.records import Activity, LoginEvent
from ids.audit.report import format_report, summarise

__all__ = [
    "KINDS",
    "Activity",
    "Anomaly",
    "AppDbFollower",
    "Attempts",
    "Auditor",
    "CallbackEnforcer",
    "Cursor",
    "Decision",
    "Enforcer",
    "Entry",
    "FeedResult",
    "HookFailure",
    "Ledger",
    "LedgerRecorder",
    "Limit",
    "LogFollower",
    "LoginEvent",
    "Outcome",
    "Policy",
    "PolicyEngine",
    "PolicyError",
    "Profiles",
    "VerifyResult",
    "anomaly_alert",
    "attempts",
    "decision_entry",
    "format_report",
    "load_policy",
    "parse_file",
    "parse_line",
    "policy_document",
    "summarise",
]
