"""The lab engine without an emulator: scenario keys come from the registered parts, the programme
orders every part's steps, the verdict is derived from parts and events, results land where the
report and older readers expect them. (The real parts on a real network: tests/labs/test_emu_labs.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govnet.errors import ModelError
from govnet.events import Event
from labs import compose, load_scenario
from labs.engine import Lab, Step, programme
from labs.parts import PARTS, LabContext, Part, Verdict
from labs.parts.probe import probe_result
from labs.scenario import scenario_schema
from topology import load_model
from topology.emulator.caps import Capabilities
from topology.schema import Checker_

SMALL = load_model("small")


def _scenario(text: str, tmp_path: Path) -> dict[str, Any]:
    f = tmp_path / "lab.yaml"
    f.write_text(text)
    return load_scenario(str(f))


def test_bundled_scenarios_compose_their_parts() -> None:
    base = load_scenario("baseline")
    keys = [p.key for p in compose(base, load_model(base["model"]))]
    assert set(keys) == {
        "checks",
        "links",
        "monitor",
        "ids",
        "validate",
        "traffic",
        "offsite",
        "firewall",
        "hids",
        "audit",
    }
    smoke = load_scenario("smoke")
    assert "traffic" not in [p.key for p in compose(smoke, load_model(smoke["model"]))]


def test_every_registered_part_has_a_scenario_key_or_is_always_there() -> None:
    v = Checker_("x")
    out = scenario_schema()(v, {"name": "x"}, "")
    assert not v.problems
    base = {"name", "description", "model", "seed", "timeline", "expectations"}
    assert set(out) == base | {k for k, c in PARTS.items() if c.in_scenario}


def test_unknown_scenario_key_names_the_allowed_parts(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        _scenario("name: x\nprobes: {src: a, dst: b}\n", tmp_path)
    assert "did you mean 'probe'?" in str(err.value)


def test_part_configuration_is_checked_against_the_model_before_anything_starts(tmp_path: Path) -> None:
    sc = _scenario("name: x\nmodel: small\nprobe: {src: noc1, dst: nosuchhost}\n", tmp_path)
    with pytest.raises(ModelError) as err:
        compose(sc, SMALL, "lab.yaml")
    assert str(err.value) == (
        "lab.yaml: probe.dst: no such host in the model (got 'nosuchhost'); see 'govnet topo show'"
    )


def test_validate_accepts_a_bound_and_refuses_nonsense(tmp_path: Path) -> None:
    sc = _scenario("name: x\nvalidate: {max_mean_relative_error: 0.2}\n", tmp_path)
    assert sc["validate"] == {"max_mean_relative_error": 0.2}
    assert _scenario("name: x\nvalidate: true\n", tmp_path)["validate"] == {"max_mean_relative_error": 0.1}
    with pytest.raises(ModelError, match=r"validate.max_mean_relative_error: must be a number"):
        _scenario("name: x\nvalidate: {max_mean_relative_error: -1}\n", tmp_path)


def test_programme_orders_steps_and_merges_extra_ones() -> None:
    sc = load_scenario("workday")
    parts = compose(sc, load_model(sc["model"]))
    steps = programme(parts, [Step(72, "links", "cut", {"link": "core1--core2"})])
    seq = [(s.part, s.verb) for s in steps]
    # services up, HIDS guarding them, then the day; HIDS stops before the services; audit and the
    # off-site copy after the services stopped (their databases are then consistent)
    assert seq.index(("traffic", "start")) < seq.index(("hids", "start")) < seq.index(("traffic", "run"))
    assert seq.index(("traffic", "run")) < seq.index(("links", "cut")) < seq.index(("hids", "stop"))
    assert seq.index(("hids", "stop")) < seq.index(("traffic", "stop")) < seq.index(("audit", "run"))
    assert seq.index(("audit", "run")) < seq.index(("offsite", "run"))
    assert seq[0] == ("firewall", "start") and seq.index(("checks", "run")) < seq.index(("validate", "run"))


class _Fake(Part):
    """An engine-contract part: records calls, fails where told, emits what it is told."""

    key = "fake"
    steps = ((10, "start"), (20, "run"))

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.calls: list[str] = []

    def start(self, ctx: LabContext) -> None:
        self.calls.append("start")
        if self.config == "fail-start":
            raise RuntimeError("no daemon")
        super().start(ctx)

    def run(self, ctx: LabContext) -> None:
        self.calls.append("run")
        if self.config == "alarm":
            ctx.emit(Event(self.key, "offsite.failed", "srv -> off", {"why": "digest differs"}))

    def stop(self) -> None:
        self.calls.append("stop")
        super().stop()

    def verdict(self) -> Verdict:
        return Verdict(self.config != "bad-verdict", ["told to"] if self.config == "bad-verdict" else [])


class _NoEmu:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _lab(tmp_path: Path, config: str) -> tuple[Lab, _Fake]:
    caps = Capabilities(root=False, results={}, tools={})
    part = _Fake(config)
    lab = Lab(SMALL, tmp_path, {"name": "t"}, [part], log=lambda _m: None, caps=caps)
    lab.emu = _NoEmu()  # type: ignore[assignment]
    return lab, part


@pytest.mark.parametrize(
    ("config", "ok", "calls"),
    [
        ("fine", True, ["start", "run", "stop"]),
        ("fail-start", False, ["start", "stop"]),  # a half-started part is stopped too
        ("alarm", False, ["start", "run", "stop"]),  # an event of a failing kind fails the lab
        ("bad-verdict", False, ["start", "run", "stop"]),
    ],
)
def test_verdict_comes_from_parts_and_events(tmp_path: Path, config: str, ok: bool, calls: list[str]) -> None:
    lab, part = _lab(tmp_path, config)
    with lab:
        lab.run_programme()
    assert part.calls == calls
    assert lab.ok() is ok
    kinds = [e.kind for e in lab.bus.events]
    assert ("part.failed" in kinds) is (config == "fail-start")
    if config == "fail-start":
        assert lab.error == "fake start failed: RuntimeError: no daemon"


def test_results_nest_summaries_where_readers_expect_them(tmp_path: Path) -> None:
    class Top(Part):
        key, result_top = "top", "checks"

        def summary(self) -> Any:
            return {"rows": []}

    class Apps(Part):
        key, result_path = "apps", ("apps",)

        def summary(self) -> Any:
            return {"users": 3}

    class Inner(Part):
        key, result_path = "inner", ("apps", "hids")

        def summary(self) -> Any:
            return {"alerts": 0}

    class Flat(Part):
        key = "flat"

        def summary(self) -> Any:
            return {"store": "http://127.0.0.1:8428"}

    caps = Capabilities(root=False, results={}, tools={})
    lab = Lab(SMALL, tmp_path, {"name": "t"}, [Inner(None), Top(None), Apps(None), Flat(None)], caps=caps)
    top, metrics = lab.results()
    lab.bus.close()
    assert top == {"checks": {"rows": []}}
    assert metrics == {"apps": {"users": 3, "hids": {"alerts": 0}}, "store": "http://127.0.0.1:8428"}


def test_probe_counts_lost_pings_and_the_longest_silence() -> None:
    out = "\n".join(f"64 bytes from 10.0.0.1: icmp_seq={i} ttl=63 time=0.2 ms" for i in [1, 2, 3, 9, 10])
    assert probe_result(out) == {"sent": 10, "lost": 5, "longest_gap_s": pytest.approx(1.0)}
    assert probe_result("") == {"sent": 0, "lost": 0, "longest_gap_s": 0}


def test_values_in_reports_are_words_not_python_reprs() -> None:
    from labs.parts.base import text_of

    assert text_of({"success": 163, "failure": 7}) == "success 163, failure 7"
    assert text_of({}) == "none"
    assert text_of(None) == "-"
    assert text_of([1.25, 2.0]) == "1.25, 2"
    assert text_of(float("nan")) == "-"
    assert text_of(True) == "yes"
    assert text_of({"a": {"b": None}}) == "a b -"


def test_the_login_audit_line_counts_in_words() -> None:
    from labs.parts.audit import login_counts

    assert login_counts({"oa": 170, "approval": 166}) == "166 approval, 170 oa login records"
    assert login_counts({}) == "no login records"
