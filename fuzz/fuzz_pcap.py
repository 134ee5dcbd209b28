"""Fuzz the capture readers (pcap, pcapng) and everything after them: decode, defrag, rules, detectors."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import expected, main, scratch
    from ids.nids.pcap import read_pcap
    from ids.nids.rules import default_rules_path, load_rules
    from ids.nids.scan import scan_pcap

SEEDS = ["@pcap"]  # made by fuzz/run.py from crafted traffic (tests/ids_craft.py)
_RULES = load_rules([default_rules_path()])


def TestOneInput(data: bytes) -> None:
    path = scratch(data, "capture.pcap")

    def read() -> None:
        cap = read_pcap(path)
        frames = sum(1 for _ in cap)
        assert frames == cap.frames
        res = scan_pcap(path, _RULES, keep=0)
        assert res.stats.frames == frames and bool(res.damage) == bool(cap.damage)

    expected(read)


if __name__ == "__main__":
    main(TestOneInput)
