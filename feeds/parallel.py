"""Work spread over forked worker processes, results in order: the only place that forks.

A :class:`concurrent.futures.ProcessPoolExecutor` with the ``fork`` start method: its
workers start with everything the parent held (the configuration, the list of sources)
and only the items and the results cross between processes. Whatever ``jobs`` is, the
results and their order are the same; with ``jobs`` 1 nothing is forked.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from feeds.errors import BuildError

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN = 2000
"""Fewer items than this are done in this process: starting workers would cost more."""
AHEAD = 4
"""Chunks on their way per worker: enough that no worker waits for its next chunk while
the results before it are being used, few enough that results never pile up here."""

_shared: dict[str, Any] = {}
"""What :meth:`Workers.share` gave this process (a worker, or the parent when serial)."""
_seen = 0
"""In a worker: the :class:`_Update` last applied to :data:`_shared`."""


class Workers:
    """A build's worker processes, started when first needed and used by both passes.

    Tasks are module-level functions ``func(item, shared)``; ``shared`` is what
    :meth:`share` gave. Values shared before the workers start reach them by the fork
    (the pool's initializer keeps them); values shared later travel once per chunk as
    one pickled :class:`_Update`, unpickled once per worker. A map sends its items in
    chunks, at most :data:`AHEAD` chunks per worker on their way, and gives the results in
    order. A worker that dies is a :class:`~feeds.errors.BuildError`, never a hang; a
    worker whose parent dies is killed with it (Linux), so none is left behind.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None
        self._update: _Update | None = None
        """Values shared since the pool started, for every chunk sent to it."""

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(failed=exc[0] is not None)

    def close(self, *, failed: bool = False) -> None:
        """Let the workers go (their memory with them) and forget what was shared;
        ``failed``: kill them rather than let them finish the chunks they hold."""
        self._stop(kill=failed)
        _shared.clear()

    def _stop(self, *, kill: bool) -> None:
        pool, self._pool = self._pool, None
        self._update = None
        if pool is None:
            return
        if kill:
            _kill(pool)
        pool.shutdown(wait=True, cancel_futures=True)

    def share(self, **values: Any) -> None:
        """Give every worker (and this process, for work done here) these values."""
        _shared.update(values)
        if self._pool is not None:
            before = self._update.values if self._update is not None else {}
            values = {**before, **values}
            self._update = _Update(
                (self._update.number if self._update is not None else 0) + 1,
                values,
                pickle.dumps(values, pickle.HIGHEST_PROTOCOL),
            )

    def map(
        self,
        func: Callable[[T, dict[str, Any]], R],
        items: Iterable[T],
        *,
        chunk: int = 256,
        serial_below: int | None = None,
    ) -> Iterator[R]:
        """``func(item, shared)`` of each item, in order; in the workers when worth it
        (``serial_below`` items or more; default :data:`PARALLEL_MIN`).

        ``items`` may be an iterator, which always goes to the workers: it is drawn on as
        chunks are sent (:data:`AHEAD` per worker ahead of the results), so whatever makes the
        items runs here while the workers do the ones already made."""
        below = PARALLEL_MIN if serial_below is None else serial_below
        if self.jobs <= 1 or (isinstance(items, Sized) and len(items) < below):
            for item in items:
                yield func(item, _shared)
            return
        pool = self._pool or self._start()
        if pool is None:  # no more processes allowed, or no memory for them: do it here
            for item in items:
                yield func(item, _shared)
            return
        from concurrent.futures.process import BrokenProcessPool

        update = self._update
        number, blob = (update.number, update.blob) if update is not None else (0, b"")
        left = iter(items)
        on_the_way: deque[Future[list[R]]] = deque()

        def send() -> bool:
            part = list(itertools.islice(left, chunk))
            if part:
                on_the_way.append(pool.submit(_run, func, part, number, blob))
            return bool(part)

        try:
            while len(on_the_way) < self.jobs * AHEAD and send():
                pass
            while on_the_way:
                results = on_the_way.popleft().result()
                send()
                yield from results
        except BrokenProcessPool:
            self._stop(kill=True)  # the next map starts anew
            raise BuildError("a worker process stopped before it was done") from None
        finally:
            for future in on_the_way:  # left part-way: what has not started never will
                future.cancel()

    def _start(self) -> ProcessPoolExecutor | None:
        """The pool, its workers forked now; ``None`` if they cannot be.

        (Imported only now: ``multiprocessing`` and ``concurrent.futures`` take 10-15 ms
        to import, 2-3% of a run that finds nothing changed and forks no worker.)"""
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        _quiet_cancelled_chunks()
        pool = ProcessPoolExecutor(
            self.jobs,
            mp_context=_fork_context(),
            initializer=_start_worker,
            initargs=(dict(_shared), os.getpid()),
        )
        try:
            # With fork the pool forks every worker at its first task, in this call:
            # a fork that fails fails here. (Its answer is not waited for.)
            pool.submit(int)
        except (OSError, BrokenProcessPool):
            _kill(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            return None
        self._pool = pool
        return pool


@functools.cache
def _quiet_cancelled_chunks() -> None:
    """Keep the pool's own thread quiet when Ctrl-C ends the workers of a map left early.

    Python 3.11's pool thread marks every chunk still pending as failed when a worker dies,
    and raises ``InvalidStateError`` for one this process has cancelled meanwhile (later
    Pythons skip those): a second traceback under the KeyboardInterrupt, about a chunk
    nobody waits for. Every other exception in every thread is reported as before."""
    import threading
    from concurrent.futures import InvalidStateError
    from concurrent.futures.process import _ExecutorManagerThread

    before = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not (
            isinstance(args.thread, _ExecutorManagerThread) and args.exc_type is InvalidStateError
        ):
            before(args)

    threading.excepthook = hook


@dataclass(frozen=True, slots=True)
class _Update:
    """Values shared after the workers started, as each chunk carries them."""

    number: int
    """Counts the updates: a worker unpickles ``blob`` once for each."""
    values: dict[str, Any]
    """Every value shared since the workers started."""
    blob: bytes
    """``values`` pickled, once for every chunk."""


@functools.cache
def _fork_context() -> multiprocessing.context.BaseContext:
    """The ``fork`` start method, with a process that closes its two pipes when the fork
    fails (Python's own leaves them open: a build that could not fork its workers
    leaked four descriptors)."""
    import multiprocessing.context
    import multiprocessing.popen_fork
    import multiprocessing.util

    class Popen(multiprocessing.popen_fork.Popen):
        def _launch(self, process_obj: Any) -> None:
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            try:
                self.pid = os.fork()
            except OSError:
                for fd in (parent_r, child_w, child_r, parent_w):
                    os.close(fd)
                raise
            if self.pid == 0:
                code = 1
                try:
                    os.close(parent_r)
                    os.close(parent_w)
                    code = process_obj._bootstrap(parent_sentinel=child_r)
                finally:
                    os._exit(code)
            os.close(child_w)
            os.close(child_r)
            self.finalizer = multiprocessing.util.Finalize(self, _close_fds, (parent_r, parent_w))
            self.sentinel = parent_r

    class ForkProcess(multiprocessing.context.ForkProcess):
        @staticmethod
        def _Popen(process_obj: Any) -> Popen:
            return Popen(process_obj)

    class Context(multiprocessing.context.ForkContext):
        Process = ForkProcess

    return Context()


def _close_fds(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers at once (the pool keeps no public handle on them before
    Python 3.14's ``kill_workers``)."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()


def _start_worker(shared: dict[str, Any], parent: int) -> None:
    """A worker's start: Ctrl-C ends it quietly, its parent's death ends it, and it holds
    what was shared before it was forked."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    _shared.clear()
    _shared.update(shared)


def _run(
    func: Callable[[T, dict[str, Any]], R], items: list[T], number: int, blob: bytes
) -> list[R]:
    """One chunk in a worker: ``func`` of each item, after the values shared since the
    worker started (``blob``, update ``number``) if it has not seen them yet."""
    global _seen
    if number != _seen:
        _shared.update(pickle.loads(blob))
        _seen = number
    return [func(item, _shared) for item in items]
