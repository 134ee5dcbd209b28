"""Sweeps: many what-ifs, one task each, on a local process pool or on an existing Dask cluster.

A sweep file is a YAML (or JSON) list of what-if specs:

    - {name: approvals-x2, grow: {approval: 2}}
    - {name: ring-cut, fail: [core1--core2], grow: [file=3]}
    - {name: phase-two, add_bureaus: 40, n_1: true}

Each task gets the normalised model as YAML text (so a remote worker needs no model file, only
govnet installed) and returns one row. A what-if that fails (an unknown link, an infeasible
input) is a row with `error` set; it does not stop the others (a failed target, as in Nornir).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capacity.demands import Demand, suggest
from govnet.errors import GovnetError, ModelError, WhatIfError
from govnet.safeload import load_data_file
from topology.model import Network

SPEC_KEYS = ("name", "grow", "fail", "add_bureaus", "n_1")
CONNECT_TIMEOUT_S = 10.0  # how long --cluster waits for the scheduler to answer


@dataclass(frozen=True)
class Spec:
    """One what-if of a sweep: the same inputs as `govnet whatif`."""

    name: str
    grow: tuple[str, ...] = ()
    fail: tuple[str, ...] = ()
    add_bureaus: int = 0
    n_1: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "grow": list(self.grow),
            "fail": list(self.fail),
            "add_bureaus": self.add_bureaus,
            "n_1": self.n_1,
        }


def _strings(where: str, value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if key == "grow" and isinstance(value, dict):
        return tuple(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    shape = "CLASS_OR_SITE=FACTOR strings or a {class: factor} mapping" if key == "grow" else "names"
    raise WhatIfError(f"{where}.{key}: expected a list of {shape} (got {value!r})")


def parse_specs(data: Any, source: str = "<sweep>") -> list[Spec]:
    """A list of what-if mappings (or {whatifs: [...]}) -> Specs; names default to whatif-N."""
    if isinstance(data, dict) and "whatifs" in data:
        data = data["whatifs"]
    if not isinstance(data, list) or not data:
        raise WhatIfError(f"{source}: expected a non-empty list of what-ifs, e.g. [{{grow: [approval=2]}}]")
    out: list[Spec] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where = f"{source}: whatifs[{i}]"
        if not isinstance(item, dict):
            raise WhatIfError(f"{where}: expected a mapping with {', '.join(SPEC_KEYS)} (got {item!r})")
        for key in item:
            if key not in SPEC_KEYS:
                raise WhatIfError(f"{where}: unknown key {key!r}{suggest(str(key), SPEC_KEYS)}")
        name = str(item.get("name") or f"whatif-{i + 1}")
        if name in seen:
            raise WhatIfError(f"{where}.name: {name!r} is used twice; give each what-if its own name")
        seen.add(name)
        bureaus = item.get("add_bureaus", 0) or 0
        if isinstance(bureaus, bool) or not isinstance(bureaus, int) or bureaus < 0:
            raise WhatIfError(f"{where}.add_bureaus: must be an integer >= 0 (got {bureaus!r})")
        n_1 = item.get("n_1", False)
        if not isinstance(n_1, bool):
            raise WhatIfError(f"{where}.n_1: must be true or false (got {n_1!r})")
        out.append(
            Spec(
                name,
                _strings(where, item.get("grow"), "grow"),
                _strings(where, item.get("fail"), "fail"),
                bureaus,
                n_1,
            )
        )
    return out


def load_sweep(path: str | Path) -> list[Spec]:
    """Read a sweep file (YAML or JSON): see the module docstring."""
    p = Path(path)
    try:
        data = load_data_file(p, what="sweep file")  # bounded: size, depth, alias expansion
    except ModelError as exc:
        raise WhatIfError(str(exc)) from None
    return parse_specs(data, str(p))


@functools.lru_cache(maxsize=4)
def _model(text: str, name: str) -> Network:
    from topology import load_model_text

    return load_model_text(text, name)


def run_spec(
    model_text: str, model_name: str, demands: Sequence[Demand] | None, spec: Spec
) -> dict[str, Any]:
    """One what-if -> one row (the unit of work a pool or a Dask worker runs)."""
    from capacity.whatif import run_whatif

    t0 = time.perf_counter()
    row: dict[str, Any] = {"name": spec.name, **{k: v for k, v in spec.to_dict().items() if k != "name"}}
    try:
        net = _model(model_text, model_name)
        dem = list(demands) if demands is not None else None
        w = run_whatif(net, dem, list(spec.grow), list(spec.fail), spec.n_1, spec.add_bureaus)
    except GovnetError as exc:
        return {**row, "error": str(exc), "seconds": round(time.perf_counter() - t0, 4)}
    res = w.result
    live = [(i, lk) for i, lk in enumerate(res.links) if not lk.failed]
    worst = max(live, key=lambda t: t[1].utilisation)[1] if live else None
    row.update(
        {
            "nodes": len(res.net.nodes),
            "links": len(res.net.links),
            "worst_link": worst.name if worst else None,
            "utilisation": round(worst.utilisation, 4) if worst else None,
            "saturated": len(res.saturated()),
            "unroutable": len(res.unroutable()),
        }
    )
    nm1 = w.nm1
    if nm1 is not None and res.links:
        j = max(range(len(res.links)), key=lambda k: nm1.worst_utilisation[k])
        row["n_1_worst_link"] = res.links[j].name
        row["n_1_worst_utilisation"] = round(nm1.worst_utilisation[j], 4)
        row["n_1_worst_failure"] = nm1.worst_failure[j]
    row["error"] = None
    row["seconds"] = round(time.perf_counter() - t0, 4)
    return row


@dataclass
class Sweep:
    """The rows of a sweep, in the order of the specs, and how it ran."""

    model: str
    engine: str
    rows: list[dict[str, Any]]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("error")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "engine": self.engine,
            "whatifs": self.rows,
            "failed": len(self.failed),
            "seconds": round(self.seconds, 4),
        }

    def table(self) -> str:
        nw = max([4, *(len(r["name"]) for r in self.rows)])
        lw = max([10, *(len(r.get("worst_link") or "") for r in self.rows)])
        lines = [
            f"sweep: {len(self.rows)} what-ifs on {self.model}, {self.engine}, {self.seconds:.2f} s"
            + (f", {len(self.failed)} failed" if self.failed else ""),
            "",
            f"  {'name':{nw}} {'worst link':{lw}} {'util':>7} {'saturated':>9} {'unroutable':>10}",
        ]
        for r in self.rows:
            if r.get("error"):
                lines.append(f"  {r['name']:{nw}} error: {r['error']}")
                continue
            lines.append(
                f"  {r['name']:{nw}} {r['worst_link'] or '-':{lw}} {r['utilisation'] or 0:>7.1%}"
                f" {r['saturated']:>9} {r['unroutable']:>10}"
                + (
                    f"   N-1 worst {r['n_1_worst_utilisation']:.1%} on {r['n_1_worst_link']}"
                    f" ({r['n_1_worst_failure']})"
                    if r.get("n_1_worst_link")
                    else ""
                )
            )
        return "\n".join(lines)


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise WhatIfError(
            f"--cluster {address}: needs dask.distributed, which is not installed; "
            "install it with: pip install 'govnet[cluster]' (or pip install 'dask[distributed]')"
        ) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise WhatIfError(
            f"--cluster {address}: cannot reach a Dask scheduler there ({exc}); "
            "start one with 'dask scheduler' and 'dask worker ADDRESS', or leave --cluster out"
        ) from None


def run_sweep(
    net: Network,
    specs: Sequence[Spec],
    demands: Sequence[Demand] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
) -> Sweep:
    """Run every spec: on the Dask cluster at `cluster`, else on `workers` local processes (default:
    one per CPU; 1 runs them in this process)."""
    from topology import dump_model_yaml

    t0 = time.perf_counter()
    text = dump_model_yaml(net)
    dem = list(demands) if demands is not None else None
    if cluster:
        client = _dask_client(cluster)
        try:
            model_f = client.scatter(text, broadcast=True)
            k = len(specs)
            futures = client.map(run_spec, [model_f] * k, [net.name] * k, [dem] * k, list(specs), pure=False)
            rows = list(client.gather(futures))
            engine = f"dask cluster {cluster} ({len(client.scheduler_info().get('workers', {}))} workers)"
        finally:
            client.close()
        return Sweep(net.name, engine, rows, time.perf_counter() - t0)
    if workers is not None and workers < 1:
        raise WhatIfError(f"--workers {workers}: must be >= 1")
    n = min(workers or os.cpu_count() or 1, len(specs))
    if n <= 1:
        rows = [run_spec(text, net.name, dem, s) for s in specs]
        return Sweep(net.name, "this process", rows, time.perf_counter() - t0)
    with ProcessPoolExecutor(max_workers=n) as pool:
        k = len(specs)
        rows = list(pool.map(run_spec, [text] * k, [net.name] * k, [dem] * k, specs))
    return Sweep(net.name, f"local process pool ({n} workers)", rows, time.perf_counter() - t0)
