"""The fuzz targets never rot: each one runs on its seeds and on every saved regression input
(fuzz/regressions/<target>/, the crashes fuzzing found, kept after their fix), in plain pytest."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from fuzz.run import TARGETS, seeds  # noqa: E402

pytest.importorskip("atheris", reason="the fuzz extra (make setup installs it with dev)")


def inputs(target: str) -> list[tuple[str, bytes]]:
    out = [(f"seed:{n}", d) for n, d in seeds(target)]
    reg = ROOT / "fuzz" / "regressions" / target
    out += [(f"regression:{f.name}", f.read_bytes()) for f in sorted(reg.glob("*"))] if reg.is_dir() else []
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_target_accepts_its_seeds_and_regressions(target: str) -> None:
    mod = importlib.import_module(f"fuzz.fuzz_{target}")
    cases = inputs(target)
    assert cases, f"no seeds for {target}"
    for name, data in cases:
        mod.TestOneInput(data)  # raises (fails the test) on anything but a documented GovnetError
        assert name


def test_runner_help_and_bad_input() -> None:
    from fuzz.run import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    for bad in (["-t", "0"], ["nosuch"]):
        with pytest.raises(SystemExit) as e:
            main(bad)
        assert e.value.code == 2
