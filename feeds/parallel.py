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


def split_map(
    func: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    jobs: int,
    *,
    at_least: int = 4000,
) -> list[R]:
    """``func(items)`` with the second half of ``items`` done by one forked child process.

    For short system-call-bound work (listing and ``stat`` of every file), where a pool
    costs more than it saves; only with ``jobs`` > 1 and ``at_least`` items. ``func``
    must return marshal-able values (numbers, strings, lists, tuples) and ``func`` of the
    two halves must together be ``func`` of the whole.
    """
    if jobs <= 1 or len(items) < at_least:
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
    second: list[R] = marshal.loads(data)
    return first + second
