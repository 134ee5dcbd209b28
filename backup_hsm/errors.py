"""HSM errors: bad input and full tiers (exit 2, one line each) and integrity alarms."""

from __future__ import annotations

from govnet.errors import GovnetError, ModelError, Problem


class HsmError(GovnetError):
    """Something in the HSM store went wrong that is not the user's input."""


class HsmInputError(ModelError):
    """Bad HSM input (policy, directory, parameter): one Problem naming the field, the value and the fix."""

    def __init__(self, source: str, field: str, message: str, got: object, fix: str) -> None:
        super().__init__([Problem(source, field, message, got, fix)])


class TierFullError(HsmInputError):
    """A migration, recall or backup needs more bytes than a tier (or medium) has free."""


class IntegrityError(HsmError):
    """Every copy of a file failed its checksum; nothing could be restored."""
