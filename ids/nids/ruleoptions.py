"""The option lexer and value parsers of the rule language: `;`-splitting, quoting, content bytes, pcre,
flags, thresholds, ranges and whole numbers (each refuses what Suricata refuses, with a ValueError)."""

from __future__ import annotations

import re

from ids.nids.pcre import Regex
from ids.nids.ruletypes import _FLAG_BITS, Content, Threshold


def _replace(c: Content, **kw: object) -> Content:
    from dataclasses import replace

    return replace(c, **kw)  # type: ignore[arg-type]


_U32 = 0xFFFFFFFF
# Suricata's ranges: sid, rev and gid are 32-bit unsigned (sid 0 is not a sid), priority a 32-bit int
_INT_RANGES = {"sid": (1, _U32), "rev": (0, _U32), "gid": (0, _U32), "priority": (0, 0x7FFFFFFF)}


def _uint(value: str, key: str, lo: int, hi: int) -> int:
    """A whole number lo..hi in plain ASCII digits (no sign, no '_'), or ValueError saying so."""
    v = value.strip()
    n = int(v) if v.isascii() and v.isdigit() and len(v) <= 20 else -1
    if not lo <= n <= hi:
        shown = v if len(v) <= 40 else v[:37] + "..."
        raise ValueError(f"{key} must be a whole number {lo}..{hi}{_HINTS.get(key, '')}, got {shown!r}")
    return n


_HINTS = {"sid": " (32-bit, as in Suricata; 1000000..1999999 are for local rules)"}


# --- option helpers -----------------------------------------------------------------------------
def _split_options(body: str) -> list[str]:
    """Split on ';' outside quotes; '\\;' and '\\"' are escapes inside values."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur.append(ch + body[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            item = "".join(cur).strip()
            if item:
                out.append(item)
            cur = []
        else:
            cur.append(ch)
        i += 1
    tail = "".join(cur).strip()
    if tail:
        out.append(tail + _UNTERMINATED)
    return out


_UNTERMINATED = "\x00unterminated"


def _unquote(value: str, *, regex: bool = False) -> str:
    """The text of a quoted value: `\\"`, `\\;` (and in content `\\:`, `\\\\`) are escapes."""
    v = value.strip()
    if len(v) < 2 or v[0] != '"' or v[-1] != '"':
        raise ValueError(f"expected a quoted string, got {value!r}")
    return re.sub(r'\\([";])' if regex else r'\\([";:\\])', r"\1", v[1:-1])


def _content_bytes(text: str) -> bytes:
    """Content text with |hex| sections, e.g. 'GET|20|/' -> b'GET /'."""
    out = bytearray()
    parts = text.split("|")
    if len(parts) % 2 == 0:
        raise ValueError("unbalanced '|' in content")
    for i, part in enumerate(parts):
        if i % 2:
            try:
                out += bytes.fromhex(part)
            except ValueError:
                raise ValueError(f"bad hex {part!r} in content") from None
        else:
            out += part.encode("utf-8")
    return bytes(out)


def _parse_pcre(value: str, buffer: str) -> Content:
    neg = value.startswith("!")  # pcre:!"/re/" as in Suricata (and "!/re/" inside the quotes)
    text = _unquote(value[1:] if neg else value, regex=True)
    if text.startswith("!"):
        neg, text = not neg, text[1:]
    if not text.startswith("/") or text.rfind("/") == 0:
        raise ValueError('expected "/regex/flags"')
    end = text.rfind("/")
    pattern, mods = text[1:end], text[end + 1 :]
    flags = ""
    for ch in mods:
        if ch in "ismx":
            flags += ch if ch not in flags else ""
        elif ch == "U":
            buffer = "http.uri"
        elif ch == "I":
            buffer = "http.uri.raw"
        elif ch == "M":
            buffer = "http.method"
        elif ch == "H":
            buffer = "http.header"
        elif ch == "P":
            buffer = "http.request_body"
        else:
            raise ValueError(f"unsupported pcre modifier {ch!r} (supported: i s m x U I M H P)")
    return Content(b"", buffer, negated=neg, regex=Regex(pattern.encode(), flags))


def _parse_flags(value: str) -> tuple[int, int, str]:
    spec, _, mask = value.partition(",")
    spec = spec.strip()
    mod = ""
    if spec and spec[0] in "+*!":
        mod, spec = spec[0], spec[1:]
    if spec and spec[-1] in "+*" and not mod:
        mod, spec = spec[-1], spec[:-1]
    want = 0
    for ch in spec:
        if ch == "0":
            continue
        if ch not in _FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r} (use F S R P A U C E, 0 for none)")
        want |= _FLAG_BITS[ch]
    ignore = 0
    for ch in mask.strip():
        if ch not in _FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r} in mask")
        ignore |= _FLAG_BITS[ch]
    return want, ignore, mod


def flags_match(flags: int, spec: tuple[int, int, str]) -> bool:
    """TCP flags against a `flags` option: exact (default), + all of, * any of, ! none of."""
    want, ignore, mod = spec
    f = flags & ~ignore
    if mod == "+":
        return f & want == want
    if mod == "*":
        return bool(f & want)
    if mod == "!":
        return not f & want
    return f == want


def _parse_threshold(value: str, key: str) -> Threshold:
    items: dict[str, str] = {}
    for part in value.split(","):
        words = part.split()
        if len(words) != 2:
            raise ValueError(f"expected 'name value' pairs, got {part.strip()!r}")
        items[words[0]] = words[1]
    kind = "detection_filter" if key == "detection_filter" else items.pop("type", "")
    if kind not in ("limit", "threshold", "both", "detection_filter"):
        raise ValueError("type must be limit, threshold or both")
    track = items.pop("track", "")
    if track not in ("by_src", "by_dst"):
        raise ValueError("track must be by_src or by_dst")
    try:
        count = int(items.pop("count"))
        seconds = float(items.pop("seconds"))
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]}") from None
    if items:
        raise ValueError(f"unknown setting(s) {', '.join(items)}")
    if count < 1 or seconds <= 0:
        raise ValueError("count must be >= 1 and seconds > 0")
    return Threshold(kind, track, count, seconds)


_RANGE_MAX = {"dsize": 65535, "itype": 255, "icode": 255}  # payload size is 16-bit, ICMP fields 8-bit


def _parse_range(value: str, key: str) -> tuple[int, int]:
    """`N`, `>N`, `<N`, `N<>M` (strictly between) as an inclusive (lo, hi) range that is not empty."""
    top = _RANGE_MAX[key]
    v = value.replace(" ", "")
    if "<>" in v:
        a_s, _, b_s = v.partition("<>")
        a, b = _uint(a_s, key, 0, top), _uint(b_s, key, 0, top)
        if a >= b:
            raise ValueError(
                f"{key}:{a}<>{b}: the first bound must be the lower one; write {key}:{b}<>{a}"
                if a > b
                else f"{key}:{a}<>{b} matches nothing (N<>M means strictly between N and M)"
            )
        if b - a < 2:
            raise ValueError(
                f"{key}:{a}<>{b} matches nothing (N<>M means strictly between N and M); "
                f"write {key}:{a}<>{a + 2} for exactly {a + 1}, or {key}:{a + 1}"
            )
        return a + 1, b - 1
    if v.startswith(">"):
        n = _uint(v[1:], key, 0, top)
        if n >= top:
            raise ValueError(f"{key}:>{n} matches nothing: {key} is at most {top}")
        return n + 1, top
    if v.startswith("<"):
        n = _uint(v[1:], key, 0, top + 1)
        if n == 0:
            raise ValueError(f"{key}:<0 matches nothing: {key} is at least 0; write {key}:0 for exactly 0")
        return 0, n - 1
    n = _uint(v, key, 0, top)
    return n, n
