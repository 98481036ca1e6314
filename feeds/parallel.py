"""Work spread over forked worker processes, results in order: the only place that forks.

Workers are forked, so they start with everything the parent held (the configuration,
the list of sources, every article's brief) and only the items and the results cross
between processes. Whatever ``jobs`` is, the results and their order are the same.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Joined = TypeVar("Joined", list[Any], bytes)
"""What :func:`split_map` joins: lists, or bytes."""

_task: Callable[[Any], Any] | None = None
"""The function the workers of the current pool apply (set before they are forked)."""


def _run(chunk: list[Any]) -> list[Any]:
    assert _task is not None
    return [_task(item) for item in chunk]


def ordered_map(
    func: Callable[[T], R],
    items: Sequence[T],
    jobs: int,
    *,
    chunk: int = 256,
    serial_below: int = 2000,
) -> Iterator[R]:
    """``map(func, items)``, computed in ``jobs`` forked processes when there is enough to do.

    ``func`` may be a closure: workers are forked after it is set, never pickled.
    """
    if jobs <= 1 or len(items) < serial_below:
        yield from map(func, items)
        return
    global _task
    _task = func
    try:
        import multiprocessing  # 5 ms: only when there is enough to do

        chunks = (list(items[i : i + chunk]) for i in range(0, len(items), chunk))
        context = multiprocessing.get_context("fork")
        with context.Pool(processes=jobs) as pool:
            # A window of chunks in flight, not Pool.imap: imap lets finished results pile
            # up without limit when the consumer is slower than the workers.
            window: deque[Any] = deque(
                pool.apply_async(_run, (c,)) for c in itertools.islice(chunks, jobs * WINDOW)
            )
            while window:
                results = window.popleft().get()
                for c in itertools.islice(chunks, 1):
                    window.append(pool.apply_async(_run, (c,)))
                yield from results
    finally:
        _task = None


WINDOW = 4
"""Chunks in flight per worker."""
PARALLEL_MIN = 2000
"""Fewer items than this are done in this process: starting workers would cost more."""
SPLIT_MIN = 4000
"""Fewer items than this are not split by :func:`split_map`."""

_shared: dict[str, Any] = {}
"""What :meth:`Workers.share` gave this process (a worker, or the parent when serial)."""


def _share(values: dict[str, Any]) -> None:
    _shared.update(values)


def _apply(func: Callable[[Any, dict[str, Any]], Any], chunk: list[Any]) -> list[Any]:
    return [func(item, _shared) for item in chunk]


class Workers:
    """A build's worker processes, forked once when first needed and used by both passes.

    Forked early, while the build holds little: a worker forked later starts with the
    parent's whole heap, and every page either side then writes is copied. Tasks are
    module-level functions ``func(item, shared)``; ``shared`` is what :meth:`share` sent
    (once per worker, not with every task). Results come in order, whatever ``jobs`` is.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pools: list[Any] = []

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(failed=exc[0] is not None)

    def close(self, *, failed: bool = False) -> None:
        """Let the workers go (their memory with them); the next :meth:`map` forks anew."""
        for pool in self._pools:
            pool.terminate() if failed else pool.close()
            pool.join()
        self._pools = []
        _shared.clear()

    def share(self, **values: Any) -> None:
        """Give every worker (and this process, for work done here) these values."""
        _shared.update(values)
        for pool in self._pools:
            pool.apply(_share, (values,))

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
        if not self._pools:
            import multiprocessing  # 5 ms: only when there is enough to do

            context = multiprocessing.get_context("fork")
            self._pools = [context.Pool(processes=1) for _ in range(self.jobs)]
        pools = itertools.cycle(self._pools)
        chunks = (list(items[i : i + chunk]) for i in range(0, len(items), chunk))
        window: deque[Any] = deque(
            next(pools).apply_async(_apply, (func, c))
            for c in itertools.islice(chunks, self.jobs * WINDOW)
        )
        while window:
            results = window.popleft().get()
            for c in itertools.islice(chunks, 1):
                window.append(next(pools).apply_async(_apply, (func, c)))
            yield from results


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
