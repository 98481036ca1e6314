"""Every path gives the same bytes: serial or parallel, cold, warm or incremental."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NOW, REPO
from conftest import published_files as _files

import feeds.cache
import feeds.parallel
import feeds.sources
from benchmarks.generate import generate
from feeds.build import BuildOptions, BuildResult, build
from feeds.config import Config
from feeds.errors import BuildError
from feeds.parallel import AHEAD, Workers


@pytest.fixture(autouse=True)
def _small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Go parallel (worker processes, split stats) even for a test-sized corpus."""
    monkeypatch.setattr(feeds.parallel, "PARALLEL_MIN", 10)
    monkeypatch.setattr(feeds.sources, "STAT_BLOCK", 50)
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)


def _build(content: Path, output: Path, *, jobs: int, cache: Path | None) -> BuildResult:
    options = BuildOptions(content=content, output=output, now=NOW, jobs=jobs, cache=cache)
    return build(Config(items_per_feed=5), options)


def test_serial_parallel_cold_warm_and_incremental_builds_write_the_same(tmp_path: Path) -> None:
    content = tmp_path / "content"
    generate(content, 400, seed=11)
    serial = _files_of_build(content, tmp_path / "serial", jobs=1, cache=None)
    assert len(serial) > 100
    parallel_cold = _files_of_build(content, tmp_path / "parallel", jobs=2, cache=None)
    assert parallel_cold == serial
    cache = tmp_path / "cache"
    out = tmp_path / "cached"
    first = _build(content, out, jobs=2, cache=cache)
    assert first.files_reread == 400 and _files(out) == serial
    warm = _build(content, out, jobs=2, cache=cache)
    assert warm.files_reread == 0 and warm.report is not None and warm.report.written == ()
    # Change a few files (the newest articles' folders included) and add one.
    files = sorted(content.rglob("*.md"))
    for path in files[::40]:
        path.write_bytes(path.read_bytes().replace(b'\ntitle: "', b'\ntitle: "Changed: ', 1))
    shutil.copy(files[0], files[0].with_name("added.md"))
    (files[0].with_name("added.md")).write_bytes(
        files[0].read_bytes().replace(b"-0/", b"-added/").replace(b"-1/", b"-added/")
    )
    incremental = _build(content, out, jobs=2, cache=cache)
    assert incremental.files_reread == len(files[::40]) + 1
    assert _files(out) == _files_of_build(content, tmp_path / "serial-2", jobs=1, cache=None)


def _files_of_build(
    content: Path, output: Path, *, jobs: int, cache: Path | None
) -> dict[str, bytes]:
    _build(content, output, jobs=jobs, cache=cache)
    return _files(output)


# -- the worker processes themselves ---------------------------------------------------


def _square(item: int, shared: dict[str, object]) -> tuple[int, int, object]:
    return item, item * item, shared.get("mark")


def _echo(item: str, shared: dict[str, object]) -> str:
    return item[::-1]


def _fail_at_7(item: int, shared: dict[str, object]) -> int:
    if item == 7:
        raise ValueError(f"item {item} is bad")
    return item


def _die_at_7(item: int, shared: dict[str, object]) -> int:
    if item == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def _pid(item: int, shared: dict[str, object]) -> int:
    return os.getpid()


def test_workers_give_the_results_of_a_serial_map_in_order() -> None:
    items = list(range(1000))
    serial = [_square(i, {}) for i in items]
    with Workers(2) as workers:
        for chunk in (1, 3, 64, 256, 2000):
            assert list(workers.map(_square, items, chunk=chunk, serial_below=1)) == serial
        workers.share(mark="x")
        marks = [mark for *_, mark in workers.map(_square, items, chunk=7, serial_below=1)]
        assert marks == ["x"] * len(items)
    assert list(Workers(1).map(_square, items)) == serial


def test_workers_draw_an_iterator_while_they_work() -> None:
    drawn: list[int] = []

    def items() -> Iterator[int]:
        for i in range(100):
            drawn.append(i)
            yield i

    with Workers(2) as workers:
        results = workers.map(_square, items(), chunk=3)
        first = next(results)
        assert first == _square(0, {})
        # AHEAD chunks a worker were sent, and one more when the first came back: no more.
        assert len(drawn) == (2 * AHEAD + 1) * 3
        assert [first, *results] == [_square(i, {}) for i in range(100)]
        assert list(workers.map(_square, iter(range(5)), chunk=2)) == [
            _square(i, {}) for i in range(5)
        ]
    assert list(Workers(1).map(_square, items())) == [_square(i, {}) for i in range(100)]


def test_workers_take_tasks_and_results_larger_than_their_pipes() -> None:
    # Tasks of 1 MB and results of 1 MB a chunk, with chunks waiting on both sides: any
    # write that waited for a read which never comes would hang here.
    items = [f"{i:07d}" * 150_000 for i in range(24)]
    with Workers(2) as workers:
        got = list(workers.map(_echo, items, chunk=1, serial_below=1))
    assert got == [item[::-1] for item in items]


def _slowly(results: Iterator[str], every: int) -> list[str]:
    got = []
    for n, result in enumerate(results):
        if n % every == 0:
            time.sleep(0.002)  # the workers run ahead
        got.append(result)
    return got


def test_workers_that_run_ahead_of_a_slow_reader_give_every_result() -> None:
    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the map waits for ever")

    items = [f"{i:06d}" * 2_500 for i in range(400)]
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with Workers(2) as workers:
            got = _slowly(workers.map(_echo, items, chunk=1, serial_below=1), 7)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert got == [item[::-1] for item in items]


def test_an_exception_in_a_worker_is_raised_where_the_results_are_read() -> None:
    with Workers(2) as workers:
        workers.share(mark="kept")
        results = workers.map(_fail_at_7, list(range(20)), chunk=2, serial_below=1)
        with pytest.raises(ValueError, match="item 7 is bad"):
            list(results)
        # Left part-way: the next map has fresh workers, no stale results, and the
        # values shared before.
        assert list(workers.map(_square, list(range(50)), chunk=3, serial_below=1)) == [
            (i, i * i, "kept") for i in range(50)
        ]


def test_a_worker_that_dies_is_an_error_not_a_hang() -> None:
    with Workers(2) as workers:
        with pytest.raises(BuildError, match="stopped"):
            list(workers.map(_die_at_7, list(range(40)), chunk=2, serial_below=1))
        assert list(workers.map(_square, [1, 2, 3], chunk=1, serial_below=1)) == [
            _square(i, {}) for i in (1, 2, 3)
        ]


def test_workers_are_forked_once_and_a_map_left_part_way_leaves_nothing_behind() -> None:
    with Workers(2) as workers:
        first = workers.map(_pid, list(range(40)), chunk=4, serial_below=1)
        pids = set(itertools.islice(first, 40))  # the last item, but not StopIteration
        del first
        stopped = workers.map(_square, list(range(400)), chunk=4, serial_below=1)
        next(stopped)
        stopped.close()  # left part-way: its results on their way are not the next map's
        workers.share(mark="after")
        assert list(workers.map(_square, list(range(40)), chunk=4, serial_below=1)) == [
            (i, i * i, "after") for i in range(40)
        ]
        pids |= set(workers.map(_pid, list(range(40)), chunk=4, serial_below=1))
        assert 1 <= len(pids) <= 2 and os.getpid() not in pids  # the same two workers
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_workers_that_cannot_be_forked_leave_the_work_to_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    open_before = sorted(os.listdir("/proc/self/fd"))
    with Workers(2) as workers:
        assert set(workers.map(_pid, list(range(30)), chunk=4, serial_below=1)) == {os.getpid()}
    assert sorted(os.listdir("/proc/self/fd")) == open_before  # no pipe left open


def test_a_build_with_one_job_forks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked with --jobs 1")

    content = tmp_path / "content"
    generate(content, 30, seed=3)
    monkeypatch.setattr(os, "fork", no_fork)
    assert _build(content, tmp_path / "out", jobs=1, cache=tmp_path / "cache").files_reread == 30


_STOPPED_SCRIPT = """
import os, sys, time
from feeds.parallel import Workers

def slow(item, shared):
    time.sleep(0.01)
    return os.getpid()

with Workers(2) as workers:
    seen = set()
    for pid in workers.map(slow, list(range(100_000)), chunk=1, serial_below=1):
        if pid not in seen:
            seen.add(pid)
            if len(seen) == 2:
                print(*seen, flush=True)
"""


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_workers_end_with_their_build_however_it_is_stopped(how: str) -> None:
    """Ctrl-C (SIGINT to the whole process group), or SIGTERM or SIGKILL to the parent
    alone: no worker is left running, and only the parent says anything."""
    run = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_SCRIPT],
        env=os.environ | {"PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert run.stdout is not None
    pids = [int(pid) for pid in run.stdout.readline().split()]
    assert len(pids) == 2 and not any(_gone(pid) for pid in pids)
    if how == "ctrl-c":
        os.killpg(run.pid, signal.SIGINT)
    else:
        run.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode != 0
    deadline = time.monotonic() + 60  # a bound for a hang, not a timing
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"workers left running after {how}"
        time.sleep(0.01)
    assert stderr.count("Traceback") <= (how == "ctrl-c"), stderr
