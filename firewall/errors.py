"""The firewall package's error: a pair operation failed."""

from __future__ import annotations

from govnet.errors import GovnetError


class FirewallError(GovnetError):
    """A firewall-pair operation failed (unknown member, no survivor, controller not running)."""
