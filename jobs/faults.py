"""Named fault points: the reliability tests kill or fail the job at exact places.

A run reaches `point("publish.partition_moved")` and friends at the moments where a crash
would be most harmful (between writes, halfway through a commit). Nothing happens unless
the environment asks for it, so production pays one dictionary lookup per point:

    JOURNEYS_FAULT=publish.partition_moved#3      the 3rd time that point is reached ...
    JOURNEYS_FAULT_ACTION=kill                    ... SIGKILL this process (default), or
                                                  `fail`: raise InjectedFault
    JOURNEYS_FAULT_ONCE=/tmp/marker               only if the marker file does not exist yet,
                                                  and create it first (a retry then succeeds)

Every point the code defines is listed in POINTS, so a test can check that it reaches them.
"""
from __future__ import annotations

import os
import signal
from collections import Counter

ENV, ACTION_ENV, ONCE_ENV = "JOURNEYS_FAULT", "JOURNEYS_FAULT_ACTION", "JOURNEYS_FAULT_ONCE"

POINTS = (
    "normalize.sources_read",        # every raw source read and counted, nothing staged yet
    "stage.table_staged",            # after each table a step stages (normalize, build)
    "build.identity_state_written",  # identity snapshot written to _state, nothing staged yet
    "build.cursor_written",          # journey cursor snapshot written, identity tables not staged
    "validate.done",                 # every output suite ran, before the step returns
    "publish.commit_started",        # commit journal written, nothing moved yet
    "publish.old_partition_parked",  # an old partition moved aside, its replacement not in place
    "publish.partition_moved",       # after each partition moved into place
    "publish.table_committed",       # after each table's partitions are all in place
    "publish.file_placed",           # after each single file (pipeline_runs rows, manifest)
)

_reached: Counter[str] = Counter()


class InjectedFault(RuntimeError):
    """Raised at a fault point when JOURNEYS_FAULT_ACTION=fail."""


def point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    _reached[name] += 1
    target, _, nth = spec.partition("#")
    if target != name or _reached[name] != int(nth or 1):
        return
    marker = os.environ.get(ONCE_ENV)
    if marker:
        if os.path.exists(marker):
            return
        with open(marker, "w") as fh:
            fh.write(spec)
    if os.environ.get(ACTION_ENV, "kill") == "fail":
        raise InjectedFault(f"fault injected at {name} (#{_reached[name]})")
    os.kill(os.getpid(), signal.SIGKILL)
