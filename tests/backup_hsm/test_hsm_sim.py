"""`govnet hsm simulate`: the JSON contract, policies, fill days, clear errors."""

from __future__ import annotations

import json

import pytest

from cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["hsm", "simulate", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_json_contract_and_2080(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "--files", "3000", "--days", "20", "--policy", "20/80")
    for tier in ("disk", "optical", "tape"):
        assert set(r["tiers"][tier]) >= {"bytes", "files"}
        assert tier in r["fill_day"]
    assert set(r["recall_latency_s"]) == {"mean", "p95"} and isinstance(r["tape_mounts"], int)
    t = r["tiers"]
    total = sum(t[x]["bytes"] for x in t)
    assert t["tape"]["bytes"] == 0 and sum(t[x]["files"] for x in t) == r["files"] > 3000
    assert 0.1 < t["disk"]["bytes"] / total < 0.35  # 20 % +- band + the day's recalls
    assert r["recalls"] > 0 and r["recall_latency_s"]["mean"] >= 0.3  # at least the optical seek


def test_3070_sends_most_of_the_rest_to_tape(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "--files", "3000", "--days", "20", "--policy", "20/80+30/70")
    t = r["tiers"]
    total = sum(t[x]["bytes"] for x in t)
    assert 0.4 < t["tape"]["bytes"] / total < 0.65  # 80 % x 70 % = 56 %
    assert r["tape_mounts"] >= 1 and r["recall_latency_s"]["p95"] >= r["recall_latency_s"]["mean"]


def test_same_seed_same_run_and_fill_days(capsys: pytest.CaptureFixture[str]) -> None:
    a = run(capsys, "--files", "2000", "--days", "30", "--policy", "age:5", "--disk-tb", "0.002")
    b = run(capsys, "--files", "2000", "--days", "30", "--policy", "age:5", "--disk-tb", "0.002")
    assert a == b
    assert a["fill_day"]["disk"] is not None and a["fill_day"]["tape"] is None
    assert a["tiers"]["disk"]["bytes"] <= 0.002e12
    c = run(capsys, "--files", "2000", "--days", "30", "--policy", "age:5")
    assert c["fill_day"] == {"disk": None, "optical": None, "tape": None}


def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hsm", "simulate", "--files", "1000", "--days", "5"]) == 0
    out = capsys.readouterr().out
    assert "recalls" in out and "fills:" in out and "tape mounts" in out


@pytest.mark.parametrize(
    "args", [["--policy", "20/70"], ["--policy", "age:x"], ["--files", "0"], ["--disk-tb", "-1"]]
)
def test_bad_input_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["hsm", "simulate", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "got" in err
