"""`govnet lab` (run, list, schema): lab scenarios."""

from __future__ import annotations

import argparse

from cli.common import Subparsers, progress, say


def cmd_lab_run(args: argparse.Namespace) -> int:
    from labs import run_lab

    result = run_lab(args.lab, model=args.model, log=progress)
    say(result.summary)
    say(f"report: {result.report}")
    return 0 if result.ok else 1


def cmd_lab_list(_args: argparse.Namespace) -> int:
    from labs import list_labs

    for name, desc in list_labs():
        say(f"{name:16} {desc}")
    return 0


def cmd_lab_schema(_args: argparse.Namespace) -> int:
    import json

    from labs.scenario import scenario_json_schema

    say(json.dumps(scenario_json_schema(), indent=1))
    return 0


def cmd_lab_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labs.html import load_run, write_html
    from labs.junit import write_junit

    run = Path(args.run_dir)
    load_run(run)  # a missing or unreadable run directory: UsageError, exit 2, one line
    say(f"html: {write_html(run)}")
    say(f"junit: {write_junit(run)}")
    return 0


def register(sub: Subparsers) -> None:
    """Add `lab` to the `govnet` subcommands."""
    lab = sub.add_parser(
        "lab",
        help="lab scenarios: bring up, drive, check, report, tear down",
        epilog="example: sudo govnet lab run baseline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lsub = lab.add_subparsers(dest="lab_cmd", metavar="VERB")
    r = lsub.add_parser(
        "run",
        help="run a lab scenario and write a report",
        description="Bring the scenario's network up, run its parts, write runs/<time>-<name>/report.md, "
        "tear everything down.",
        epilog="scenario keys (labs/scenarios/*.yaml):\n"
        "  name, description, model        what and where\n"
        "  checks: [reachability, rates, heal]\n"
        "  monitor: true                   metrics store, SNMP, host agents, device CLI\n"
        "  ids: true                       NIDS on the pair's links and the DMZ; blocks to the firewalls\n"
        "  validate: true                  flow simulator vs emulator on the same flows\n"
        "  traffic: {start_hour, hours, day_minutes, seed, clients, background, limits_hours}\n"
        "                                  a compressed working day of OA/approval users and voice/video\n"
        "  offsite: {size_mb, share}       the off-site backup copy across the network, verified\n"
        "examples:\n"
        "  sudo govnet lab run workday      # small model, about 1.5 min\n"
        "  sudo govnet lab run baseline     # the reference network, about 6 min",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("lab", help="scenario name (see 'govnet lab list') or a scenario YAML file")
    r.add_argument("--model", help="override the scenario's model (file or bundled name)")
    r.set_defaults(func=cmd_lab_run)
    ls = lsub.add_parser("list", help="the bundled scenarios")
    ls.set_defaults(func=cmd_lab_list)
    sc = lsub.add_parser(
        "schema",
        help="print the scenario files' JSON Schema (for editors)",
        description="The JSON Schema (draft 2020-12) of lab scenario files: the base fields and one key "
        "per registered part, from the parts' own declarations. 'govnet lab run' checks more (the "
        "model's node names, the traffic classes) before anything starts.",
        epilog="example:\n  govnet lab schema > scenario.schema.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.set_defaults(func=cmd_lab_schema)
    rp = lsub.add_parser(
        "report",
        help="(re)build report.html and junit.xml of a stored run",
        description="Build the run's self-contained HTML page (verdict, expectations, pictures, events,\n"
        "detail; works offline) and its JUnit XML from the files in the run directory, and print\n"
        "their paths. Needs no root and no network: the series the pictures draw are in the run's\n"
        "metrics/series.json.",
        epilog="example:\n  govnet lab report runs/20261203-130216-workday\n"
        "  xdg-open runs/20261203-130216-workday/report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rp.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (runs/<time>-<lab>/)")
    rp.set_defaults(func=cmd_lab_report)
    lab.set_defaults(func=None, _parser=lab)
    for parser in (r, ls, sc, rp):
        parser.set_defaults(_parser=parser)
