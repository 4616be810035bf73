"""Named crash points, so tests can kill a step exactly where it would hurt most.

Code that publishes something in stages calls ``crash_point("load.staged")`` between
them. When the environment variable ``FJDP_CRASH_AT`` names that point, the process
kills itself with SIGKILL there: no ``finally`` blocks, no cleanup, as if the machine
lost power. Without the variable the call costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "FJDP_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
