"""A documented subset of Suricata's rule language, parsed into matchers.

    action proto src_addr src_port -> dst_addr dst_port (option; option: value; ...)

Actions alert/drop/reject/pass; protocols tcp, udp, icmp (v4 and v6), ip and http (TCP to
$HTTP_PORTS — when the rule says `any` — whose payload is an HTTP request). Addresses and ports take
variables (`$HOME_NET`), lists, negation, CIDR, ranges (`1024:`, `:1023`, `80:90`) and `any`; `<>`
matches both directions. The options are listed in `KEYWORDS`; anything else is refused with an error
naming the file, line and keyword, so a rule never silently means less than it says. Values Suricata
refuses are refused too: a sid outside 1..2**32-1, `depth` shorter than its content, a `dsize` range
or an address or port spec that matches nothing. `pcre` runs bounded (`ids.nids.pcre`): in RE2 when
RE2 can, otherwise in PCRE2 under Suricata's match limits.

The vocabulary and the rule objects are `ids.nids.ruletypes`, the option lexer and value parsers
`ids.nids.ruleoptions`; this module loads files and turns rule text into `Rule`s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from govnet.errors import RuleError
from ids.nids.ruleaddr import address_matcher, port_map, split_top
from ids.nids.ruleoptions import (
    _INT_RANGES,
    _U32,
    _UNTERMINATED,
    _content_bytes,
    _parse_flags,
    _parse_pcre,
    _parse_range,
    _parse_threshold,
    _replace,
    _split_options,
    _uint,
    _unquote,
    flags_match,
)
from ids.nids.ruletypes import (
    _MODIFIER_BUFFERS,
    _STICKY,
    ACTIONS,
    CLASSTYPES,
    DEFAULT_VARS,
    KEYWORDS,
    PROTOCOLS,
    Content,
    Rule,
    RuleSet,
)

__all__ = [
    "PROTOCOLS",
    "Rule",
    "RuleSet",
    "default_rules_path",
    "flags_match",
    "load_rules",
    "parse_rule",
    "parse_rules",
]


# --- loading ------------------------------------------------------------------------------------
def default_rules_path() -> Path:
    """The rules shipped with govnet (approval-portal attacks, login guessing)."""
    return Path(__file__).resolve().parent / "rules" / "govnet.rules"


def load_rules(
    paths: Iterable[str | os.PathLike[str]], variables: Mapping[str, str] | None = None
) -> RuleSet:
    """Parse rule files; the first bad rule raises RuleError(file, line, keyword)."""
    merged = RuleSet([], [], dict(DEFAULT_VARS) | dict(variables or {}))
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RuleError(str(path), 0, "", f"cannot read rule file: {reason}") from None
        part = parse_rules(text, str(path), merged.variables, _seen={r.sid: r for r in merged.rules})
        merged.rules.extend(part.rules)
        merged.sources.append(str(path))
        merged.variables = part.variables
    return merged


def parse_rules(
    text: str,
    source: str = "<rules>",
    variables: Mapping[str, str] | None = None,
    *,
    _seen: dict[int, Rule] | None = None,
) -> RuleSet:
    """Parse rule text. Lines: rules, `# comments`, `ipvar|portvar|var NAME VALUE`; `\\` continues."""
    vars_ = dict(DEFAULT_VARS) | dict(variables or {})
    rules: list[Rule] = []
    seen: dict[int, Rule] = dict(_seen or {})
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending:
            start = lineno
            if not line or line.startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        stmt = (pending + line).strip()
        pending = ""
        head = stmt.split(None, 1)[0]
        if head in ("var", "ipvar", "portvar"):
            parts = stmt.split(None, 2)
            if len(parts) != 3:
                raise RuleError(source, start, head, "expected 'var NAME VALUE'")
            vars_[parts[1].lstrip("$")] = parts[2].strip()
            continue
        rule = parse_rule(stmt, source, start, vars_)
        if rule.sid in seen:
            other = seen[rule.sid]
            raise RuleError(
                source, start, "sid", f"sid {rule.sid} already used at {other.source}:{other.line}"
            )
        seen[rule.sid] = rule
        rules.append(rule)
    if pending:
        raise RuleError(source, start, "", "rule continues ('\\') past the end of the file")
    return RuleSet(rules, [source], vars_)


def _split_header(text: str) -> tuple[str, str, str, str, str, str] | None:
    """(action, proto, left, arrow, right, options body) of `action proto L -> R (body)`, or None.

    Plain string scanning, linear in the rule's length (a backtracking regex here took seconds for a
    rule line of a thousand spaces)."""
    parts = text.split(None, 2)
    if len(parts) != 3:
        return None
    action, proto, rest = parts
    paren = rest.find("(")
    tail = rest.rstrip()
    if paren < 0 or not tail.endswith(")"):
        return None
    head = rest[:paren]
    arrows = [i for i in (head.find("->"), head.find("<>")) if i >= 0]
    if not arrows:
        return None
    at = min(arrows)
    return action, proto, head[:at].strip(), head[at : at + 2], head[at + 2 :].strip(), tail[paren + 1 : -1]


def parse_rule(
    text: str, source: str = "<rule>", line: int = 1, variables: Mapping[str, str] | None = None
) -> Rule:
    """Parse one rule (see the module docstring); RuleError names source, line and keyword."""
    vars_ = dict(DEFAULT_VARS) | dict(variables or {})

    def fail(keyword: str, message: str) -> RuleError:
        return RuleError(source, line, keyword, message)

    parts = _split_header(text)
    if parts is None:
        raise fail("header", "expected 'action proto src sport -> dst dport (options)'")
    action, proto, left, arrow, right, body = parts
    if action not in ACTIONS:
        raise fail("action", f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if proto not in PROTOCOLS:
        raise fail("protocol", f"unknown protocol {proto!r}; use one of {', '.join(PROTOCOLS)}")
    lparts = split_top(left, " ")
    rparts = split_top(right, " ")
    if len(lparts) != 2 or len(rparts) != 2:
        raise fail("header", "expected an address and a port on each side of the arrow")
    try:
        src = address_matcher(lparts[0], vars_)
        dst = address_matcher(rparts[0], vars_)
    except ValueError as exc:
        raise fail("address", str(exc)) from None
    try:
        sport = port_map(lparts[1], vars_)
        dport_spec = rparts[1]
        if proto == "http" and dport_spec == "any":
            dport_spec = "$HTTP_PORTS"
        dport = port_map(dport_spec, vars_)
    except ValueError as exc:
        raise fail("port", str(exc)) from None
    rule = Rule(action, proto, src, sport, dst, dport, arrow == "<>", 0, "", source, line, text.strip())
    _apply_options(rule, body, fail)
    rule.needs_payload = bool(rule.contents) or rule.proto == "http" or rule.dsize is not None
    if rule.sid <= 0:
        raise fail("sid", f"every rule needs 'sid:N;' with N in 1..{_U32}")
    if dport is not None and not rule.bidirectional and dport.count(1) <= 64:
        ports: list[int] = []
        i = dport.find(1)
        while i >= 0:
            ports.append(i)
            i = dport.find(1, i + 1)
        rule.dst_port_list = tuple(ports)
    return rule


def _apply_options(rule: Rule, body: str, fail: Callable[[str, str], RuleError]) -> None:
    contents: list[Content] = []
    buffer = "payload"
    have_classtype_priority = False
    for opt in _split_options(body):
        key, _, value = opt.partition(":")
        key = key.strip()
        value = value.strip()
        if opt.endswith(_UNTERMINATED):
            raise fail(key.removesuffix(_UNTERMINATED), "option not terminated by ';'")
        try:
            if key == "msg":
                rule.msg = _unquote(value)
            elif key in ("sid", "rev", "gid", "priority"):
                n = _uint(value, key, *_INT_RANGES[key])
                if key == "sid":
                    rule.sid = n
                elif key == "rev":
                    rule.rev = n
                elif key == "priority":
                    rule.priority = n
                    have_classtype_priority = True
            elif key == "classtype":
                if value not in CLASSTYPES:
                    raise ValueError(f"unknown classtype {value!r} (known: {', '.join(sorted(CLASSTYPES))})")
                rule.classtype = value
                rule.category, prio = CLASSTYPES[value]
                if not have_classtype_priority:
                    rule.priority = prio
            elif key in ("reference", "target"):
                pass
            elif key == "metadata":
                for item in value.split(","):
                    words = item.split()
                    if not words:
                        continue
                    rule.metadata.setdefault(words[0], []).append(" ".join(words[1:]))
                    if words[0] == "govnet_block":
                        if len(words) != 2 or not words[1].isdigit() or int(words[1]) <= 0:
                            raise ValueError("govnet_block takes block seconds, e.g. 'govnet_block 300'")
                        rule.block_seconds = int(words[1])
            elif key == "flags":
                rule.flags = _parse_flags(value)
            elif key == "flow":
                for word in (w.strip() for w in value.split(",")):
                    if word in ("established", "not_established", "stateless"):
                        rule.established = {"established": True, "not_established": False}.get(word)
                    elif word not in ("to_server", "from_client", "to_client", "from_server"):
                        raise ValueError(f"unsupported flow option {word!r}")
            elif key in ("content", "uricontent"):
                neg = value.startswith("!")
                pat = _content_bytes(_unquote(value[1:].strip() if neg else value))
                if not pat:
                    raise ValueError("empty content")
                buf = "http.uri" if key == "uricontent" else buffer
                contents.append(Content(pat, buf, negated=neg))
            elif key in ("nocase", "depth", "offset") or key in _MODIFIER_BUFFERS:
                if not contents or contents[-1].regex is not None:
                    raise ValueError("needs a preceding 'content'")
                last = contents[-1]
                if key == "nocase":
                    last = Content(
                        last.pattern.lower(), last.buffer, True, last.negated, last.offset, last.depth
                    )
                elif key == "depth":
                    depth = _uint(value, key, 0, 65535)
                    if depth < len(last.pattern):
                        raise ValueError(
                            f"depth:{depth} leaves no room for the {len(last.pattern)}-byte content, so "
                            "the rule could never match (depth counts the bytes from offset that the "
                            f"content may occupy); use depth:{len(last.pattern)} or more"
                        )
                    last = _replace(last, depth=depth)
                elif key == "offset":
                    last = _replace(last, offset=_uint(value, key, 0, 65535))
                else:
                    last = _replace(last, buffer=_MODIFIER_BUFFERS[key])
                contents[-1] = last
            elif key in _STICKY:
                if value:
                    raise ValueError("takes no value")
                buffer = _STICKY[key]
            elif key == "pcre":
                contents.append(_parse_pcre(value, buffer))
            elif key in ("threshold", "detection_filter"):
                t = _parse_threshold(value, key)
                if key == "threshold":
                    rule.threshold = t
                else:
                    rule.detection_filter = t
            elif key in ("itype", "icode", "dsize"):
                setattr(rule, key, _parse_range(value, key))
            else:
                raise fail(key or "option", f"unsupported keyword (supported: {', '.join(KEYWORDS)})")
        except RuleError:
            raise
        except ValueError as exc:
            raise fail(key, str(exc)) from None
    rule.contents = tuple(contents)
    if rule.contents and rule.proto in ("icmp",) and any(c.buffer != "payload" for c in rule.contents):
        raise fail("http.uri", "HTTP buffers need protocol tcp or http")
    if not rule.category:
        rule.category = CLASSTYPES["misc-activity"][0] if not rule.classtype else rule.category
