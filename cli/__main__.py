"""`python -m cli`: the same as the `govnet` command."""

from cli.main import _entry

_entry()
