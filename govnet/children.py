"""Helper processes that must not outlive the process that started them.

`Popen(..., preexec_fn=die_with_parent)` asks the kernel (prctl PR_SET_PDEATHSIG) to send the child
SIGTERM when its parent dies, so a lab killed with SIGKILL leaves no sensor, replay or sshd behind in
the root namespace (processes inside an emulated host's namespace are swept with the namespace).
The signal follows the thread that forked the child: start children from a long-lived thread.
"""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
