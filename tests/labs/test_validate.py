"""The validation's flows and comparison without an emulator (the emulated run: test_emu_validate.py)."""

from __future__ import annotations

import pytest

from capacity.simulate import simulate
from labs.validate import bundles, compare, demands_of, validation_flows
from topology import load_model

SMALL = load_model("small")


def _predicted(flows: list) -> dict[str, tuple[float, float]]:
    return {
        lk.name: (lk.load_ab_mbps, lk.load_ba_mbps) for lk in simulate(SMALL, demands_of(SMALL, flows)).links
    }


def test_flows_cover_upload_download_and_an_inelastic_stream() -> None:
    flows = validation_flows(SMALL)
    tcp = [f for f in flows if f.proto == "tcp"]
    assert len(tcp) == 3 and {f.server for f in tcp} == {"srv-oa"}
    # education uploads, finance downloads (opened by the desktop: office -> servers), b03 uploads
    assert [f.reverse for f in tcp] == [False, True, False]
    (udp,) = [f for f in flows if f.proto == "udp"]
    assert (udp.src, udp.mbps) == ("noc1", 4.0) and udp.dst == "bureau-finance-pc1"
    pred = _predicted(flows)
    # max-min: the finance desktop's 10 Mbit/s access link carries the 4 Mbit/s stream + TCP's 6
    lk = next(lk for lk in SMALL.links if lk.name == "bureau-finance-pc1--bureau-finance-office")
    down = pred[lk.name][1]  # office switch -> desktop
    assert down == pytest.approx(10.0, rel=1e-6)


def test_a_perfect_measurement_has_no_error_even_with_another_member_split() -> None:
    flows = validation_flows(SMALL)
    measured = dict(_predicted(flows))
    a, b = measured["fw-inner--core1#1"], measured["fw-inner--core1#2"]
    measured["fw-inner--core1#1"] = (a[0] + b[0], a[1] + b[1])  # the emulator hashed all onto one member
    measured["fw-inner--core1#2"] = (0.0, 0.0)
    cmp = compare(SMALL, flows, measured)
    assert cmp.links and cmp.mean_utilisation_error == pytest.approx(0.0, abs=1e-9)
    names = {e.name for e in cmp.links}
    assert "fw-inner--core1#1" in names and "fw-inner--core1#2" not in names  # one bundle
    assert bundles(SMALL)[1]["fw-inner--core1#1"] == 2000


def test_errors_are_measured_per_bundle_on_the_worse_direction() -> None:
    flows = validation_flows(SMALL)
    measured = dict(_predicted(flows))
    name = "bureau-education-pc1--bureau-education-office"
    ab, ba = measured[name]
    measured[name] = (ab * 0.8, ba)  # the upload came out 20 % short
    cmp = compare(SMALL, flows, measured)
    err = next(e for e in cmp.links if e.name == name)
    assert err.relative_error == pytest.approx(0.25)  # |10 - 8| / 8
    assert err.utilisation_error == pytest.approx(0.2)
    # a link that only the emulator saw busy is compared too (predicted idle)
    measured["noc1--info-centre-management"] = (0.0, 0.0)
    measured["citizen1--internet-sw"] = (100.0, 0.0)
    assert any(e.name == "citizen1--internet-sw" for e in compare(SMALL, flows, measured).links)
