"""Fuzz the rule parser, and run whatever parses against a payload taken from the same input."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import expected, main
    from ids.nids.decode import decode
    from ids.nids.detectors import DetectorConfig
    from ids.nids.engine import Engine
    from ids.nids.rules import parse_rules

SEEDS = ["ids/nids/rules/*.rules"]
_FRAME = bytes.fromhex(  # Ethernet/IPv4/TCP to 10.50.0.10:80, PSH|ACK, payload appended below
    "00000000000200000000000108004500002800010000400600000a0000010a32000a9c400050000000000000000050180000"
    "00000000"
)


def _frame(payload: bytes) -> bytes:
    f = bytearray(_FRAME + payload)
    total = len(f) - 14
    f[16:18] = total.to_bytes(2, "big")
    return bytes(f)


def TestOneInput(data: bytes) -> None:
    text, _, payload = data.partition(b"\n\n\n")
    holder: list[object] = []

    def parse() -> None:
        holder.append(parse_rules(text.decode("utf-8", errors="replace"), "<fuzz>"))

    expected(parse)
    if holder:
        eng = Engine(holder[0], DetectorConfig(enabled=()))  # type: ignore[arg-type]
        frame = _frame(payload[:2000] or b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
        assert decode(frame) is not None
        eng.feed(0.0, frame)


if __name__ == "__main__":
    main(TestOneInput)
