"""HIDS agents on the emulated key servers of a lab.

    with LabHids(emu, run_dir, {"srv-oa": [key_file, code_dir]}, log=print) as hids:
        ...                                   # the services run
    hids.summary()                            # alerts per server

For each server: a baseline of its watched paths (content hashes and metadata, as AIDE takes
them) is written to `run_dir/hids/<server>.json`. Then `python -m ids.hids.agent` starts **inside
the server's network namespace**, so its port check sees that host's listeners. Its alerts go to
`run_dir/hids/<server>-events.json`, in the same EVE schema as the NIDS:
- a watched file added, removed or changed (content, mode, owner), in real time (inotify);
- a new listening port;
- a new setuid/setgid file under the watched paths.

Start it once the server's services listen: what listens at the start is its baseline.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govnet import events
from govnet.supervise import Lifecycle, stop_all
from ids.hids.integrity import scan

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle

ROOT = Path(__file__).resolve().parents[2]


class LabHids(Lifecycle):
    """One HIDS agent per server; `stop()` (or leaving `with`) ends them."""

    def __init__(
        self,
        emu: EmulatorHandle,
        run: Path,
        watch: Mapping[str, Sequence[Path]],
        *,
        log: Callable[[str], None] = print,
        ready_s: float = 1.5,
        expected_ports: Sequence[str] = ("udp/5004",),  # the lab's media streams (apps.replay)
    ) -> None:
        self.emu, self.run, self.log = emu, run, log
        self.watch = {host: [Path(p) for p in paths] for host, paths in watch.items()}
        self.dir = run / "hids"
        self.ready_s = ready_s
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.expected_ports = list(expected_ports)

    def events_path(self, host: str) -> Path:
        return self.dir / f"{host}-events.json"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for host, paths in self.watch.items():
            db = self.dir / f"{host}.json"
            scan([str(p) for p in paths]).save(db)
            self.events_path(host).touch()
            out = (self.dir / f"{host}.log").open("ab")
            self.procs[host] = self.emu.node(host).popen(
                [
                    sys.executable,
                    "-m",
                    "ids.hids.agent",
                    "--db",
                    str(db),
                    "--events",
                    str(self.events_path(host)),
                    "--name",
                    f"hids-{host}",
                    "--setuid-root",
                    str(paths[0].parent),
                    *[x for port in self.expected_ports for x in ("--expect-port", port)],
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT),
            )
            out.close()
        time.sleep(self.ready_s)  # the agents take their port baseline and set their watches
        for host, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.dir / f"{host}.log").read_text(errors="replace")[-600:]
                raise RuntimeError(f"HIDS agent on {host} exited with {proc.returncode}:\n{tail}")
        self.log(f"hids: agents on {', '.join(self.procs)}")

    def alerts(self, host: str | None = None) -> list[dict[str, Any]]:
        hosts = [host] if host else list(self.watch)
        out: list[dict[str, Any]] = []
        for h in hosts:
            if self.events_path(h).exists():
                out += [r for r in events.read(self.events_path(h)) if r.get("event_type") == "alert"]
        return out

    def stop(self) -> None:
        stop_all(list(self.procs.values()))
        self.procs.clear()

    def summary(self) -> dict[str, Any]:
        return {
            "servers": sorted(self.watch),
            "alerts": {h: len(self.alerts(h)) for h in sorted(self.watch)},
            "signatures": sorted({str(a.get("alert", {}).get("signature")) for a in self.alerts()}),
        }
