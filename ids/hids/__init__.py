"""Host IDS: file-integrity baseline and check (as AIDE), real-time watch, auth-log tail, port/setuid checks.

from ids.hids import scan, check, to_alerts
scan(["/etc", "/srv/app"]).save("var/hids/web.json")
_now, changes = check("var/hids/web.json")
alerts = to_alerts(changes, sensor="hids-web")      # EVE records (govnet.events.alert)

Live on a server: `HidsAgent(...).run(stop)` or `python -m ids.hids.agent --help`.
"""

from ids.hids.agent import HidsAgent
from ids.hids.integrity import KINDS, Baseline, Change, Entry, check, classify, compare, scan, to_alerts
from ids.hids.logwatch import LogTail
from ids.hids.procs import HostWatch, Listener, listening_ports, setuid_files
from ids.hids.watch import FileMonitor, PollingWatcher, Watcher, make_watcher

__all__ = [
    "KINDS",
    "Baseline",
    "Change",
    "Entry",
    "FileMonitor",
    "HidsAgent",
    "HostWatch",
    "Listener",
    "LogTail",
    "PollingWatcher",
    "Watcher",
    "check",
    "classify",
    "compare",
    "listening_ports",
    "make_watcher",
    "scan",
    "setuid_files",
    "to_alerts",
]
