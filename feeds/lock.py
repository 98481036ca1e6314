"""One build at a time per output folder: an advisory ``flock`` on a file beside it.

The kernel drops a ``flock`` when its process dies, however it dies, so a killed
build never leaves a stale lock behind: the lock file may stay, the lock does not.
The file is never written to, so a run that changes nothing changes no mtime at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from feeds.errors import BuildError, LockedError

LOCK_FILE = ".feeds.lock"
POLL_SECONDS = 0.05


@contextlib.contextmanager
def output_lock(output: Path, wait: float) -> Iterator[None]:
    """Hold the output folder's lock, waiting up to ``wait`` seconds for another run."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        fd = os.open(output / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise BuildError(f"{output}: cannot create the lock file: {e.strerror}") from None
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"{output}: another feeds build holds the lock; "
                        f"gave up after {max(wait, 0.0):g} s (see --wait)"
                    ) from None
                time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)
