"""The account policy's numbers, loaded from YAML or JSON and validated strictly.

Defaults are the plan's numbers (REQUIREMENTS §4): accounts idle 30 days are disabled, passwords are
longer than 7 characters (at least 8) and change every 60 days, new accounts need an administrator's
approval, a critical system's password change needs three or more people. The plan does not give the
failure limit; the default follows the OA service (5 failures lock an account) and common practice
(pam_faillock: deny=3..5, unlock_time=600..1800; fail2ban: maxretry=5, findtime=10m, bantime=10m).
Every mistake names the file, the field, the value and the fix.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from govnet.errors import AuditError, ModelError, Problem
from govnet.safeload import load_data_file


class PolicyError(AuditError):
    """A policy file is invalid; carries one Problem per mistake (one line each)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Limit:
    """A sliding-window failure limit: `failures` within `window_s` -> locked for `lock_s`; each
    repeat within `repeat_window_s` multiplies the lock by `repeat_factor`, up to `max_lock_s`."""

    failures: int
    window_s: float
    lock_s: float
    repeat_factor: float = 2.0
    repeat_window_s: float = 86_400.0
    max_lock_s: float = 86_400.0

    def lock_for(self, offences_before: int) -> float:
        return float(min(self.max_lock_s, self.lock_s * self.repeat_factor**offences_before))


@dataclass(frozen=True)
class Policy:
    """All the numbers of the account policy (see the module docstring for their sources)."""

    account: Limit = Limit(failures=5, window_s=900, lock_s=1800, max_lock_s=86_400)
    source: Limit = Limit(failures=20, window_s=300, lock_s=3600, max_lock_s=7 * 86_400)
    reset_on_success: bool = True
    never_block: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    idle_disable_days: float = 30.0
    password_min_length: int = 8
    password_max_age_days: float = 60.0
    password_history: int = 5
    approval_required: bool = True
    admins: tuple[str, ...] = ("admin",)
    critical_approvers: int = 3
    critical_window_s: float = 86_400.0
    critical_systems: tuple[str, ...] = ("fw-a", "fw-b", "fw-inner", "core1", "core2", "core3", "core4")
    requester_may_approve: bool = False
    anomaly_threshold: float = 0.6
    success_after_failures: int = 5

    @functools.cached_property
    def _networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.never_block)

    def never_blocked(self, address: str) -> bool:
        """True when `address` is in a `never_block` network (management hosts, loopback)."""
        return _in_networks(self._networks, address)


@functools.lru_cache(maxsize=65_536)
def _in_networks(nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


# file layout: section -> field -> (attribute, kind)
_LIMIT_FIELDS = {
    "failures": "count",
    "window_s": "seconds",
    "lock_s": "seconds",
    "repeat_factor": "factor",
    "repeat_window_s": "seconds",
    "max_lock_s": "seconds",
}
_SECTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "account_lockout": {k: (f"account.{k}", v) for k, v in _LIMIT_FIELDS.items()}
    | {"reset_on_success": ("reset_on_success", "bool")},
    "source_block": {k: (f"source.{k}", v) for k, v in _LIMIT_FIELDS.items()}
    | {"never_block": ("never_block", "cidrs")},
    "accounts": {
        "idle_disable_days": ("idle_disable_days", "days"),
        "approval_required": ("approval_required", "bool"),
        "admins": ("admins", "names"),
    },
    "password": {
        "min_length": ("password_min_length", "length"),
        "max_age_days": ("password_max_age_days", "days"),
        "history": ("password_history", "history"),
    },
    "critical_change": {
        "approvers": ("critical_approvers", "count"),
        "window_s": ("critical_window_s", "seconds"),
        "systems": ("critical_systems", "names"),
        "requester_may_approve": ("requester_may_approve", "bool"),
    },
    "anomaly": {
        "threshold": ("anomaly_threshold", "ratio"),
        "success_after_failures": ("success_after_failures", "count"),
    },
}
_FIX = {
    "count": "give a whole number >= 1, e.g. 5",
    "seconds": "give seconds as a number > 0, e.g. 900 for 15 minutes",
    "days": "give days as a number > 0, e.g. 30",
    "factor": "give a number >= 1 (1 = repeat offenders get the same lock), e.g. 2",
    "bool": "use true or false",
    "cidrs": "give a list of networks, e.g. [10.0.9.0/24, 127.0.0.0/8]",
    "names": "give a list of names, e.g. [admin, secadm]",
    "length": "give a whole number >= 8 (the plan: longer than 7 characters)",
    "history": "give a whole number >= 0 (0 = no history)",
    "ratio": "give a number between 0 and 1, e.g. 0.6",
}


def _valid(kind: str, value: Any) -> Any:
    """The value converted, or raise ValueError when it does not fit `kind`."""
    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("count", "length", "history"):
        low = {"count": 1, "length": 8, "history": 0}[kind]
        if isinstance(value, int) and not isinstance(value, bool) and value >= low:
            return value
    elif kind in ("seconds", "days"):
        if is_num and 0 < value < 1e10:
            return float(value)
    elif kind == "factor":
        if is_num and 1 <= value <= 100:
            return float(value)
    elif kind == "ratio":
        if is_num and 0 <= value <= 1:
            return float(value)
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "names":
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(value)
    elif kind == "cidrs" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        for v in value:
            ipaddress.ip_network(v, strict=False)  # ValueError when not a network
        return tuple(value)
    raise ValueError


def policy_from_mapping(data: Any, source: str) -> Policy:
    """A Policy from parsed YAML/JSON; PolicyError listing every mistake."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PolicyError(
            [
                Problem(
                    source,
                    "",
                    "a policy file must be a mapping of sections",
                    type(data).__name__,
                    f"start with one of: {', '.join(_SECTIONS)}",
                )
            ]
        )
    problems: list[Problem] = []
    changes: dict[str, Any] = {}
    for section, body in data.items():
        spec = _SECTIONS.get(str(section))
        if spec is None:
            problems.append(
                Problem(
                    source,
                    str(section),
                    "unknown section",
                    section,
                    f"known sections: {', '.join(_SECTIONS)}",
                )
            )
            continue
        if not isinstance(body, Mapping):
            problems.append(
                Problem(
                    source,
                    str(section),
                    "must be a mapping of fields",
                    body,
                    f"known fields: {', '.join(spec)}",
                )
            )
            continue
        for key, value in body.items():
            entry = spec.get(str(key))
            path = f"{section}.{key}"
            if entry is None:
                problems.append(
                    Problem(source, path, "unknown field", key, f"known fields: {', '.join(spec)}")
                )
                continue
            attr, kind = entry
            try:
                changes[attr] = _valid(kind, value)
            except ValueError:
                problems.append(Problem(source, path, f"not a valid {kind} value", value, _FIX[kind]))
    policy = Policy()
    account = dict(vars(policy.account))
    source_limit = dict(vars(policy.source))
    top: dict[str, Any] = {}
    for attr, value in changes.items():
        if attr.startswith("account."):
            account[attr[8:]] = value
        elif attr.startswith("source."):
            source_limit[attr[7:]] = value
        else:
            top[attr] = value
    for name, lim in (("account_lockout", account), ("source_block", source_limit)):
        if lim["max_lock_s"] < lim["lock_s"]:
            problems.append(
                Problem(
                    source,
                    f"{name}.max_lock_s",
                    "is shorter than lock_s",
                    lim["max_lock_s"],
                    f"make it at least lock_s ({lim['lock_s']:g})",
                )
            )
    if problems:
        raise PolicyError(problems)
    names = {f.name for f in fields(Policy)}
    assert set(top) <= names
    return replace(policy, account=Limit(**account), source=Limit(**source_limit), **top)


def load_policy(path: str | os.PathLike[str] | None) -> Policy:
    """The policy in a YAML or JSON file (None: the defaults)."""
    if path is None:
        return Policy()
    p = Path(path)
    if not p.exists():
        raise AuditError(f"{p}: no such policy file; omit --policy for the defaults")
    try:
        data = load_data_file(p, what="policy file")  # bounded: size, depth, alias expansion
    except ModelError as exc:
        raise PolicyError(exc.problems) from None
    return policy_from_mapping(data, str(p))


def policy_document(policy: Policy) -> dict[str, Any]:
    """The policy as a file would spell it (for `govnet audit policy-check --show`)."""
    out: dict[str, dict[str, Any]] = {}
    for section, spec in _SECTIONS.items():
        out[section] = {}
        for key, (attr, _kind) in spec.items():
            obj: Any = policy
            for part in attr.split("."):
                obj = getattr(obj, part)
            out[section][key] = list(obj) if isinstance(obj, tuple) else obj
    return out
