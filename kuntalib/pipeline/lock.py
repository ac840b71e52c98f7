"""One build at a time per outputs folder: an advisory lock file (``outputs/.build.lock``)."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["build_lock"]


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold the lock at ``path`` for the duration; wait (saying so on stderr) while another build holds it.

    The lock is released by the operating system when its holder exits, however it exits
    (SIGKILL included), so a killed build never leaves a stale lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"kuntalib: waiting for another build of {path.parent} to finish (lock {path.name})",
                  file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
