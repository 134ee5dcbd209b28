"""docs/commands.md is the `govnet` argparse tree as it is: every command, its help, options and examples."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli import reference
from cli.main import build_parser


def test_commands_md_is_up_to_date() -> None:
    current = reference.DOC.read_text(encoding="utf-8") if reference.DOC.exists() else ""
    assert current == reference.render(), (
        f"{reference.DOC} is out of date with the argparse tree; regenerate it with: {reference.REGENERATE}"
    )


def _leaves(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> list[tuple[str, ...]]:
    out = [words]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _leaves(sub, (*words, name))
    return out


def test_every_command_has_a_section_with_its_options_and_examples() -> None:
    text = reference.render()
    commands = _leaves(build_parser(), ("govnet",))
    assert len(commands) > 30
    for words in commands:
        assert f"\n## {' '.join(words)}\n" in text, words
        assert f"usage: {' '.join(words)}" in text, words
    assert "--storage-policy P" in text and "--pcre-match-limit N" in text  # options
    assert "govnet whatif --sweep sweep.yaml --workers 2" in text  # epilog examples
    assert "--socket" not in text  # hidden options stay hidden


def test_check_mode_names_the_regenerate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "commands.md"
    stale.write_text("old\n")
    assert reference.main(["--out", str(stale), "--check"]) == 1
    assert ".venv/bin/python -m cli.reference" in capsys.readouterr().err
    assert reference.main(["--out", str(stale)]) == 0
    assert reference.main(["--out", str(stale), "--check"]) == 0
