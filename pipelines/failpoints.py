"""Named points where a test can kill this process, to prove that a crash there loses nothing.

`reach("publish:written")` does nothing unless the environment variable `LCP_FAILPOINT` names that
point; then the process kills itself with SIGKILL on the spot, as a power cut or the OOM killer would:
no `finally`, no `atexit`, no flush. Used by tests/test_crash.py; costs one dictionary lookup otherwise.

Points: `build:computed` (values and audit done, nothing written), `publish:written` (the new release
file written and synced beside the live one, not yet renamed), `publish:replaced` (renamed over the
live one, open data not yet written), `ingest:batch` (a supply's first batch inserted, transaction
open), `ingest:committed` (the supply committed, its audit log entry not yet written).
"""
from __future__ import annotations

import os
import signal

ENV = "LCP_FAILPOINT"
POINTS = ("build:computed", "publish:written", "publish:replaced", "ingest:batch", "ingest:committed")


def reach(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
