"""Fuzz the sshd and PAM log line parsers (and syslog/ISO prefixes) and the attempt counting."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from fuzz.common import main
    from ids.audit.logline import SyslogYear
    from ids.audit.parse import Attempts, parse_line

SEEDS = ["tests/data/audit/*.log"]


def TestOneInput(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace").replace("\x00", "")
    years = SyslogYear(year=2026)
    attempts = Attempts()
    for kind in ("sshd", "pam", "auth"):
        for n, line in enumerate(text.splitlines(), 1):
            ev = parse_line(kind, n, line, years)  # parsers never raise on input
            if ev is not None:
                assert ev.result in ("success", "failure")
                attempts.counts(ev)


if __name__ == "__main__":
    main(TestOneInput)
