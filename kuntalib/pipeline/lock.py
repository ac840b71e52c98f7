"""One build at a time per outputs folder: an operating-system file lock (``outputs/.build.lock``).

The lock is :class:`filelock.FileLock`: ``flock`` on Linux and macOS, ``msvcrt.locking`` on
Windows. Both are held by an open file handle, so the operating system releases the lock when
its holder exits, however it exits (Ctrl-C, a crash, SIGKILL, Task Manager's "End task"): a
killed build never leaves a stale lock behind, and nothing has to be deleted by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

__all__ = ["build_lock"]


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold the lock at ``path`` for the duration; wait (saying so on stderr) while another build holds it.

    Parameters
    ----------
    path
        The lock file (``outputs/.build.lock``); its folder is created if missing. The file
        itself stays in place on Linux and macOS (waiters share it); its contents mean nothing.

    Notes
    -----
    The lock belongs to the process that holds it: another process, or another ``build_lock``
    of the same path in this process, waits until it is released or its holder exits.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"kuntalib: waiting for another build of {path.parent} to finish (lock {path.name})",
              file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
