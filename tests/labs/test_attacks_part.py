"""The attack kit part and the monitoring part's new figures without an emulator: timeline actions
checked against the model before anything starts (hosts, services, scan kinds), the kit's report
section, and the busiest links' peak utilisation from an exported series document."""

from __future__ import annotations

from pathlib import Path

from govnet.errors import ModelError
from labs import compose, load_scenario
from labs.parts.attacks import Attacks, host_ip
from labs.parts.monitoring import peak_utilisation
from topology import load_model

SMALL = load_model("small")


def _problems(timeline: str, tmp_path: Path) -> list[str]:
    f = tmp_path / "lab.yaml"
    f.write_text(f"name: x\nmodel: small\nids: true\nattacks: true\ntimeline:\n{timeline}")
    try:
        compose(load_scenario(str(f)), SMALL, "lab.yaml")
    except ModelError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_attack_actions_are_checked_against_the_model(tmp_path: Path) -> None:
    good = "  - {at: 1, do: attacks.scan, with: {src: citizen1, dst: dmz-portal, ports: 1-100}}\n"
    assert _problems(good, tmp_path) == []
    bad = (
        "  - {at: 1, do: attacks.scan, with: {src: citizen1, dst: dmz-portl, kind: xmas}}\n"
        "  - {at: 2, do: attacks.guess, with: {src: core1, dst: dmz-portal, service: ftp}}\n"
        "  - {at: 3, do: attacks.flood, with: {src: citizen1}}\n"
        "  - {at: 4, do: attacks.web, with: {src: citizen1, dst: dmz-portal, payload: x}}\n"
    )
    assert _problems(bad, tmp_path) == [
        "lab.yaml: timeline[0].with.dst: is no lab host with an address (got 'dmz-portl'); "
        "see 'govnet topo show --nodes'",
        "lab.yaml: timeline[0].with.kind: is not an nmap scan kind (got 'xmas'); use syn or connect",
        "lab.yaml: timeline[1].with.src: is no lab host with an address (got 'core1'); "
        "see 'govnet topo show --nodes'",
        "lab.yaml: timeline[1].with.service: is not a service hydra can guess against (got 'ftp'); "
        "use one of: ssh, oa, approval",
        "lab.yaml: timeline[2].with: attacks.flood needs 'dst'; "
        "attacks.flood takes: src, dst, port, count, interval_us, timeout_s",
        "lab.yaml: timeline[3].with.payload: unknown argument (got 'payload'); "
        "attacks.web takes: src, dst, kinds, port, timeout_s",
    ]


def test_an_attack_before_the_lab_runs_says_so() -> None:
    kit = Attacks(True)
    try:
        kit.scan("citizen1", "dmz-portal")
    except RuntimeError as exc:
        assert str(exc) == "the attack kit is not running"
    else:
        raise AssertionError("an attack ran without a lab")
    assert host_ip(SMALL, "dmz-portal") == "10.50.0.11"


def test_the_report_section_lists_each_attack_in_words() -> None:
    rec = {
        "attack": "nmap-syn",
        "src": "citizen1",
        "dst": "dmz-portal",
        "target": "10.50.0.11",
        "seconds": 12.004,
        "outcome": "0 open ports",
    }
    lines = Attacks(True).report_lines({"attacks": [rec]})
    assert "| nmap-syn | citizen1 | dmz-portal (10.50.0.11) | 12.004 | 0 open ports |" in lines
    assert Attacks(True).report_lines({"attacks": None}) == []


def test_peak_utilisation_is_the_busiest_direction_against_capacity() -> None:
    doc = {
        "links": [
            {"link": "a--b", "from": "a", "capacity_mbps": 100.0, "points": [[0, 10.0], [1, 42.0]]},
            {"link": "a--b", "from": "b", "capacity_mbps": 100.0, "points": [[0, 55.0]]},
            {"link": "c--d", "from": "c", "capacity_mbps": 1000.0, "points": [[0, 5.0]]},
            {"link": "e--f", "from": "e", "capacity_mbps": None, "points": [[0, 5.0]]},
            {"link": "g--h", "from": "g", "capacity_mbps": 10.0, "points": []},
        ]
    }
    assert peak_utilisation(doc) == {"a--b": 0.55, "c--d": 0.005}
    assert peak_utilisation(doc, top=1) == {"a--b": 0.55}
    assert peak_utilisation({}) == {}
