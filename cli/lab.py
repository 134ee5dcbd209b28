"""`govnet lab` (run, list, schema, report; runs, show, diff, prune): scenarios and their runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.common import Subparsers, progress, say


def cmd_lab_run(args: argparse.Namespace) -> int:
    from govnet.errors import GovnetError
    from labs import run_lab
    from labs.progress import live_status
    from labs.runrecord import end_current

    try:
        result = run_lab(args.lab, model=args.model, log=progress, watch=live_status, keep_raw=args.keep_raw)
    except KeyboardInterrupt:
        end_current("interrupted", 130)  # the run's record says so (run_lab did not get to end it)
        raise
    except BaseException as exc:
        end_current("failed", exc.exit_code if isinstance(exc, GovnetError) else 1)
        raise
    say(result.summary)
    say(f"report: {result.report}")
    return 0 if result.ok else 1


def cmd_lab_list(_args: argparse.Namespace) -> int:
    from labs import list_labs

    labs = list_labs()
    width = max((len(name) for name, _ in labs), default=0) + 2
    for name, desc in labs:
        say(f"{name:{width}}{desc}")
    return 0


def cmd_lab_schema(_args: argparse.Namespace) -> int:
    import json

    from labs.scenario import scenario_json_schema

    say(json.dumps(scenario_json_schema(), indent=1))
    return 0


def cmd_lab_report(args: argparse.Namespace) -> int:

    from govnet.paths import runs_dir
    from labs.html import write_html
    from labs.junit import write_junit
    from labs.rundata import load_run
    from labs.runs import find_run, list_runs

    info = find_run(args.run_dir, list_runs(runs_dir(), size=False), runs_dir())
    run = info.path if info is not None else Path(args.run_dir)
    load_run(run)  # a missing or unreadable run directory: UsageError, exit 2, one line
    say(f"html: {write_html(run)}")
    say(f"junit: {write_junit(run)}")
    return 0


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def cmd_lab_runs(args: argparse.Namespace) -> int:
    import json

    from govnet.paths import runs_dir
    from labs.runs import list_runs
    from labs.runtext import runs_table

    runs = list_runs()[: args.limit] if args.limit else list_runs()
    if args.json:
        say(json.dumps([r.to_json() for r in runs], indent=1))
        return 0
    if not runs:
        say(f"no runs in {runs_dir()} (GOVNET_RUNS chooses another folder)")
        return 0
    for line in runs_table(runs):
        say(line)
    return 0


def cmd_lab_show(args: argparse.Namespace) -> int:
    from govnet.errors import ModelError, UsageError
    from govnet.paths import runs_dir
    from labs.runs import dir_size, find_run, list_runs
    from labs.runtext import show_run, show_scenario

    base = runs_dir()
    info = find_run(args.what, list_runs(base, size=False), base)
    if info is not None:
        info.size = dir_size(info.path)
        lines = show_run(info)
    else:
        try:
            lines = show_scenario(args.what)
        except ModelError as exc:
            missing = [p for p in exc.problems if p.source == args.what and not p.path]
            if missing and not Path(args.what).exists():
                raise UsageError(
                    f"'{args.what}' is neither a run in {base} nor a lab scenario; 'govnet lab runs' lists "
                    "the runs (an id, a unique prefix or 'latest'), 'govnet lab list' the scenarios"
                ) from None
            raise
    for line in lines:
        say(line)
    return 0


def cmd_lab_diff(args: argparse.Namespace) -> int:
    from labs.runs import get_run
    from labs.runtext import diff_runs

    a, b = get_run(args.a), get_run(args.b)
    for line in diff_runs(a, b, everything=args.all):
        say(line)
    return 0


def cmd_lab_prune(args: argparse.Namespace) -> int:
    import sys

    from govnet.errors import UsageError
    from govnet.paths import runs_dir
    from labs.runs import prune
    from labs.runtext import fmt_mb

    if args.keep < 1:
        raise UsageError(
            f"--keep {args.keep}: keep at least 1 run (to remove every run, delete the folder yourself)"
        )
    done = prune(args.keep, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for r in done.removed:
        say(f"{verb} {r.id} ({fmt_mb(r.size)})")
    for r in done.running:
        say(f"kept {r.id}: still running (process {r.record.get('pid')})")
    for r, why in done.failed:
        print(
            f"govnet: cannot remove {r.path}: {why}; runs written by 'sudo' need 'sudo govnet lab prune'",
            file=sys.stderr,
        )
    n = len(done.removed)
    say(
        f"{verb} {n} run{'' if n == 1 else 's'} from {runs_dir()}, "
        f"{'would free' if args.dry_run else 'freed'} {fmt_mb(done.freed)}; kept the newest {len(done.kept)}"
        + (f" and {len(done.running)} still running" if done.running else "")
    )
    return 1 if done.failed else 0


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
    r.add_argument(
        "--keep-raw",
        action="store_true",
        help="keep the raw data (OA attachment bodies, the off-site copy) that is otherwise removed "
        "once the reports are written, to keep a run small (labs/slim.py)",
    )
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
        epilog="examples:\n  govnet lab report latest\n  govnet lab report runs/20261203-130216-workday\n"
        "  xdg-open runs/20261203-130216-workday/report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rp.add_argument(
        "run_dir",
        metavar="RUN",
        help="a run: its directory, its id, a unique prefix or 'latest' (see 'lab runs')",
    )
    rp.set_defaults(func=cmd_lab_report)
    rn = lsub.add_parser(
        "runs",
        help="the run directories, newest first",
        description="One line per run directory: id, scenario, start (local time), duration, verdict, "
        "commit, host and size on disk. The verdict is passed, failed, interrupted, running, crashed (the "
        "run's process is gone without writing its end) or unknown (no run.json or results.json). "
        "GOVNET_RUNS chooses the folder.",
        epilog="examples:\n  govnet lab runs --limit 5\n  govnet lab runs --json | jq '.[0].verdict'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rn.add_argument("--json", action="store_true", help="the same as a JSON list (null where unknown)")
    rn.add_argument("--limit", type=_positive, metavar="N", help="only the newest N runs")
    rn.set_defaults(func=cmd_lab_runs)
    sh = lsub.add_parser(
        "show",
        help="a run's record and results, or a scenario in words",
        description="For a run (its id, a unique prefix of it, 'latest' or its directory): the record "
        "(scenario, model, seed, start, end, commit, host, versions), the verdict and why, the parts, and "
        "the timeline and expectations when the run has them. For a scenario (a bundled name or a YAML "
        "file): its description, model, the parts it enables, its timeline and expectations.",
        epilog="examples:\n  govnet lab show latest\n  govnet lab show 20261203-1402\n"
        "  govnet lab show smoke",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sh.add_argument(
        "what", metavar="RUN|SCENARIO", help="a run id (or unique prefix, or 'latest') or a scenario"
    )
    sh.set_defaults(func=cmd_lab_show)
    df = lsub.add_parser(
        "diff",
        help="compare two runs side by side",
        description="Two runs side by side: verdict, duration, commit, each part's verdict, each "
        "expectation's measured value, and the numeric figures of results.json (metrics and timings as "
        "dotted keys); rows marked * differ. Figures that are equal are left out unless --all.",
        epilog="example:\n  govnet lab diff 20261203-1302 latest",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    df.add_argument("a", metavar="RUN", help="the first run (id, unique prefix or 'latest')")
    df.add_argument("b", metavar="RUN", help="the second run")
    df.add_argument("--all", action="store_true", help="every figure, also those that are equal")
    df.set_defaults(func=cmd_lab_diff)
    pr = lsub.add_parser(
        "prune",
        help="delete all but the newest N run directories",
        description="Delete every run directory but the newest N. Only directories govnet made are "
        "touched (a run directory's name with a run.json or results.json inside); a run whose process "
        "still runs is kept. Says what it removed and how much it freed.",
        epilog="examples:\n  govnet lab prune --keep 10 --dry-run\n  sudo govnet lab prune --keep 10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pr.add_argument(
        "--keep", type=int, required=True, metavar="N", help="how many of the newest runs to keep (>= 1)"
    )
    pr.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    pr.set_defaults(func=cmd_lab_prune)
    lab.set_defaults(func=None, _parser=lab)
    for parser in (r, ls, sc, rp, rn, sh, df, pr):
        parser.set_defaults(_parser=parser)
