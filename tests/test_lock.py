"""One run at a time per output folder: waiting, giving up with exit code 3, stale locks."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import NOW, article, write_tree

import feeds.lock
from feeds.cli import EXIT_LOCKED, EXIT_OK, main
from feeds.errors import LockedError
from feeds.lock import LOCK_FILE, output_lock

HOLD = """
import sys, time
from pathlib import Path
from feeds.lock import output_lock
with output_lock(Path(sys.argv[1]), 0):
    print("held", flush=True)
    time.sleep(60)
"""


class _Clock:
    """A clock for ``feeds.lock`` that moves only when the lock sleeps: what a wait did,
    told without timing anything on a shared machine."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(feeds.lock, "time", fake)
    return fake


def test_a_second_holder_gives_up_at_once(tmp_path: Path, clock: _Clock) -> None:
    with output_lock(tmp_path, 0):
        match = r"another feeds build holds the lock.*--wait"
        with pytest.raises(LockedError, match=match), output_lock(tmp_path, 0):
            pass
    assert clock.slept == []


def test_a_second_holder_waits_for_a_bounded_time(tmp_path: Path, clock: _Clock) -> None:
    gave_up = r"gave up after 0\.3 s"
    with (
        output_lock(tmp_path, 0),
        pytest.raises(LockedError, match=gave_up),
        output_lock(tmp_path, 0.3),
    ):
        pass
    assert 0.3 <= sum(clock.slept) < 0.3 + feeds.lock.POLL_SECONDS + 1e-9


def test_a_waiting_run_gets_the_lock_when_the_first_ends(tmp_path: Path) -> None:
    released = threading.Event()

    def first() -> None:
        with output_lock(tmp_path, 0):
            held.set()
            time.sleep(0.3)
        released.set()

    held = threading.Event()
    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with output_lock(tmp_path, 10):
        assert released.is_set()
    thread.join()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockedError), output_lock(tmp_path, 0):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / LOCK_FILE).exists()  # the file stays; the lock died with the process
    with output_lock(tmp_path, 0):
        pass


def test_the_lock_file_is_never_written(tmp_path: Path) -> None:
    with output_lock(tmp_path, 0):
        pass
    stat = (tmp_path / LOCK_FILE).stat()
    time.sleep(0.01)
    with output_lock(tmp_path, 0):
        pass
    assert (tmp_path / LOCK_FILE).stat().st_mtime_ns == stat.st_mtime_ns
    assert stat.st_size == 0


def test_the_command_line_exits_3_with_a_clear_message(tmp_path: Path) -> None:
    write_tree(tmp_path / "content", {"a.md": article()})
    output = tmp_path / "public"
    argv = ["build", "--content", str(tmp_path / "content"), "--output", str(output)]
    argv += ["--no-cache"]
    with output_lock(output, 0):
        out, err = io.StringIO(), io.StringIO()
        assert main([*argv, "--wait", "0.2"], now=NOW, out=out, err=err) == EXIT_LOCKED
        assert out.getvalue() == ""
        assert err.getvalue() == (
            f"feeds: {output}: another feeds build holds the lock; "
            "gave up after 0.2 s (see --wait)\n"
        )
        assert not (output / "index.html").exists()
    assert main([*argv, "--quiet"], now=NOW, out=out, err=err) == EXIT_OK


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "1e9"])
def test_a_bad_wait_is_a_usage_error(tmp_path: Path, value: str) -> None:
    err = io.StringIO()
    assert main(["build", "--wait", value], now=NOW, out=io.StringIO(), err=err) == 2


def test_overlapping_command_line_runs_never_interleave(tmp_path: Path) -> None:
    """Two real processes on one output: one waits for the other, both succeed."""
    files = {f"{n}.md": article(n=n, topics=[f"T{n % 7}"]) for n in range(200)}
    write_tree(tmp_path / "content", files)
    argv = [sys.executable, "-m", "feeds", "build", "--content", "content", "--output", "public"]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    runs = [
        subprocess.Popen(
            [*argv, "--wait", "60", "--quiet"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], results
    assert all(out == err == "" for out, err in results)
    assert list(tmp_path.joinpath("public").rglob("*.feeds-tmp")) == []


def test_a_deleted_lock_file_does_not_let_a_second_run_in(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        (tmp_path / LOCK_FILE).unlink()
        with pytest.raises(LockedError), output_lock(tmp_path, 0.2):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with output_lock(tmp_path, 0):
        assert (tmp_path / LOCK_FILE).exists()


def test_a_lock_file_replaced_while_waiting_is_locked_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feeds.lock

    # Where a folder cannot be locked, the file alone must still hold: the file a waiting
    # run finally locks may have been deleted meanwhile, and a third run lock a new one.
    def no_folder_lock(fd: int, output: Path, wait: float, deadline: float) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(95, "Operation not supported")
        real(fd, output, wait, deadline)

    real = feeds.lock._flock
    monkeypatch.setattr(feeds.lock, "_flock", no_folder_lock)
    first = output_lock(tmp_path, 0)
    first.__enter__()
    stale = os.stat(tmp_path / LOCK_FILE).st_ino
    result: list[int] = []

    def second() -> None:
        with output_lock(tmp_path, 10):
            result.append(os.stat(tmp_path / LOCK_FILE).st_ino)

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.2)  # the second run waits on the first one's file
    (tmp_path / LOCK_FILE).unlink()
    with output_lock(tmp_path, 0):  # a third run: a new file, free
        fresh = os.stat(tmp_path / LOCK_FILE).st_ino
        first.__exit__(None, None, None)  # the second run gets the deleted file's lock...
        time.sleep(0.3)
        assert result == []  # ...sees it is not the file there now, and waits on that one
    thread.join(5)
    assert result == [fresh] and fresh != stale
