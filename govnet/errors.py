"""One exception root for govnet; only the CLI turns these into exit codes and messages."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's input: where, what, the offending value and how to fix it."""

    source: str
    path: str
    message: str
    got: object = None
    fix: str = ""
    has_value: bool = True

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        text = f"{where}: {self.message}"
        if self.has_value:
            text += f" (got {_show(self.got)})"
        if self.fix:
            text += f"; {self.fix}"
        return text


def _show(value: object) -> str:
    """The offending value, bounded *while* its repr is built (a huge value is never echoed whole)."""
    return bounded_repr(value, 80)


_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 5
_REPR.maxlevel = 3


def bounded_repr(value: object, limit: int = 80) -> str:
    """repr(value) cut to about `limit` characters *while it is built* (a 5 MB string or an expanded
    alias bomb is never turned into text whole)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GovnetError(Exception):
    """Root of every error govnet raises on purpose."""

    exit_code = 1


class ModelError(GovnetError):
    """A network model (or scenario) file is invalid; carries one Problem per mistake."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(GovnetError):
    """A command-line option or path cannot be used as given (a directory where a file is needed,
    an unwritable path, a malformed address); the message names the option, the value and the fix."""

    exit_code = 2


class NotRootError(GovnetError):
    """The command needs root (network namespaces, Mininet)."""

    exit_code = 3


class CapabilityError(GovnetError):
    """The model asks for something this machine's kernel cannot emulate (e.g. netem delay)."""

    exit_code = 4


class EmulationError(GovnetError):
    """Bringing up or checking the emulated network failed."""

    exit_code = 5


class TsdbError(GovnetError):
    """The metrics store cannot be started, stopped or reached, or it refused a request."""

    exit_code = 1


class MetricError(GovnetError):
    """A metric point does not match the registry (unknown measurement, field or tag; bad value)."""

    exit_code = 1


class WhatIfError(GovnetError):
    """A capacity what-if names an unknown class, site, link or node, or gives a bad value."""

    exit_code = 2


class IdsError(GovnetError):
    """The NIDS/HIDS cannot do what was asked: a bad capture, baseline, path or sensor setting."""

    exit_code = 2


class RuleError(IdsError):
    """A rule file is invalid: names the file, the line and the keyword of the first bad rule."""

    def __init__(self, source: str, line: int, keyword: str, message: str) -> None:
        self.source = source
        self.line = line
        self.keyword = keyword
        self.message = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {keyword}: {message}" if keyword else f"{where}: {message}")


class AuditError(GovnetError):
    """The login audit refused something: a bad log kind or policy file, or a ledger that fails its
    hash chain (appending to it is refused until it verifies)."""

    exit_code = 2
