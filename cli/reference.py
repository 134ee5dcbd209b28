"""The command reference, docs/commands.md, generated from the `govnet` argparse tree.

    python -m cli.reference            # rewrite docs/commands.md
    python -m cli.reference --check    # exit 1 if docs/commands.md is out of date

Every command and subcommand gets a section: its one-line help and its full `--help` text (usage,
description, arguments, options, epilog examples), formatted at a fixed width so the file does not
depend on the terminal (the layout is argparse's on the project's Python, 3.11).
tests/cli/test_cli_reference.py fails when the file is out of date.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from cli.main import build_parser

WIDTH = 100  # help text width in the reference, whatever the terminal
DOC = Path(__file__).resolve().parents[1] / "docs" / "commands.md"
REGENERATE = ".venv/bin/python -m cli.reference"  # from the checkout's root


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...], help_text: str
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """(words, one-line help, parser) of `parser` and every subcommand below it, depth first."""
    yield path, help_text, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name), str(helps.get(name, "")))


def _anchor(words: tuple[str, ...]) -> str:
    """The anchor renderers give the heading: `govnet hsm offsite-plan` -> govnet-hsm-offsite-plan."""
    return "-".join(words)


def _help(parser: argparse.ArgumentParser) -> str:
    formatter = parser.formatter_class
    parser.formatter_class = functools.partial(cast(Any, formatter), width=WIDTH)
    try:
        return parser.format_help().rstrip("\n")
    finally:
        parser.formatter_class = formatter


def render() -> str:
    """The whole of docs/commands.md."""
    root = build_parser()
    commands = list(_commands(root, ("govnet",), root.description or ""))
    out = [
        "# Command reference",
        "",
        f"Generated from the argparse tree by `{REGENERATE}`; do not edit by hand "
        "(`tests/cli/test_cli_reference.py` fails when this file is out of date).",
        "",
    ]
    for words, text, _ in commands:
        indent = "  " * (len(words) - 1)
        out.append(f"{indent}- [`{' '.join(words)}`](#{_anchor(words)}){f' — {text}' if text else ''}")
    for words, text, parser in commands:
        out += ["", f"## {' '.join(words)}", ""]
        if text:
            out += [text, ""]
        out += ["```text", _help(parser), "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the reference; returns the exit code."""
    p = argparse.ArgumentParser(prog="python -m cli.reference", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DOC, help=f"where to write (default {DOC})")
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs from the argparse tree")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out}: out of date; regenerate it with: {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(text.splitlines())} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
