"""Property tests over hostile input (issue 15): whatever the bytes, parsers answer with a result or
their documented error, never another exception."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govnet.errors import ModelError, RuleError
from ids.audit.logline import SyslogYear
from ids.audit.parse import parse_line
from ids.nids.pcap import PcapError, read_pcap
from ids.nids.rules import parse_rules
from topology.loader import load_model_text

FAST = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
PREFIXES = [
    "Nov 22 07:10:01 fw-a sshd[4410]: ",
    "Feb 29 10:00:00 h sshd[1]: ",
    "2026-11-22T06:01:02Z h sshd[2]: ",
]


@FAST
@given(st.sampled_from(PREFIXES), st.text(max_size=300))
def test_log_lines_never_raise(prefix: str, rest: str) -> None:
    years = SyslogYear(year=2026)
    for kind in ("sshd", "pam", "auth"):
        ev = parse_line(kind, 1, prefix + rest, years)
        assert ev is None or ev.result in ("success", "failure")


@FAST
@given(st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a", b""]), st.binary(max_size=600))
def test_capture_bytes_give_frames_or_pcap_error(
    tmp_path_factory: pytest.TempPathFactory, magic: bytes, body: bytes
) -> None:
    p = tmp_path_factory.mktemp("cap") / "x.pcap"
    p.write_bytes(magic + body)
    try:
        cap = read_pcap(p)
    except PcapError:
        return
    frames = list(cap)
    assert cap.frames == len(frames) and all(isinstance(f[1], bytes) for f in frames)


@FAST
@given(
    st.text(
        alphabet=st.sampled_from(
            list('alert tcp any -> ( ) ; : " ! [ ] $ 1 0 , msg content sid pcre / \\ \n')
        ),
        max_size=200,
    )
)
def test_rule_text_gives_rules_or_rule_error(text: str) -> None:
    with contextlib.suppress(RuleError):
        parse_rules(text, "<prop>")


@FAST
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=30,
    )
)
def test_model_documents_give_a_network_or_model_error(doc: object) -> None:
    import json

    with contextlib.suppress(ModelError):
        load_model_text(json.dumps(doc), "<prop>")  # JSON is YAML


def test_shipped_files_still_parse() -> None:
    root = Path(__file__).resolve().parent.parent
    for f in sorted((root / "ids" / "nids" / "rules").glob("*.rules")):
        assert len(parse_rules(f.read_text(), str(f))) > 0
