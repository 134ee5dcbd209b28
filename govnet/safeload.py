"""One safe loader for every YAML and JSON file govnet reads from a user.

Limits, each a clear exit-2 message naming the file, the limit and how to raise it:

    GOVNET_MAX_INPUT_BYTES   16777216   a file larger than this is refused unread (after 16 MiB + 1 byte)
    GOVNET_MAX_INPUT_NODES    1000000   values in the document *with aliases expanded*: a 1 KB
                                        "billion laughs" alias bomb is refused before it is built
    GOVNET_MAX_INPUT_DEPTH        100   nesting of mappings and lists

Only regular files are read (not /dev/zero, a FIFO or a directory). YAML is YAML 1.1 as PyYAML's
safe loader reads it, with merge keys (`<<: *defaults`; explicit keys override merged ones) and
one difference: a key given twice in one mapping is an error naming both lines. The limits are
checked on the parser's event stream, which is flat (no recursion), so no input can exhaust the
stack or memory before it is refused. JSON is checked the same way (size first, then nesting).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from govnet.errors import ModelError, Problem
from govnet.errors import bounded_repr as bounded_repr  # its home is errors (Problem uses it)

MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 100


def _limit(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return value if value > 0 else default


def limits() -> tuple[int, int, int]:
    """(bytes, nodes, depth) in force, from the environment or the defaults."""
    return (
        _limit("GOVNET_MAX_INPUT_BYTES", MAX_BYTES),
        _limit("GOVNET_MAX_INPUT_NODES", MAX_NODES),
        _limit("GOVNET_MAX_INPUT_DEPTH", MAX_DEPTH),
    )


def _fail(source: str, message: str, fix: str, where: str = "") -> ModelError:
    return ModelError([Problem(source, where, message, has_value=False, fix=fix)])


def read_text(path: str | os.PathLike[str], *, what: str = "file", hint: str = "") -> str:
    """A regular UTF-8 file's text, at most GOVNET_MAX_INPUT_BYTES; ModelError for anything else."""
    source = str(path)
    max_bytes = limits()[0]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _fail(source, f"{what} not found", hint or "check the path") from None
    except OSError as exc:
        raise _fail(source, f"cannot read: {exc.strerror}", "give a readable file") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(source, "is a directory", f"give a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(source, "not a regular file (a device, FIFO or socket)", f"give a {what} on disk")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _fail(source, f"cannot read: {exc.strerror}", "give a readable file") from None
    if len(raw) > max_bytes:
        raise _fail(
            source,
            f"larger than the input limit of {max_bytes:,} bytes",
            "give a smaller file, or raise GOVNET_MAX_INPUT_BYTES",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(source, f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None


# --- YAML -------------------------------------------------------------------------------------------
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: ~10x faster, same YAML


class _StrictLoader(_Base):  # type: ignore[misc]
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


_MERGE = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue  # merged keys may be overridden by explicit ones; only explicit twins are errors
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found unhashable key (a list or mapping used as a key)", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {bounded_repr(key, 60)} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    out: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_events(text: str, source: str) -> None:
    """Walk the parser's events once: nesting depth and the alias-expanded value count."""
    _, max_nodes, max_depth = limits()
    anchors: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, values inside] per open collection
    total = 0
    for ev in yaml.parse(text, Loader=_Base):
        if isinstance(ev, yaml.CollectionStartEvent):
            if len(stack) >= max_depth:
                line = ev.start_mark.line + 1 if ev.start_mark else 0
                raise _fail(
                    source,
                    f"nested deeper than the input limit of {max_depth} levels",
                    "flatten the document, or raise GOVNET_MAX_INPUT_DEPTH",
                    f"line {line}",
                )
            stack.append([ev.anchor, 1])
            continue
        if isinstance(ev, yaml.CollectionEndEvent):
            anchor, n = stack.pop()
            if anchor:
                anchors[anchor] = n
            if stack:
                stack[-1][1] += n
            total += n if not stack else 0
        elif isinstance(ev, yaml.ScalarEvent | yaml.AliasEvent):
            n = anchors.get(ev.anchor or "", 1) if isinstance(ev, yaml.AliasEvent) else 1
            if isinstance(ev, yaml.ScalarEvent) and ev.anchor:
                anchors[ev.anchor] = 1
            if stack:
                stack[-1][1] += n
            else:
                total += n
        else:
            continue
        inside = total + sum(s[1] for s in stack)
        if inside > max_nodes:
            line = ev.start_mark.line + 1 if ev.start_mark else 0
            raise _fail(
                source,
                f"more than the input limit of {max_nodes:,} values with aliases expanded "
                "(an alias bomb, or a very large document)",
                "remove the repeated aliases, or raise GOVNET_MAX_INPUT_NODES",
                f"line {line}",
            )


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML text within the limits; ModelError naming the source and line on any problem."""
    max_bytes = limits()[0]
    if len(text) > max_bytes:
        raise _fail(
            source, f"larger than the input limit of {max_bytes:,} bytes", "raise GOVNET_MAX_INPUT_BYTES"
        )
    try:
        _check_events(text, source)
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}" if mark is not None else "?"
        what = exc.problem or str(exc)
        raise ModelError(
            [Problem(source, line, f"invalid YAML: {what[:200]}", has_value=False, fix="fix the YAML syntax")]
        ) from None
    except yaml.reader.ReaderError as exc:
        # not a MarkedYAMLError: a control character; name its line instead of a multi-line dump
        line = f"line {text.count(chr(10), 0, exc.position) + 1}"
        char = exc.character
        what = f"unacceptable character #x{char:04x}" if isinstance(char, int) else exc.reason
        fix = "remove the control character"
        raise ModelError([Problem(source, line, f"invalid YAML: {what}", has_value=False, fix=fix)]) from None
    except yaml.YAMLError as exc:
        raise ModelError(
            [
                Problem(
                    source, "", f"invalid YAML: {str(exc)[:200]}", has_value=False, fix="fix the YAML syntax"
                )
            ]
        ) from None
    except RecursionError:  # defence in depth: the event walk bounds nesting first
        raise _fail(source, "nested too deeply", "flatten the document") from None


def load_yaml_file(path: str | os.PathLike[str], *, what: str = "YAML file", hint: str = "") -> Any:
    """Read (see `read_text`) and parse a YAML file within the limits."""
    return load_yaml_text(read_text(path, what=what, hint=hint), str(path))


# --- JSON -------------------------------------------------------------------------------------------
def _json_depth_ok(text: str, max_depth: int) -> int:
    """The line of the first bracket nested deeper than `max_depth` outside strings (0: none)."""
    depth = 0
    in_str = esc = False
    line = 1
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return line
        elif ch in "]}":
            depth -= 1
        if ch == "\n":
            line += 1
    return 0


def load_json_text(text: str, source: str) -> Any:
    """Parse JSON text within the size and depth limits; ModelError naming the line on a mistake."""
    max_bytes, _, max_depth = limits()
    if len(text) > max_bytes:
        raise _fail(
            source, f"larger than the input limit of {max_bytes:,} bytes", "raise GOVNET_MAX_INPUT_BYTES"
        )
    deep = _json_depth_ok(text, max_depth)
    if deep:
        raise _fail(
            source,
            f"nested deeper than the input limit of {max_depth} levels",
            "flatten the document, or raise GOVNET_MAX_INPUT_DEPTH",
            f"line {deep}",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, f"invalid JSON: {exc.msg}", "fix the JSON syntax", f"line {exc.lineno}") from None
    except RecursionError:
        raise _fail(source, "nested too deeply", "flatten the document") from None


def load_json_file(path: str | os.PathLike[str], *, what: str = "JSON file", hint: str = "") -> Any:
    """Read (see `read_text`) and parse a JSON file within the limits."""
    return load_json_text(read_text(path, what=what, hint=hint), str(path))


def load_data_file(path: str | os.PathLike[str], *, what: str = "file", hint: str = "") -> Any:
    """JSON for a `.json` file, YAML otherwise (YAML is a superset of JSON), within the limits."""
    text = read_text(path, what=what, hint=hint)
    if Path(path).suffix.lower() == ".json":
        return load_json_text(text, str(path))
    return load_yaml_text(text, str(path))
