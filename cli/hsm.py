"""`govnet hsm` (simulate, status, drill, reclaim, offsite-plan): the HSM backup tiers."""

from __future__ import annotations

import argparse
import json
import os

from cli.common import Subparsers, progress, say

EPILOG_HSM = """examples:
  govnet hsm simulate --files 100000 --days 365 --policy 20/80+30/70
  govnet hsm simulate --files 1000000 --days 730 --policy age:30 --disk-tb 4 --json | jq .fill_day
  govnet hsm status                          # the store under var/hsm/: files and bytes per tier, alarms,
                                             # reclaimable bytes per tape/disc volume
  govnet hsm reclaim --threshold 40 --dry-run   # which volumes are below 40 % live, and the modelled time
  govnet hsm reclaim --window-h 2            # copy their live records to other volumes, retire them
  govnet hsm offsite-plan var/hsm/backup/offsite/docs/000001-full.tar --model weihai
                                             # off-site copy: hosts, path, pacing, window, the two commands
  govnet hsm drill                           # back up sample data, restore a file, a database, a mailbox
                                             # and a system image, time and verify each by checksum
"""


def cmd_hsm_simulate(args: argparse.Namespace) -> int:
    from backup_hsm import run_simulation

    report = run_simulation(
        files=args.files,
        days=args.days,
        policy=args.policy,
        seed=args.seed,
        growth=args.growth,
        mean_mb=args.mean_mb,
        reads=args.reads,
        disk_tb=args.disk_tb,
        optical_tb=args.optical_tb,
        tape_tb=args.tape_tb,
    )
    if args.json:
        say(json.dumps(report, indent=1))
        return 0
    from backup_hsm import format_report

    say(format_report(report))
    return 0


def cmd_hsm_status(args: argparse.Namespace) -> int:
    from backup_hsm import Hsm

    # only look: a running service may own the store, and a path with no store stays without one
    with Hsm.open(args.root, recover=False, create=False) as hsm:
        status = hsm.status()
    say(json.dumps(status, indent=1) if args.json else hsm.format_status(status))
    return 0


def cmd_hsm_reclaim(args: argparse.Namespace) -> int:
    from backup_hsm import OPTICAL, TAPE, Hsm, reclaim
    from backup_hsm.reclaim import check_threshold

    tier = TAPE if args.tier == "tape" else OPTICAL
    budget = args.window_h * 3600 if args.window_h else None
    check_threshold(args.threshold / 100, tier)  # before opening (and perhaps creating) a store
    with Hsm.open(args.root, create=not args.dry_run) as hsm:  # a dry run never makes a store
        result = reclaim(hsm, args.threshold / 100, tier, budget_s=budget, dry_run=args.dry_run)
    say(json.dumps(result.to_dict(), indent=1) if args.json else "\n".join(result.lines()))
    return 0 if all(v.state != "failed" for v in result.volumes) else 1


def cmd_hsm_offsite_plan(args: argparse.Namespace) -> int:
    import hashlib

    from backup_hsm import HsmInputError, Window
    from backup_hsm.offsite import plan_offsite
    from topology import load_model

    start, _, hours = args.window.partition(":")
    where = "hsm offsite-plan"
    try:
        window = Window(float(start), float(hours))
        with open(args.archive, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except ValueError:
        raise HsmInputError(where, "window", "not START_H:HOURS", args.window, "e.g. 22:3") from None
    except OSError as exc:
        raise HsmInputError(where, "archive", "cannot read it", args.archive, str(exc.strerror)) from None
    plan = plan_offsite(
        load_model(args.model),
        os.path.basename(args.archive),
        os.path.getsize(args.archive),
        digest,
        window,
        share=args.share,
        source=args.source,
        destination=args.destination,
    )
    cmds = plan.commands(os.path.abspath(args.archive), args.out, args.key_file)
    if args.json:
        say(json.dumps({**plan.to_dict(), "commands": cmds}, indent=1))
        return 0
    end = plan.start_s + plan.duration_s
    say(
        f"{plan.job}: {plan.bytes:,} bytes {plan.source} ({plan.source_addr}) -> {plan.destination} "
        f"({plan.destination_addr}) over {' > '.join(plan.path)}\n"
        f"bottleneck {plan.bottleneck_mbps:g} Mbit/s, paced at {plan.rate_mbps:g} Mbit/s: "
        f"{plan.duration_s:,.0f} s from {plan.start_s / 3600 % 24:05.2f} h, ends {end / 3600 % 24:05.2f} h "
        f"({'fits' if plan.fits else 'does NOT fit'} the window)"
    )
    say(f"  first: python -m backup_hsm.transfer keygen {args.key_file}; give both hosts that file (0600)")
    for host, argv in cmds.items():
        say(f"  in {host}: {' '.join(argv)}")
    return 0


def cmd_hsm_drill(args: argparse.Namespace) -> int:
    from backup_hsm import run_drills

    results = run_drills(args.root, log=progress)
    for r in results:
        say(r.line())
    return 0 if all(r.ok for r in results) else 1


def register(sub: Subparsers) -> None:
    """Add `hsm` to the `govnet` subcommands."""
    hsm = sub.add_parser(
        "hsm",
        help="HSM backup tiers: disk, optical and tape; policies, simulation, restore drills",
        epilog=EPILOG_HSM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hsub = hsm.add_subparsers(dest="hsm_cmd", metavar="VERB")
    hs = hsub.add_parser(
        "simulate",
        help="replay synthetic access over a horizon; bytes per tier, recalls, latency, mounts, fill days",
        description="Replays Zipf-like access with drift over a synthetic catalog (numpy columns, synthetic "
        "sizes: no file bytes are written, so a million files take seconds) under a placement policy, and "
        "reports bytes per tier over time, recalls, mean/p95 recall latency on the device models, tape "
        "mounts, media cost per TB and the day each tier fills (null: never).",
        epilog="example: govnet hsm simulate --files 200000 --days 365 --policy 20/80+30/70 --disk-tb 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hs.add_argument("--files", type=int, default=100_000, help="files at day 0 (default 100000)")
    hs.add_argument("--days", type=int, default=365, help="horizon in days (default 365)")
    hs.add_argument("--policy", default="20/80+30/70", help="20/80, 20/80+30/70 or age:DAYS[:TAPE_DAYS]")
    hs.add_argument("--seed", type=int, default=1, help="random seed (same seed, same run)")
    hs.add_argument("--growth", type=float, default=0.003, help="new files per day, fraction of --files")
    hs.add_argument("--mean-mb", type=float, default=20.0, help="mean file size in MB (lognormal)")
    hs.add_argument("--reads", type=float, default=0.02, help="reads per file per day")
    hs.add_argument("--disk-tb", type=float, help="disk array capacity in TB (default 50)")
    hs.add_argument("--optical-tb", type=float, help="optical library capacity in TB (default 100)")
    hs.add_argument("--tape-tb", type=float, help="tape library capacity in TB (default 3600, LTO-9)")
    hs.add_argument("--json", action="store_true", help="the report as JSON")
    hs.set_defaults(func=cmd_hsm_simulate)
    root_help = "store directory (default var/hsm, or $GOVNET_VAR/hsm)"
    hst = hsub.add_parser("status", help="files and bytes per tier of the store, pending steps, alarms")
    hst.add_argument("--root", help=root_help)
    hst.add_argument("--json", action="store_true", help="as JSON")
    hst.set_defaults(func=cmd_hsm_status)
    hd = hsub.add_parser("drill", help="back up sample data, then time and verify four restores")
    hd.add_argument("--root", help=root_help)
    hd.set_defaults(func=cmd_hsm_drill)
    hr = hsub.add_parser(
        "reclaim",
        help="copy live records of mostly-dead tape volumes to other volumes, then retire them",
        description="A volume whose live bytes are below --threshold percent of its written bytes is "
        "reclaimed: its live records are read in tape order and appended to another volume, the catalog "
        "is updated, and the volume is retired. Time is modelled on the library (robot, load, locate, "
        "stream). Exit 1 if a volume could not be emptied (a damaged record with no good copy).",
    )
    hr.add_argument("--root", help=root_help)
    hr.add_argument("--threshold", type=float, default=40.0, help="live percent below which (default 40)")
    hr.add_argument("--tier", choices=("tape", "optical"), default="tape", help="library (default tape)")
    hr.add_argument("--window-h", type=float, help="stop when this many modelled hours are used")
    hr.add_argument("--dry-run", action="store_true", help="only list the candidates and the modelled time")
    hr.add_argument("--json", action="store_true", help="as JSON")
    hr.set_defaults(func=cmd_hsm_reclaim)
    ho = hsub.add_parser(
        "offsite-plan",
        help="plan the off-site copy of an archive over the model: hosts, path, rate, window, commands",
        description="Picks the source (srv-backup, srv-file or the first server) and an off-site host that "
        "may connect to it, finds the path and its slowest link, paces the copy to --share of it and says "
        "whether it fits the backup window. Prints the two commands the lab runs in the emulated hosts "
        "(python -m backup_hsm.transfer serve / pull).",
    )
    ho.add_argument("archive", help="the backup archive to copy (its size and SHA-256 are read)")
    ho.add_argument("--model", help="model file or bundled name (default weihai)")
    ho.add_argument("--source", help="source host (default: chosen from the model)")
    ho.add_argument("--destination", help="off-site host (default: chosen from the model)")
    ho.add_argument("--window", default="22:3", help="backup window START_H:HOURS (default 22:3)")
    ho.add_argument("--share", type=float, default=0.5, help="fraction of the bottleneck to use")
    ho.add_argument("--out", default="/srv/offsite", help="directory on the off-site host")
    ho.add_argument(
        "--key-file",
        default="offsite.key",
        help="the shared key both hosts read (make it once: python -m backup_hsm.transfer keygen FILE)",
    )
    ho.add_argument("--json", action="store_true", help="as JSON")
    ho.set_defaults(func=cmd_hsm_offsite_plan)
    hsm.set_defaults(func=None, _parser=hsm)
    for parser in (hs, hst, hd, hr, ho):
        parser.set_defaults(_parser=parser)
