"""Strict YAML loading: duplicate keys are errors, syntax errors name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from govnet.errors import ModelError, Problem


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
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
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML text; raise ModelError naming the source and line on any syntax problem."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}" if mark is not None else "?"
        what = exc.problem or str(exc)
        raise ModelError(
            [Problem(source, line, f"invalid YAML: {what}", has_value=False, fix="fix the YAML syntax")]
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
            [Problem(source, "", f"invalid YAML: {exc}", has_value=False, fix="fix the YAML syntax")]
        ) from None


def load_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file; unreadable files are user mistakes, not tracebacks."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(
            [
                Problem(
                    source,
                    "",
                    "file not found",
                    has_value=False,
                    fix="check the path (bundled models: small, weihai)",
                )
            ]
        ) from None
    except IsADirectoryError:
        raise ModelError(
            [Problem(source, "", "is a directory", has_value=False, fix="give a YAML file")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(
            [Problem(source, "", f"cannot read: {exc}", has_value=False, fix="give a readable UTF-8 file")]
        ) from None
    return load_yaml_text(text, source)
