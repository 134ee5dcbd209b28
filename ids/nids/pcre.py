"""Bounded regular expressions for the `pcre` rule keyword: no pattern can stall the engine.

Every pattern is first compiled by libpcre2-8 (the library Suricata uses), so a rule means what it
means to Suricata and a bad pattern is refused with PCRE2's own message. Then it runs on one of two
engines, chosen once per pattern:

* **RE2** (google-re2) whenever RE2 can express the same meaning: linear time in the input whatever
  the pattern, so there is no limit to hit. The few constructs whose RE2 meaning differs from PCRE's
  are rewritten: `\\s` and `[[:space:]]` include VT, `\\v`/`\\h` are PCRE's vertical/horizontal space,
  `$` (and `\\Z`) without the m flag also match before a final newline, `\\0nn` is octal.
* **PCRE2 with Suricata's match limits** for what RE2 cannot run (backreferences, lookarounds, atomic
  groups, possessive quantifiers, the x flag, `\\p{..}` properties, ...). `match` bounds the
  backtracking steps and `depth` the nesting of backtracking frames of each start position in the
  buffer (Suricata's `pcre: match-limit: 3500` and `match-limit-recursion: 1500`), so the work of a
  search is at most about `match` steps per byte. A search that reaches a limit returns `LIMIT`:
  the rule does not match (as in Suricata) and the engine counts the hit for its sid.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import re
import threading
from dataclasses import dataclass
from typing import Any, Final, Literal

import re2

DEFAULT_MATCH_LIMIT: Final = 3500  # Suricata's pcre match-limit
DEFAULT_DEPTH_LIMIT: Final = 1500  # Suricata's pcre match-limit-recursion (PCRE2's depth limit)

FLAGS = "ismx"  # the PCRE modifiers; the buffer modifiers (U, P, ...) are the rule parser's
LIMIT: Final = None  # what `Regex.search` returns when the search reached a match limit

Engine = Literal["re2", "pcre2"]


@dataclass(frozen=True)
class Limits:
    """Suricata-style bounds of one backtracking search: steps and frame depth per start position."""

    match: int = DEFAULT_MATCH_LIMIT
    depth: int = DEFAULT_DEPTH_LIMIT

    def __post_init__(self) -> None:
        for name in ("match", "depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFFFFFF:
                raise ValueError(f"pcre {name} limit must be a whole number 1..4294967295 (got {value!r})")


DEFAULT_LIMITS: Final = Limits()


def parse_limit(text: str, what: str) -> int:
    """A match or depth limit from the command line; ValueError says what is accepted."""
    t = text.strip()
    if not (t.isascii() and t.isdigit()) or not 1 <= int(t) <= 0xFFFFFFFF:
        raise ValueError(
            f"{what}: bad value {text!r}: use a whole number 1..4294967295 "
            f"(defaults: --pcre-match-limit {DEFAULT_MATCH_LIMIT}, --pcre-depth-limit {DEFAULT_DEPTH_LIMIT})"
        )
    return int(t)


class Regex:
    """One compiled pcre pattern. `search(data)` is True/False, or `LIMIT` when a bound stopped it."""

    __slots__ = ("__weakref__", "_code", "_re2", "engine", "flags", "pattern")

    def __init__(self, pattern: bytes, flags: str = "") -> None:
        bad = set(flags) - set(FLAGS)
        if bad:
            raise ValueError(f"unsupported pcre modifier {sorted(bad)[0]!r}")
        self.pattern = pattern
        self.flags = flags
        self._code: _Code | None = None
        self._re2: Any = None
        lib = _pcre2()
        if lib is not None:
            self._code = _Code(lib, pattern, flags)  # validates: PCRE2 defines what a pattern means
        translated = to_re2(pattern, flags)
        if translated is not None:
            try:
                self._re2 = re2.compile(translated, _RE2_OPTIONS)
            except re2.error:
                self._re2 = None
        if self._re2 is not None:
            self.engine: Engine = "re2"
            self._code = None  # not needed: RE2 answers every search
        elif self._code is not None:
            self.engine = "pcre2"
        else:
            raise ValueError(
                "this pattern needs PCRE2 (backreference, lookaround, possessive or atomic group...), "
                "but libpcre2-8 is not installed: apt-get install libpcre2-8-0"
            )

    def search(self, data: bytes, limits: Limits = DEFAULT_LIMITS) -> bool | None:
        """Whether the pattern matches somewhere in data; `LIMIT` (None) if a match limit was hit."""
        if self._re2 is not None:
            return self._re2.search(data) is not None
        assert self._code is not None
        return self._code.search(data, limits)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, {self.flags!r}, engine={self.engine!r})"


# --- RE2 -----------------------------------------------------------------------------------------
def _re2_options() -> Any:
    o = re2.Options()
    o.encoding = re2.Options.Encoding.LATIN1  # bytes are bytes: no UTF-8 decoding, as PCRE2 without utf
    o.log_errors = False
    o.never_capture = True  # only "does it match" is asked; a DFA answers that
    return o


_RE2_OPTIONS: Final = _re2_options()

_SPACE = rb"\t\n\x0b\x0c\r "  # PCRE2's \s (VT included since PCRE2 10.0)
_VSPACE = rb"\n\x0b\x0c\r\x85"  # PCRE2's \v in 8-bit mode without utf
_HSPACE = rb"\t \xa0"  # PCRE2's \h in 8-bit mode without utf
_OUTSIDE = {
    ord("s"): b"[" + _SPACE + b"]",
    ord("S"): b"[^" + _SPACE + b"]",
    ord("v"): b"[" + _VSPACE + b"]",
    ord("V"): b"[^" + _VSPACE + b"]",
    ord("h"): b"[" + _HSPACE + b"]",
    ord("H"): b"[^" + _HSPACE + b"]",
}
_INSIDE = {ord("s"): _SPACE, ord("v"): _VSPACE, ord("h"): _HSPACE, ord("S"): b"[:^space:]"}
# escapes RE2 reads as PCRE2 does (in both engines' 8-bit modes); any other letter or digit is either
# translated above, refused by RE2 (then PCRE2 runs it) or sent to PCRE2 here because it differs
_SAME_ESCAPES = frozenset(b"aftnrdDwWbBAzC")
_BRACE = frozenset(b"0123456789 \t,")
_QUANTIFIER = re.compile(rb"[0-9]+(?:,[0-9]*)?")  # linear: no nested repetition
_OCTAL = frozenset(b"01234567")
_SAFE_GROUP = (b"(?:", b"(?P<", b"(?<")  # non-capturing and named groups; not (?<= (?<! lookbehinds


def to_re2(pattern: bytes, flags: str = "") -> bytes | None:
    """The RE2 pattern meaning what `pattern` means to PCRE2 with `flags`, or None when RE2 cannot.

    Only "is there a match" must agree (never capture groups or match bounds)."""
    multiline = "m" in flags
    if "x" in flags:
        return None
    out = bytearray()
    if "i" in flags or "s" in flags or multiline:
        out += b"(?" + "".join(f for f in "ism" if f in flags).encode() + b")"
    p = pattern
    n = len(p)
    i = 0
    while i < n:
        c = p[i]
        if c == 0x5C:  # backslash
            if i + 1 >= n:
                return None
            e = p[i + 1]
            if e == ord("Q"):
                end = p.find(b"\\E", i + 2)
                lit = p[i + 2 : n if end < 0 else end]
                out += b"".join(b"\\x%02x" % b for b in lit)
                i = n if end < 0 else end + 2
                continue
            if e in _OUTSIDE:
                out += _OUTSIDE[e]
            elif e == ord("Z"):
                if multiline or not _nothing_follows(p, i + 2):
                    return None
                out += rb"(?:\n?\z)"
            elif e == ord("0"):
                j = i + 2
                while j < n and j < i + 4 and p[j] in _OCTAL:
                    j += 1
                out += b"\\x%02x" % int(p[i + 1 : j], 8)
                i = j
                continue
            elif e == ord("x"):
                j = i + 2
                if j < n and p[j] == ord("{"):
                    k = p.find(b"}", j)
                    if k < 0:
                        return None
                    j = k + 1
                else:
                    while j < n and j < i + 4 and chr(p[j]) in "0123456789abcdefABCDEF":
                        j += 1
                    if j == i + 2:
                        return None  # PCRE2's bare \x is NUL; RE2 refuses it
                out += p[i:j]
                i = j
                continue
            elif e in _SAME_ESCAPES or not (chr(e).isalnum() or e >= 0x80):
                out += p[i : i + 2]
            else:
                return None  # \1 backreferences, \p properties, \G \K \R \X \N \e \c \o \g \k ...
            i += 2
        elif c == ord("["):
            end = _class_end(p, i)
            if end < 0:
                return None
            body = _class_to_re2(p[i:end])
            if body is None:
                return None
            out += body
            i = end
        elif c == ord("$"):
            if not multiline:
                if not _nothing_follows(p, i + 1):
                    return None
                out += rb"(?:\n?\z)"
            else:
                out += b"$"
            i += 1
        elif c == ord("^"):
            if multiline:
                return None  # PCRE2's multiline ^ never matches after a final newline; RE2's does
            out += b"^"
            i += 1
        elif c == ord("("):
            if p.startswith(b"(?", i) and (
                not p.startswith(_SAFE_GROUP, i) or p.startswith((b"(?<=", b"(?<!"), i)
            ):
                return None  # lookarounds, atomic groups, inline options, conditionals, ...
            out.append(c)
            i += 1
        elif c == ord("{"):
            j = i + 1
            while j < n and p[j] in _BRACE:
                j += 1
            if j > i + 1 and j < n and p[j] == ord("}"):
                # {n} {n,} {n,m} are quantifiers everywhere; {,m} and spaces inside the braces only
                # from PCRE2 10.43 on: leave those to the installed PCRE2
                if not _QUANTIFIER.fullmatch(p[i + 1 : j]):
                    return None
                out += p[i : j + 1]
                i = j + 1
            else:
                out += b"\\{"
                i += 1
        elif c == 0:
            out += b"\\x00"
            i += 1
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _class_end(p: bytes, i: int) -> int:
    """Index after the `]` closing the class that starts at p[i] == '[' (-1 if unterminated)."""
    n = len(p)
    j = i + 1
    if j < n and p[j] == ord("^"):
        j += 1
    if j < n and p[j] == ord("]"):
        j += 1  # a leading ] is a literal
    while j < n:
        c = p[j]
        if c == 0x5C:
            j += 2
            continue
        if c == ord("[") and j + 1 < n and p[j + 1] in b":.=":
            k = p.find(bytes([p[j + 1]]) + b"]", j + 2)
            if k >= 0:
                j = k + 2
                continue
        if c == ord("]"):
            return j + 1
        j += 1
    return -1


def _class_to_re2(cls: bytes) -> bytes | None:
    """One character class in RE2 syntax with PCRE2's meaning of its escapes, or None."""
    out = bytearray(b"[")
    j = 1
    end = len(cls) - 1  # index of the closing ]
    if cls[j] == ord("^"):
        out.append(ord("^"))
        j += 1
    if cls[j] == ord("]"):
        out += b"\\]"
        j += 1
    while j < end:
        c = cls[j]
        if c == 0x5C:
            e = cls[j + 1]
            if e in _INSIDE:
                out += _INSIDE[e]
            elif e == ord("b"):
                out += b"\\x08"  # backspace inside a class
            elif (e in _SAME_ESCAPES and e not in b"bBAzC") or not (chr(e).isalnum() or e >= 0x80):
                out += cls[j : j + 2]
            else:
                return None
            j += 2
        elif c == ord("[") and cls[j + 1 : j + 2] == b":":
            k = cls.find(b":]", j + 2)
            out += cls[j : k + 2]  # RE2's POSIX classes are PCRE2's (ASCII; [:space:] has VT)
            j = k + 2
        elif c == ord("["):
            if cls[j + 1 : j + 2] in (b".", b"="):
                return None  # collating elements: PCRE2 refuses them anyway
            out += b"\\["
            j += 1
        elif c == 0:
            out += b"\\x00"
            j += 1
        else:
            out.append(c)
            j += 1
    out.append(ord("]"))
    return bytes(out)


def _token_end(p: bytes, i: int) -> int:
    if p[i] == 0x5C:
        if p.startswith(b"\\Q", i):
            end = p.find(b"\\E", i + 2)
            return len(p) if end < 0 else end + 2
        return i + 2
    if p[i] == ord("["):
        end = _class_end(p, i)
        return len(p) if end < 0 else end
    return i + 1


def _nothing_follows(p: bytes, i: int) -> bool:
    """True if no part of the pattern after index i can consume input once the match got there:
    only closing parentheses (without quantifiers) and the rest of alternatives that were not taken."""
    n = len(p)
    while i < n:
        c = p[i]
        if c == ord(")"):
            i += 1
            if i < n and p[i] in b"*+?{":
                return False
        elif c == ord("|"):
            depth = 0  # skip the other alternatives up to the end of the enclosing group
            i += 1
            while i < n and not (p[i] == ord(")") and depth == 0):
                if p[i] == ord("("):
                    depth += 1
                elif p[i] == ord(")"):
                    depth -= 1
                i = _token_end(p, i)
        else:
            return False
    return True


# --- PCRE2 through ctypes --------------------------------------------------------------------
_CASELESS, _DOTALL, _EXTENDED, _MULTILINE = 0x8, 0x20, 0x80, 0x400
_PCRE2_FLAGS = {"i": _CASELESS, "s": _DOTALL, "m": _MULTILINE, "x": _EXTENDED}
_NEWLINE_LF = 2
_ERROR_NOMATCH = -1


class _Lib:
    """The libpcre2-8 functions used here, with their C signatures."""

    def __init__(self, cdll: ctypes.CDLL) -> None:
        vp, sz, u32, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int

        def fn(name: str, res: Any, *args: Any) -> Any:
            f = getattr(cdll, name)
            f.restype = res
            f.argtypes = list(args)
            return f

        self.compile = fn(
            "pcre2_compile_8", vp, ctypes.c_char_p, sz, u32, ctypes.POINTER(c_int), ctypes.POINTER(sz), vp
        )
        self.code_free = fn("pcre2_code_free_8", None, vp)
        self.error_message = fn("pcre2_get_error_message_8", c_int, c_int, ctypes.c_char_p, sz)
        self.ccontext_create = fn("pcre2_compile_context_create_8", vp, vp)
        self.set_newline = fn("pcre2_set_newline_8", c_int, vp, u32)
        self.mcontext_create = fn("pcre2_match_context_create_8", vp, vp)
        self.set_match_limit = fn("pcre2_set_match_limit_8", c_int, vp, u32)
        self.set_depth_limit = fn("pcre2_set_depth_limit_8", c_int, vp, u32)
        self.match_data_create = fn("pcre2_match_data_create_8", vp, u32, vp)
        self.match_data_free = fn("pcre2_match_data_free_8", None, vp)
        self.match = fn("pcre2_match_8", c_int, vp, ctypes.c_char_p, sz, sz, u32, vp, vp)
        self.ccontext = self.ccontext_create(None)
        self.set_newline(self.ccontext, _NEWLINE_LF)  # `$` and `.` know LF as the newline, always
        self._contexts: dict[Limits, int] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def context(self, limits: Limits) -> int:
        ctx = self._contexts.get(limits)
        if ctx is None:
            with self._lock:
                ctx = self._contexts.get(limits)
                if ctx is None:
                    ctx = self.mcontext_create(None)
                    self.set_match_limit(ctx, limits.match)
                    self.set_depth_limit(ctx, limits.depth)
                    self._contexts[limits] = ctx
        return int(ctx)

    def match_data(self) -> int:
        """One match-data block per thread (room for the whole match only: nothing is captured)."""
        md: int | None = getattr(self._local, "md", None)
        if md is None:
            md = self._local.md = self.match_data_create(1, None)
        assert md is not None
        return md


_lib: _Lib | None = None
_lib_loaded = False


def _pcre2() -> _Lib | None:
    """libpcre2-8, loaded once (None when it is not installed)."""
    global _lib, _lib_loaded
    if not _lib_loaded:
        name = ctypes.util.find_library("pcre2-8") or "libpcre2-8.so.0"
        try:
            _lib = _Lib(ctypes.CDLL(name))
        except (OSError, AttributeError):
            _lib = None
        _lib_loaded = True
    return _lib


class _Code:
    """A pattern compiled by PCRE2 (freed with this object)."""

    __slots__ = ("_free", "lib", "ptr")

    def __init__(self, lib: _Lib, pattern: bytes, flags: str) -> None:
        options = 0
        for f in flags:
            options |= _PCRE2_FLAGS[f]
        err = ctypes.c_int()
        offset = ctypes.c_size_t()
        ptr = lib.compile(
            pattern, len(pattern), options, ctypes.byref(err), ctypes.byref(offset), lib.ccontext
        )
        if not ptr:
            buf = ctypes.create_string_buffer(256)
            lib.error_message(err.value, buf, len(buf))
            raise ValueError(
                f"{buf.value.decode('ascii', 'replace')} at offset {offset.value} of the pattern"
            )
        self.lib = lib
        self.ptr = int(ptr)
        self._free = lib.code_free

    def search(self, data: bytes, limits: Limits) -> bool | None:
        lib = self.lib
        rc = lib.match(self.ptr, data, len(data), 0, 0, lib.match_data(), lib.context(limits))
        if rc >= 0:
            return True  # 0: matched, with no room to say where (none was asked for)
        if rc == _ERROR_NOMATCH:
            return False
        return LIMIT  # match, depth or heap limit (or another matching error): no match, counted

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, TypeError):  # at interpreter shutdown
            self._free(self.ptr)
