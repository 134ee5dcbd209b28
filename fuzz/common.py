"""What every fuzz target shares: the one rule (only govnet's documented errors may escape), a
scratch file for parsers that read paths, and the standard atheris entry point."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from govnet.errors import GovnetError

_SCRATCH = Path(tempfile.mkdtemp(prefix="govnet-fuzz-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)  # also when libFuzzer exits on a finding


def scratch(data: bytes, name: str) -> Path:
    """`data` written to a file called `name` in this process's scratch directory (reused)."""
    p = _SCRATCH / name
    p.write_bytes(data)
    return p


def expected(fn: Callable[[], object]) -> None:
    """Run `fn`; a GovnetError (a clear user-facing error) is a correct answer, anything else escapes
    and is a finding."""
    with contextlib.suppress(GovnetError):
        fn()


def main(test_one_input: Callable[[bytes], None]) -> None:
    """`python fuzz/fuzz_X.py [libFuzzer flags] [CORPUS_DIR]`."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
