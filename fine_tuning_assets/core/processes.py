"""Which process owns a piece of work, and whether that process still runs.

A model version in training records its owner (the Dagster run id, the host and the process id) so that
after a crash (``kill -9``, an out-of-memory kill, a reboot) the version can be told apart from one that is
still being worked on. On this host the process is looked up directly; a process id that was reused by a
later process does not count as the owner (on Linux the process's start time is compared).

Example:
    >>> import os
    >>> owner = RunOwner.of_this_process("run-1")
    >>> owner.pid == os.getpid() and owner.is_on_this_host
    True
    >>> process_is_running(os.getpid())
    True
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

#: A process that started this many seconds after the time it must have been running by is not the one.
_START_TIME_SLACK_SECONDS = 2.0


def this_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class RunOwner:
    """The Dagster run and the process working on something."""

    run_id: str | None
    host: str
    pid: int

    @classmethod
    def of_this_process(cls, run_id: str | None) -> RunOwner:
        return cls(run_id=run_id, host=this_host(), pid=os.getpid())

    @property
    def is_on_this_host(self) -> bool:
        return self.host == this_host()

    def __str__(self) -> str:
        run = f"Dagster run {self.run_id}, " if self.run_id else ""
        return f"{run}process {self.pid} on {self.host}"


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _linux_state_and_start(pid: int) -> tuple[str, float | None] | None:
    """The process's state letter and start time (epoch seconds) from /proc; None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)": field 3 (state) is fields[0]
    boot = _boot_time()
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") if boot is not None else None
    return fields[0], started


def process_is_running(pid: int, *, started_by: datetime | None = None) -> bool:
    """Whether process ``pid`` runs on this host. With ``started_by``, a process that started after that time
    is a later process that reused the id, not the one asked about. A zombie (exited, not yet reaped by its
    parent) does not run."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    linux = _linux_state_and_start(pid)
    if linux is not None:
        state, started = linux
        if state in ("Z", "X"):
            return False
        if (
            started_by is not None
            and started is not None
            and started > started_by.timestamp() + _START_TIME_SLACK_SECONDS
        ):
            return False
    return True
