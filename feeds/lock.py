"""One build at a time per output folder: an advisory ``flock`` on the folder itself and on
a file in it.

The kernel drops a ``flock`` when its process dies, however it dies, so a killed
build never leaves a stale lock behind: the lock file may stay, the lock does not.
The file is never written to, so a run that changes nothing changes no mtime at all.

The lock is taken on the output folder's own descriptor first: a lock file can be deleted
while a build holds it, and a second build would then lock a new file of the same name and
run beside the first (removing its temporary files), but the folder cannot be removed from
under a build while it holds files. The file lock follows, for builds of older versions
that lock only the file, and alone where a file system refuses to lock a folder (some
network file systems); there, the locked file is checked to still be the one at the path.
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
    deadline = time.monotonic() + max(wait, 0.0)
    try:
        output.mkdir(parents=True, exist_ok=True)
        folder = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise BuildError(f"{output}: cannot open the output folder: {e.strerror}") from None
    try:
        try:
            _flock(folder, output, wait, deadline)
        except LockedError:
            raise
        except OSError:
            pass  # this file system cannot lock a folder: the lock file alone serves
        with _file_lock(output, wait, deadline):
            yield
    finally:
        os.close(folder)


@contextlib.contextmanager
def _file_lock(output: Path, wait: float, deadline: float) -> Iterator[None]:
    path = output / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise BuildError(f"{output}: cannot create the lock file: {e.strerror}") from None
        try:
            _flock(fd, output, wait, deadline)
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # deleted or replaced while we waited: lock the one there now
    try:
        yield
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)


def _flock(fd: int, output: Path, wait: float, deadline: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockedError(
                    f"{output}: another feeds build holds the lock; "
                    f"gave up after {max(wait, 0.0):g} s (see --wait)"
                ) from None
            time.sleep(POLL_SECONDS)
