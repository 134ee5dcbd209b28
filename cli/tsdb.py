"""`govnet tsdb` (up, down, status): the metrics store."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import Subparsers, say

EPILOG_TSDB = """examples:
  govnet tsdb up                             # VictoriaMetrics on 127.0.0.1:8428 (or a free port), var/tsdb/
  govnet tsdb status                         # the URL in use; exit 1 if the store does not answer
  curl -s localhost:8428/api/v1/query --data-urlencode 'query=rate(iface_tx_bytes[1m])*8'
  govnet tsdb down                           # stop exactly the process in var/tsdb/victoria-metrics.pid
  GOVNET_TSDB_URL=http://host:8428 govnet tsdb status   # use a store govnet does not manage
"""


def _store(args: argparse.Namespace) -> Any:
    from govnet.tsdb import Store

    return Store(port=getattr(args, "port", None), retention=getattr(args, "retention", None) or "30d")


def cmd_tsdb_up(args: argparse.Namespace) -> int:
    store = _store(args)
    if store.external:
        store.check()
        say(f"using the metrics store at {store.describe()}: it answers (govnet does not manage it)")
        return 0
    started = store.up()
    say(f"metrics store {'started' if started else 'already running'}: {store.describe()}")
    return 0


def cmd_tsdb_down(args: argparse.Namespace) -> int:
    store = _store(args)
    if store.external:
        say(f"nothing to stop: the metrics store at {store.describe()} is not managed by govnet")
        return 0
    pid = store.pid()
    say(f"metrics store stopped (pid {pid})" if store.down() else "metrics store was not running")
    return 0


def cmd_tsdb_status(args: argparse.Namespace) -> int:
    store = _store(args)
    store.check()
    say(f"metrics store up: {store.describe()}, {store.series_count()} series")
    return 0


def register(sub: Subparsers) -> None:
    """Add `tsdb` to the `govnet` subcommands."""
    tsdb = sub.add_parser(
        "tsdb",
        help="the metrics store: a local VictoriaMetrics under var/tsdb/ (or $GOVNET_TSDB_URL)",
        epilog=EPILOG_TSDB,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = tsdb.add_subparsers(dest="tsdb_cmd", metavar="VERB")
    du = dsub.add_parser("up", help="start the local store (idempotent) and wait until it answers")
    du.add_argument("--port", type=int, help="port on 127.0.0.1 (default 8428, or a free one if taken)")
    du.add_argument("--retention", default="30d", help="how long points are kept (default 30d)")
    du.set_defaults(func=cmd_tsdb_up)
    dd = dsub.add_parser("down", help="stop the local store started by 'govnet tsdb up'")
    dd.set_defaults(func=cmd_tsdb_down)
    dst = dsub.add_parser("status", help="the URL in use; exit 1 if the store does not answer")
    dst.set_defaults(func=cmd_tsdb_status)
    tsdb.set_defaults(func=None, _parser=tsdb)
    for parser in (du, dd, dst):
        parser.set_defaults(_parser=parser)
