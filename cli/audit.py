"""`govnet audit` (parse, ingest, verify, report, policy-check): login auditing (ids.audit)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from cli.common import Subparsers, say

EPILOG_AUDIT = """examples:
  govnet audit parse --kind sshd /var/log/auth.log --json | jq -c 'select(.result == "failure")'
  govnet audit parse --kind pam auth.log --year 2026        # year-less syslog dates: 2026
  govnet audit ingest --kind auth auth.log --policy policy.yaml --events events.json
  govnet audit verify                                        # exit 1 and the first bad record id
  govnet audit report --top 5
  govnet audit policy-check policy.yaml --show
ledger: var/audit/ledger.db unless --ledger or $GOVNET_VAR is given
"""


def _year(text: str) -> int:
    if not text.isdigit() or not 1970 <= int(text) <= 9999:
        raise argparse.ArgumentTypeError(f"a year is 1970..9999 (got {text!r})")
    return int(text)


def _ledger_path(args: argparse.Namespace) -> str:
    from govnet.paths import var_dir

    return str(args.ledger or var_dir() / "audit" / "ledger.db")


def _log_file(path: str) -> str:
    from govnet.errors import AuditError

    if not os.path.isfile(path):
        raise AuditError(f"{path}: no such log file" if not os.path.exists(path) else f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise AuditError(f"{path}: not readable (permission denied); run as a user who can read it")
    return path


def cmd_audit_parse(args: argparse.Namespace) -> int:
    from ids.audit import parse_file

    path = _log_file(args.file)
    years = _syslog_years(path, args.kind, args.year)
    n = 0
    for ev in parse_file(path, args.kind, years=years):
        n += 1
        if args.json:
            sys.stdout.write(json.dumps(ev.to_json(), ensure_ascii=False) + "\n")
        else:
            say(f"{ev.line:>7} {ev.time[:19]} {ev.result:7} {ev.reason:28} {ev.user[:20]:20} {ev.host}")
    if not args.json:
        say(f"{n} login events")
    _say_bad_dates(path, years, err=args.json)
    return 0


def _syslog_years(path: str, kind: str, year: int | None) -> Any:
    from ids.audit.logline import SyslogYear, file_year

    if kind == "app":
        return None
    return SyslogYear(year=year) if year is not None else file_year(path)


def _say_bad_dates(path: str, years: Any, *, err: bool = False) -> None:
    """Say how many lines were skipped because their date cannot exist (never drop lines silently)."""
    if years is None or not years.bad_dates:
        return
    first = years.first_bad[0] if years.first_bad else "?"
    msg = (
        f"{path}: {years.bad_dates} line(s) skipped: impossible date (first: {first!r}); "
        "for 'Feb 29' give the log's leap year with --year"
    )
    print(msg, file=sys.stderr if err else sys.stdout)


def cmd_audit_ingest(args: argparse.Namespace) -> int:
    from govnet.events import EventLog
    from ids.audit import Auditor, Ledger, LogFollower, load_policy, parse_file

    policy = load_policy(args.policy)
    path = _log_file(args.file)
    events = EventLog(args.events) if args.events else None
    try:
        with Ledger(_ledger_path(args)) as ledger:
            ledger.require_intact()
            auditor = Auditor(
                policy, ledger=ledger, event_log=events, batch=1000, sshd_lines=args.kind != "pam"
            )
            replayed = auditor.restore(ledger)  # repeat offences across runs stay repeats
            if replayed:
                say(f"{_ledger_path(args)}: policy state restored from {replayed} earlier attempts")
            if args.kind == "app":  # a JSON document or a database: read whole, not resumable
                result = auditor.feed_all(parse_file(path, args.kind, year=args.year))
                years = None
            else:  # resumes where the last ingest of this file stopped (cursor in the ledger)
                follower = LogFollower(path, args.kind, auditor, year=args.year, from_start=args.from_start)
                start = follower.line
                result = follower.poll()
                years = follower.years
                if start > 1:
                    say(f"{path}: resumed at line {start} (use --from-start to read it all again)")
    finally:
        if events is not None:
            events.close()
    attempts = sum(auditor.counts.values())
    say(f"{path}: {auditor.seen} login events, {attempts} attempts, {auditor.written} ledger records")
    for d in result.decisions:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d.until)) if d.until else "-"
        say(f"  {d.kind:13} {d.subject:24} until {until}  {d.reason}")
    for a in result.anomalies:
        say(f"  anomaly      {a.user:24} score {a.score:.2f}  {a.explain()}")
    _say_bad_dates(path, years)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ids.audit import Ledger

    path = _ledger_path(args)
    with Ledger(path, create=False) as ledger:
        res = ledger.verify()
    if res.ok:
        say(res.line(path))
        return 0
    print(f"govnet: {res.line(path)}", file=sys.stderr)
    return 1


def cmd_audit_report(args: argparse.Namespace) -> int:
    from ids.audit import Ledger, format_report, load_policy, summarise

    policy = load_policy(args.policy)
    with Ledger(_ledger_path(args), create=False) as ledger:
        rep = summarise(ledger, policy, top=args.top)
    say(json.dumps(rep, indent=1, ensure_ascii=False) if args.json else format_report(rep))
    return 0


def cmd_audit_policy_check(args: argparse.Namespace) -> int:
    from ids.audit import load_policy, policy_document

    policy = load_policy(args.file)
    if args.show:
        say(json.dumps(policy_document(policy), indent=1))
    else:
        say(f"{args.file or '(defaults)'}: valid policy")
    return 0


def register(sub: Subparsers) -> None:
    """Add `audit` to the `govnet` subcommands."""
    # audit parser (ids.audit) --
    aud = sub.add_parser(
        "audit",
        help="login audit: parse sshd/PAM/app logs, the hash-chained ledger, account policy, report",
        epilog=EPILOG_AUDIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    asub = aud.add_subparsers(dest="audit_cmd", metavar="VERB")
    raw = argparse.RawDescriptionHelpFormatter
    ledger_help = "ledger database (default var/audit/ledger.db)"
    kind_help = "sshd (OpenSSH lines), pam (pam_* lines), auth (both: an auth.log), app (OA/approval events)"
    year_help = "year of year-less syslog dates (default: the file's modification year)"
    ap = asub.add_parser(
        "parse",
        help="print the login events of a log file (one JSON object a line with --json)",
        epilog="example:\n  govnet audit parse --kind sshd /var/log/auth.log --json\n"
        '  {"line": 12, "time": "2026-11-22T06:01:02.000000+00:00", "user": "bob", "host": "10.0.0.5", '
        '"result": "failure", "reason": "failed-password", ...}',
        formatter_class=raw,
    )
    ap.add_argument("--kind", required=True, choices=["sshd", "pam", "auth", "app"], help=kind_help)
    ap.add_argument("file", help="the log file (app: JSON lines, the /events reply, or the service's .db)")
    ap.add_argument("--json", action="store_true", help="one JSON object per login event")
    ap.add_argument("--year", type=_year, help=year_help)
    ap.set_defaults(func=cmd_audit_parse)
    ai = asub.add_parser(
        "ingest",
        help="parse a log into the ledger and apply the account policy (locks, blocks, anomalies)",
        epilog="example:\n  govnet audit ingest --kind auth auth.log --ledger lab.db --events events.json",
        formatter_class=raw,
    )
    ai.add_argument("--kind", required=True, choices=["sshd", "pam", "auth", "app"], help=kind_help)
    ai.add_argument("file", help="the log file")
    ai.add_argument("--ledger", help=ledger_help)
    ai.add_argument("--policy", help="policy file (YAML or JSON; default: the plan's numbers)")
    ai.add_argument("--year", type=_year, help=year_help)
    ai.add_argument("--events", help="also append decisions and anomaly alerts to this EVE JSON-lines file")
    ai.add_argument("--from-start", action="store_true", help="ignore the saved read position of this file")
    ai.set_defaults(func=cmd_audit_ingest)
    av = asub.add_parser(
        "verify",
        help="check the ledger's hash chain; exit 1 naming the first edited, removed or reordered record",
        epilog="example:\n  govnet audit verify --ledger lab.db\n  lab.db: ok — 1204 records, head 3f1c",
        formatter_class=raw,
    )
    av.add_argument("--ledger", help=ledger_help)
    av.set_defaults(func=cmd_audit_verify)
    ar = asub.add_parser(
        "report",
        help="lockouts, top failing users and sources, anomalies (text, or --json)",
        epilog="example:\n  govnet audit report --top 5\n  govnet audit report --json | jq .lockouts",
        formatter_class=raw,
    )
    ar.add_argument("--ledger", help=ledger_help)
    ar.add_argument("--policy", help="policy file (anomaly threshold); default: the plan's numbers")
    ar.add_argument("--top", type=int, default=10, help="how many users and sources to list (default 10)")
    ar.add_argument("--json", action="store_true", help="the report as JSON")
    ar.set_defaults(func=cmd_audit_report)
    apc = asub.add_parser(
        "policy-check",
        help="validate a policy file (one line per mistake); --show prints the effective policy",
        epilog="examples:\n  govnet audit policy-check policy.yaml\n  govnet audit policy-check --show",
        formatter_class=raw,
    )
    apc.add_argument("file", nargs="?", help="policy file (YAML or JSON)")
    apc.add_argument("--show", action="store_true", help="print the effective policy as JSON")
    apc.set_defaults(func=cmd_audit_policy_check)
    aud.set_defaults(func=None, _parser=aud)
    for parser in (ap, ai, av, ar, apc):
        parser.set_defaults(_parser=parser)
