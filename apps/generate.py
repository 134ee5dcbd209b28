"""`python -m apps.generate`: build the client and background schedules and write the offered traffic.

    python -m apps.generate --model small --hours 8 --start-hour 8 --out offered.json [--config t.json]

The output loads with `capacity.demands.load_demands` (its `demands` are the busiest interval).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from apps.background import background_flows
from apps.config import CLIENT_APPS, load_config
from apps.offered import export_offered
from apps.traffic import client_events
from govnet.errors import GovnetError
from govnet.safeload import load_json_file
from topology import load_model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m apps.generate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="weihai", help="model name or path (default: weihai)")
    p.add_argument("--config", help="traffic configuration JSON (default: built-in figures)")
    p.add_argument("--start-hour", type=float, default=0.0)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--interval", type=float, default=3600.0, help="seconds per exported interval")
    p.add_argument("--out", required=True, help="offered-traffic JSON to write")
    a = p.parse_args(argv)
    try:
        net = load_model(a.model)
        raw = load_json_file(a.config) if a.config else {}
        cfg = load_config(raw, a.config or "<defaults>")
    except GovnetError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    start, duration = a.start_hour * 3600.0, a.hours * 3600.0
    began = time.process_time()
    events = [
        e for app in CLIENT_APPS if app in cfg.clients for e in client_events(net, cfg, app, start, duration)
    ]
    flows = background_flows(net, cfg, start, duration)
    doc = export_offered(a.out, net.name, events, flows, start, duration, a.interval)
    cpu = time.process_time() - began
    ops = Counter(e.app for e in events)
    per_app = ", ".join(f"{k} {v}" for k, v in ops.items())
    failed = sum(1 for e in events if e.op == "login" and not e.ok)
    print(
        f"{net.name}: {sum(ops.values())} client operations ({per_app}), "
        f"{failed} mistyped logins, {len(flows)} background flows in {cpu:.2f} s CPU"
    )
    busiest = sum(d["mbps"] for d in doc["demands"])
    print(f"{a.out}: busiest interval at {doc['busiest_t_s'] / 3600:.2f} h offers {busiest:.1f} Mbit/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
