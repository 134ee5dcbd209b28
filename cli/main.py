"""The `govnet` parser and entry point: the verb modules register their commands; errors become exit codes.

A `GovnetError` prints one line `govnet: ...` on stderr and exits with its code (2 for user mistakes);
a `ModelError` prints one line per problem; Ctrl-C exits 130; a closed output pipe exits 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli import audit, fw, hsm, ids, lab, topo, tsdb, whatif
from govnet import __version__
from govnet.errors import GovnetError, ModelError

VERB_MODULES = (topo, lab, hsm, tsdb, whatif, audit, ids, fw)  # the order of `govnet --help`


def build_parser() -> argparse.ArgumentParser:
    """The whole argparse tree of `govnet` (also read by `python -m cli.reference`)."""
    p = argparse.ArgumentParser(
        prog="govnet",
        description="Emulate, watch and plan a city e-government network.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="start with: govnet topo check; sudo govnet lab run baseline",
    )
    p.add_argument("--version", action="version", version=f"govnet {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    for module in VERB_MODULES:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one `govnet` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Any = getattr(args, "func", None)
    if func is None:
        (getattr(args, "_parser", None) or parser).print_help()
        return 2
    try:
        return int(func(args))
    except ModelError as exc:
        for prob in exc.problems:
            print(prob, file=sys.stderr)
        return exc.exit_code
    except GovnetError as exc:
        print(f"govnet: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        from govnet.signals import interrupted_message

        print(f"govnet: {interrupted_message()}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
