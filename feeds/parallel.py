"""Work spread over forked worker processes, results in order: the only place that forks.

Workers are forked, so they start with everything the parent held (the configuration,
the list of sources, every article's brief) and only the items and the results cross
between processes. Whatever ``jobs`` is, the results and their order are the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import pickle
import signal
import struct
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from feeds.errors import BuildError

T = TypeVar("T")
R = TypeVar("R")
Joined = TypeVar("Joined", list[Any], bytes)
"""What :func:`split_map` joins: lists, or bytes."""

PARALLEL_MIN = 2000
"""Fewer items than this are done in this process: starting workers would cost more."""
SPLIT_MIN = 4000
"""Fewer items than this are not split by :func:`split_map`."""

_shared: dict[str, Any] = {}
"""What :meth:`Workers.share` gave this process (a worker, or the parent when serial)."""


class Workers:
    """A build's worker processes, forked once when first needed and used by both passes.

    Forked early, while the build holds little: a worker forked later starts with the
    parent's whole heap, and every page either side then writes is copied. Tasks are
    module-level functions ``func(item, shared)``; ``shared`` is what :meth:`share` sent
    (once per worker, not with every task). Results come in order, whatever ``jobs`` is.

    Each worker has a pipe of tasks and a pipe of results. Chunk ``k`` of a map goes to
    worker ``k % jobs``, which answers its tasks in the order they came, so the results
    are read back in order from one worker after the other. No thread runs beside the
    build (``multiprocessing.Pool`` kept three per pool, whose waking up on every task took
    about a second of the build process's time at 100k articles), and no write can wait
    for ever: a task is sent only when it fits in its worker's pipe beside the tasks still
    waiting there (or when the worker has nothing else to do), and every result before the
    one waited for has been read, so the worker that owes it is not blocked writing
    another. A worker that dies is a :class:`~feeds.errors.BuildError`, never a hang.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._workers: list[_Worker] = []

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(failed=exc[0] is not None)

    def close(self, *, failed: bool = False) -> None:
        """Let the workers go (their memory with them) and forget what was shared."""
        self._stop(kill=failed)
        _shared.clear()

    def _stop(self, *, kill: bool) -> None:
        """Let the workers go; the next :meth:`map` forks anew (with what was shared)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(kill=kill)

    def share(self, **values: Any) -> None:
        """Give every worker (and this process, for work done here) these values; between
        maps (a worker still owing results might never read them)."""
        if any(worker.owes for worker in self._workers):
            raise RuntimeError("Workers.share while a map is under way")
        _shared.update(values)
        if self._workers:
            message = _message(("share", values))
            for worker in self._workers:
                worker.send(message, answered=False)

    def map(
        self,
        func: Callable[[T, dict[str, Any]], R],
        items: Sequence[T],
        *,
        chunk: int = 256,
        serial_below: int | None = None,
    ) -> Iterator[R]:
        """``func(item, shared)`` of each item, in order; in the workers when worth it
        (``serial_below`` items or more; default :data:`PARALLEL_MIN`)."""
        if self.jobs <= 1 or len(items) < (PARALLEL_MIN if serial_below is None else serial_below):
            for item in items:
                yield func(item, _shared)
            return
        if not self._workers:
            try:
                self._start()
            except OSError:  # no more processes allowed, or no memory for them: do it here
                for item in items:
                    yield func(item, _shared)
                return
        workers = self._workers
        starts = range(0, len(items), chunk)
        sent = 0  # chunks sent; chunk k goes to workers[k % jobs]
        pending: bytes | None = None  # chunk ``sent``, made but not sent yet
        finished = False
        try:
            for k in range(len(starts)):
                while sent < len(starts):
                    if pending is None:
                        start = starts[sent]
                        pending = _message(("map", func, list(items[start : start + chunk])))
                    # Chunk k itself always goes: its worker owes nothing before it.
                    if not workers[sent % len(workers)].send(pending, answered=True):
                        break
                    pending = None
                    sent += 1
                results = workers[k % len(workers)].result()
                finished = k == len(starts) - 1  # nothing more on its way
                yield from results
        finally:
            if not finished:  # left part-way: results still on their way would be read
                self._stop(kill=True)  # by the next map as its own; fork anew instead

    def _start(self) -> None:
        workers: list[_Worker] = []
        try:
            for _ in range(self.jobs):
                workers.append(_Worker.fork(workers))
        except BaseException:
            for worker in workers:
                worker.stop(kill=True)
            raise
        self._workers = workers


WINDOW_BYTES = 256 * 1024
"""Bytes of tasks a worker may have waiting in its pipe (its size is raised to fit them)."""
_PIPE_BUF = 512
"""Bytes that POSIX promises a pipe holds."""
_PAGE = mmap.PAGESIZE
"""A pipe holds pages (Linux: ``F_GETPIPE_SZ`` of them in bytes), and a write of ``n``
bytes may take ``n // _PAGE + 1`` of them: counting bytes alone, 17 tasks of 15 KB seemed
to fit in 256 KB, took 68 pages of 64, and a build waited for ever."""
_HEAD = struct.Struct("<Q")
"""Each message on a pipe: its length, then its pickled value."""


def _message(value: object) -> bytes:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return _HEAD.pack(len(data)) + data


class _Worker:
    """One forked worker process and its two pipes, seen from the parent."""

    def __init__(self, pid: int, tasks: int, results: int, room: int) -> None:
        self.pid = pid
        self._tasks = tasks
        self._results = os.fdopen(results, "rb")
        self._room = room
        """Bytes the task pipe holds."""
        self._waiting: deque[int] = deque()  # what each task not answered yet may hold

    @classmethod
    def fork(cls, others: Sequence[_Worker]) -> _Worker:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        room = _PIPE_BUF  # what any pipe holds; Linux says, and makes room for more
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(task_write, fcntl.F_SETPIPE_SZ, WINDOW_BYTES)
        with contextlib.suppress(OSError, AttributeError):
            room = fcntl.fcntl(task_write, fcntl.F_GETPIPE_SZ)
        try:
            pid = os.fork()
        except OSError:
            for fd in (task_read, task_write, result_read, result_write):
                os.close(fd)
            raise
        if pid == 0:  # the worker: serve until the task pipe closes, and leave at once
            status = 1
            try:
                os.close(task_write)
                os.close(result_read)
                for other in others:  # theirs only: the task pipes must close when they stop
                    other._close_fds()
                _serve(task_read, result_write)
                status = 0
            finally:
                os._exit(status)  # never the parent's cleanup (its lock, its cache) here
        os.close(task_read)
        os.close(result_write)
        return cls(pid, task_write, result_read, room)

    def send(self, message: bytes, *, answered: bool) -> bool:
        """Send a task (``answered``: one that is answered with results). When results of
        other tasks are still to come, only if it fits in the pipe beside them (else
        ``False``: send it after reading a result); else it is sent in any case, as the
        worker is reading its pipe."""
        cost = len(message) + _PAGE  # a write fills pages, the last one in part
        if answered and self._waiting and sum(self._waiting) + cost > self._room:
            return False
        view = memoryview(message)
        try:
            while view:
                view = view[os.write(self._tasks, view) :]
        except OSError as e:
            raise BuildError(f"a worker process stopped ({e.strerror})") from None
        if answered:
            self._waiting.append(cost)
        return True

    @property
    def owes(self) -> bool:
        """Whether results of tasks sent are still to be read."""
        return bool(self._waiting)

    def result(self) -> list[Any]:
        """The results of the oldest task sent (an exception it raised is raised here)."""
        head = self._results.read(_HEAD.size)
        data = self._results.read(_HEAD.unpack(head)[0]) if len(head) == _HEAD.size else b""
        if not data:
            raise BuildError(f"a worker process (pid {self.pid}) stopped before it was done")
        self._waiting.popleft()
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        results: list[Any] = value
        return results

    def _close_fds(self) -> None:
        os.close(self._tasks)
        self._results.close()

    def stop(self, *, kill: bool) -> None:
        if kill:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._close_fds()  # its task pipe closes: a worker that is waiting leaves
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _serve(tasks: int, results: int) -> None:
    """A worker's loop: answer each task of the pipe ``tasks`` on the pipe ``results``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends a worker, quietly
    incoming = os.fdopen(tasks, "rb")
    while True:
        head = incoming.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return  # the parent closed the pipe: done
        kind, *rest = pickle.loads(incoming.read(_HEAD.unpack(head)[0]))
        if kind == "share":
            _shared.update(rest[0])
            continue
        func, chunk = rest
        try:
            reply = _message((True, [func(item, _shared) for item in chunk]))
        except Exception as e:  # sent back, raised where the results are read
            try:
                reply = _message((False, e))
            except Exception:  # an exception that does not pickle: its text
                reply = _message((False, RuntimeError(f"{type(e).__name__}: {e}")))
        view = memoryview(reply)
        while view:
            view = view[os.write(results, view) :]


def split_map(
    func: Callable[[Sequence[T]], Joined],
    items: Sequence[T],
    jobs: int,
    *,
    at_least: int | None = None,
) -> Joined:
    """``func(items)`` with the second half of ``items`` done by one forked child process.

    For short system-call-bound work (listing and ``stat`` of every file), where a pool
    costs more than it saves; only with ``jobs`` > 1 and ``at_least`` items (default
    :data:`SPLIT_MIN`). ``func``
    must return a list of marshal-able values (numbers, strings, lists, tuples), or bytes,
    and ``func`` of the two halves joined by ``+`` must be ``func`` of the whole.
    """
    if jobs <= 1 or len(items) < (SPLIT_MIN if at_least is None else at_least):
        return func(items)
    import marshal

    middle = len(items) // 2
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the second half, send it, and leave without cleanup
        status = 0
        try:
            os.close(read_end)
            data = marshal.dumps(func(items[middle:]))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BaseException:
            status = 1
        os._exit(status)
    os.close(write_end)
    try:
        first = func(items[:middle])
        with os.fdopen(read_end, "rb") as received:
            data = received.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if status != 0:
        return first + func(items[middle:])  # the child failed: do its half here
    second: Joined = marshal.loads(data)
    return first + second
