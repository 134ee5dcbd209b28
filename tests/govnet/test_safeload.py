"""One safe loader for YAML and JSON (issue 15): alias bombs, deep nesting, devices, huge files and
huge values are each one clear exit-2 line; merge keys work; the limits can be raised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govnet.errors import ModelError
from govnet.safeload import bounded_repr, load_json_text, load_yaml_file, load_yaml_text

ROOT = Path(__file__).resolve().parents[2]
BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)  # about 1 KB, 9**9 = 387 million values once the aliases are expanded


def govnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        preexec_fn=lambda: __import__("resource").setrlimit(  # a regression must fail, not take the box
            __import__("resource").RLIMIT_AS, (3 << 30, 3 << 30)
        ),
    )


def one_line(p: subprocess.CompletedProcess[str], needle: str) -> None:
    assert p.returncode == 2, p.stderr[-2000:]
    assert needle in p.stderr and "Traceback" not in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["topo", "check", "F"],
        ["topo", "show", "F"],
        ["whatif", "F"],
        ["whatif", "--sweep", "F"],
        ["audit", "policy-check", "F"],
    ],
)
def test_alias_bomb_is_refused_everywhere(argv: list[str], tmp_path: Path) -> None:
    f = tmp_path / "bomb.yaml"
    f.write_text(BOMB)
    assert len(BOMB) < 1200
    one_line(govnet(*[str(f) if a == "F" else a for a in argv]), "values with aliases expanded")


def test_nesting_devices_and_size(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 500 + "]" * 500 + "\n")
    one_line(govnet("topo", "check", str(deep)), "nested deeper than the input limit of 100 levels")
    one_line(govnet("topo", "check", "/dev/zero"), "not a regular file")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    one_line(govnet("topo", "check", str(fifo)), "not a regular file")  # not opened: no hang
    small = ROOT / "topology" / "models" / "small.yaml"
    p = govnet("topo", "check", str(small), env={"GOVNET_MAX_INPUT_BYTES": "1000"})
    one_line(p, "larger than the input limit of 1,000 bytes")
    assert "GOVNET_MAX_INPUT_BYTES" in p.stderr
    assert govnet("topo", "check", str(small)).returncode == 0


def test_limits_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: " + "[" * 150 + "]" * 150
    with pytest.raises(ModelError, match="GOVNET_MAX_INPUT_DEPTH"):
        load_yaml_text(text, "t")
    monkeypatch.setenv("GOVNET_MAX_INPUT_DEPTH", "200")
    assert load_yaml_text(text, "t") is not None
    monkeypatch.setenv("GOVNET_MAX_INPUT_NODES", "20")
    with pytest.raises(ModelError, match="20 values"):
        load_yaml_text("a: &a [1, 2, 3, 4, 5]\nb: [*a, *a, *a, *a]\n", "t")


def test_merge_keys_and_duplicates() -> None:
    doc = load_yaml_text("base: &b {x: 1, y: 2}\nthis:\n  <<: *b\n  y: 3\n", "t")
    assert doc["this"] == {"x": 1, "y": 3}  # explicit keys override merged ones
    assert load_yaml_text("l: &l {a: 1}\nm: &m {b: 2}\nn: {<<: [*l, *m]}\n", "t")["n"] == {"a": 1, "b": 2}
    with pytest.raises(ModelError, match=r"line 2: invalid YAML: duplicate key 'y' \(first at line 1\)"):
        load_yaml_text("y: 1\ny: 2\n", "t")


def test_huge_bad_value_is_not_echoed(tmp_path: Path) -> None:
    model = (ROOT / "topology" / "models" / "small.yaml").read_text()
    f = tmp_path / "big.yaml"
    f.write_text(model.replace("name: small", "name: " + "x" * 5_000_000, 1))
    p = govnet("topo", "check", str(f))
    assert p.returncode == 2 and "is not a valid name" in p.stderr and len(p.stderr) < 500
    assert len(bounded_repr("y" * 5_000_000)) <= 80
    assert len(bounded_repr([list(range(10**6))] * 10**6)) <= 80  # not built whole


def test_json_limits_and_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nested deeper"):
        load_json_text("[" * 5000 + "]" * 5000, "j")
    with pytest.raises(ModelError, match="line 2: invalid JSON"):
        load_json_text('{"a": 1,\n}', "j")
    assert load_json_text('{"a": "[[[[", "b": [1]}', "j") == {"a": "[[[[", "b": [1]}
    base = tmp_path / "base.json"
    base.write_text(json.dumps([1, 2]))
    p = govnet("ids", "hids", "check", "--db", str(base))
    one_line(p, "not a govnet HIDS baseline")
    base.write_text(json.dumps({"format": 1, "roots": [], "created": 0, "entries": {"/x": ["f", "a"]}}))
    one_line(govnet("ids", "hids", "check", "--db", str(base)), "not a govnet HIDS baseline")


def test_extra_links_scale_linearly(tmp_path: Path) -> None:
    from topology.loader import load_model_text

    base = (ROOT / "topology" / "models" / "small.yaml").read_text()
    text = base + "\nextra_links:\n" + "  - {a: core1, b: core2, bw_mbps: 100}\n" * 40_000
    with pytest.raises(ModelError) as err:  # more links than /31s in the /16: said once, not 7,000 times
        load_model_text(text, "x")
    assert [p.path for p in err.value.problems] == ["addressing.infrastructure"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_any_text_gives_data_or_model_error(text: str) -> None:
    try:
        load_yaml_text(text, "p")
    except ModelError as exc:
        assert all(len(str(p)) < 600 for p in exc.problems)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_yaml_file(tmp_path / "nope.yaml")
    with pytest.raises(ModelError, match="is a directory"):
        load_yaml_file(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(b"a: \xe9\n")
    with pytest.raises(ModelError, match="not UTF-8"):
        load_yaml_file(tmp_path / "latin1.yaml")
