"""Address and port specifications of rules: `any`, IPs, CIDR, `$VAR`, `[lists]`, `!negation`, ranges.

An address spec compiles to a matcher `(ip version, integer address) -> bool` (memoised per address
for lists: the same hosts repeat packet after packet); a port spec to a 64 Ki-entry 0/1 map indexed
by port. `None` means `any` for both, so the engine can skip the test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import cast

AddrMatcher = Callable[[int, int], bool]


def address_matcher(tok: str, variables: Mapping[str, str]) -> AddrMatcher | None:
    """Compile an address spec; ValueError names what is wrong (also a spec that matches nothing)."""
    node = _addr_node(tok, variables, 0)
    if _addr_empty(node):
        raise ValueError(
            f"address {tok!r} matches no address (its negations remove everything it names); "
            "write 'any', or negate a smaller set such as '!$HOME_NET'"
        )
    return _compile_addr(node)


def port_map(tok: str, variables: Mapping[str, str]) -> bytearray | None:
    """Compile a port spec to a 65536-entry 0/1 map; None means any; ValueError names what is wrong."""
    ports = _port_bitmap(tok, variables, 0)
    if ports is not None and ports.find(1) < 0:
        raise ValueError(
            f"port {tok!r} matches no port (its negations remove everything it names); "
            "write 'any', or negate a smaller set such as '!22'"
        )
    return ports


# --- addresses ----------------------------------------------------------------------------------
_AddrNode = tuple[str, object]
_Net = tuple[int, int, int]  # version, network address, netmask


def split_top(text: str, sep: str) -> list[str]:
    """Split on sep (',' or whitespace) outside brackets."""
    out: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if depth == 0 and (ch == sep or (sep == " " and ch.isspace())):
            if cur.strip():
                out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _addr_node(tok: str, vars_: Mapping[str, str], depth: int) -> _AddrNode:
    tok = tok.strip()
    if depth > 20:
        raise ValueError(f"variables nest too deep (a cycle?) at {tok!r}")
    if not tok:
        raise ValueError("empty address")
    if tok.startswith("!"):
        return ("not", _addr_node(tok[1:], vars_, depth + 1))
    if tok.startswith("["):
        if not tok.endswith("]"):
            raise ValueError(f"unbalanced '[' in {tok!r}")
        return ("list", [_addr_node(t, vars_, depth + 1) for t in split_top(tok[1:-1], ",")])
    if tok.startswith("$"):
        name = tok[1:]
        if name not in vars_:
            raise ValueError(f"undefined variable ${name}")
        return _addr_node(vars_[name], vars_, depth + 1)
    if tok == "any":
        return ("any", None)
    try:
        net = ipaddress.ip_network(tok, strict=False)
    except ValueError:
        raise ValueError(f"bad address {tok!r} (use an IP, CIDR, $VAR, [list], !neg or any)") from None
    return ("net", (net.version, int(net.network_address), int(net.netmask)))


def _addr_all(node: _AddrNode) -> bool:
    """True if the spec certainly names every address (any, or 0.0.0.0/0 and ::/0 together)."""
    kind, arg = node
    if kind == "any":
        return True
    if kind != "list":
        return False
    items = cast(list[_AddrNode], arg)
    if any(n[0] == "not" for n in items):
        return False
    whole = {cast(_Net, n[1])[0] for n in items if n[0] == "net" and cast(_Net, n[1])[2] == 0}
    return whole == {4, 6} or any(_addr_all(n) for n in items)


def _addr_empty(node: _AddrNode) -> bool:
    """True if the spec certainly names no address: `!any`, `[!any]`, or a list whose every positive
    entry lies inside one of its negations (`[10.0.0.0/8,!10.0.0.0/8]`)."""
    kind, arg = node
    if kind == "not":
        return _addr_all(cast(_AddrNode, arg))
    if kind != "list":
        return False
    items = cast(list[_AddrNode], arg)
    pos = [n for n in items if n[0] != "not"]
    neg = [cast(_AddrNode, n[1]) for n in items if n[0] == "not"]
    if any(_addr_all(n) for n in neg):
        return True
    neg_nets = [cast(_Net, n[1]) for n in neg if n[0] == "net"]

    def covered(n: _AddrNode) -> bool:
        if _addr_empty(n):
            return True
        if n[0] != "net":
            return False
        ver, base, mask = cast(_Net, n[1])
        return any(v == ver and m & mask == m and base & m == b for v, b, m in neg_nets)

    return bool(pos) and all(covered(n) for n in pos)


def _compile_addr(node: _AddrNode) -> Callable[[int, int], bool] | None:
    """A matcher (version, address) -> bool; None means any."""
    kind, arg = node
    if kind == "any":
        return None
    if kind == "net":
        ver, base, mask = cast(_Net, arg)
        return lambda v, a: v == ver and a & mask == base
    if kind == "not":
        inner = _compile_addr(cast(_AddrNode, arg))
        if inner is None:
            return lambda v, a: False
        return lambda v, a: not inner(v, a)
    items = cast(list[_AddrNode], arg)
    pos = [n for n in items if n[0] != "not"]
    neg = [cast(_AddrNode, n[1]) for n in items if n[0] == "not"]
    if any(n[0] == "any" for n in pos):
        pos = []
    nets = [cast(_Net, n[1]) for n in pos if n[0] == "net"]
    if len(nets) == len(pos) and not neg:  # the common case: a plain list of networks
        table = tuple(nets)
        return _cached(lambda v, a: any(v == ver and a & mask == base for ver, base, mask in table))
    pos_m = [m for m in (_compile_addr(n) for n in pos) if m is not None]
    neg_m = [m for m in (_compile_addr(n) for n in neg) if m is not None]
    return _cached(
        lambda v, a: (not pos_m or any(m(v, a) for m in pos_m)) and not any(m(v, a) for m in neg_m)
    )


def _cached(fn: Callable[[int, int], bool]) -> Callable[[int, int], bool]:
    """Memoise a list matcher per address: the same hosts repeat packet after packet."""
    memo: dict[tuple[int, int], bool] = {}

    def match(v: int, a: int) -> bool:
        key = (v, a)
        hit = memo.get(key)
        if hit is None:
            if len(memo) >= 65536:
                memo.clear()
            hit = memo[key] = fn(v, a)
        return hit

    return match


# --- ports --------------------------------------------------------------------------------------
_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


def _port_bitmap(tok: str, vars_: Mapping[str, str], depth: int) -> bytearray | None:
    """A 65536-entry membership map for a port spec; None means any."""
    tok = tok.strip()
    if tok == "any":
        return None
    return _port_set(tok, vars_, depth)


def _port_set(tok: str, vars_: Mapping[str, str], depth: int) -> bytearray:
    tok = tok.strip()
    if depth > 20:
        raise ValueError(f"variables nest too deep (a cycle?) at {tok!r}")
    if not tok:
        raise ValueError("empty port")
    if tok == "any":
        return bytearray(b"\x01" * 65536)
    if tok.startswith("!"):
        return _port_set(tok[1:], vars_, depth + 1).translate(_FLIP)
    if tok.startswith("["):
        if not tok.endswith("]"):
            raise ValueError(f"unbalanced '[' in {tok!r}")
        items = split_top(tok[1:-1], ",")
        pos = [t for t in items if not t.strip().startswith("!")]
        neg = [t.strip()[1:] for t in items if t.strip().startswith("!")]
        out = bytearray(65536) if pos else bytearray(b"\x01" * 65536)
        # maps hold only 0/1 bytes, so whole-map integer OR/AND act entry by entry (in C, not Python)
        acc = int.from_bytes(out, "little")
        for t in pos:
            acc |= int.from_bytes(_port_set(t, vars_, depth + 1), "little")
        for t in neg:
            acc &= int.from_bytes(_port_set(t, vars_, depth + 1).translate(_FLIP), "little")
        return bytearray(acc.to_bytes(65536, "little"))
    if tok.startswith("$"):
        name = tok[1:]
        if name not in vars_:
            raise ValueError(f"undefined variable ${name}")
        return _port_set(vars_[name], vars_, depth + 1)
    lo_s, colon, hi_s = tok.partition(":")
    try:
        lo = int(lo_s) if lo_s else 0
        hi = (int(hi_s) if hi_s else 65535) if colon else lo
    except ValueError:
        raise ValueError(f"bad port {tok!r} (use N, N:M, N:, :M, $VAR, [list], !neg or any)") from None
    if not 0 <= lo <= hi <= 65535:
        raise ValueError(f"port range {tok!r} outside 0..65535")
    out = bytearray(65536)
    out[lo : hi + 1] = b"\x01" * (hi - lo + 1)
    return out
