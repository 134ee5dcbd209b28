"""Who may be attacked: `check_target` (an IP literal of the lab, never a name), and `AttackError`."""

from __future__ import annotations

import ipaddress

from govnet.errors import IdsError


class AttackError(IdsError):
    """An attack was asked with a bad target or parameters; nothing was run."""

    exit_code = 2


def check_target(target: str, *, allow_public: bool = False) -> str:
    """The target as a normalised IP literal; refuses names, unusable and (by default) public addresses."""
    try:
        ip = ipaddress.ip_address(target)
    except ValueError:
        raise AttackError(f"attack target must be an IP address the lab gave you, not {target!r}") from None
    if ip.is_unspecified or ip.is_multicast or str(ip) == "255.255.255.255":
        raise AttackError(f"attack target {ip} is not a single host")
    if not (ip.is_private or ip.is_loopback) and not allow_public:
        raise AttackError(
            f"attack target {ip} is a public address; labs attack lab addresses only "
            "(pass allow_public=True only for a network you own)"
        )
    return str(ip)
