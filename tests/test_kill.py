"""Builds killed with SIGKILL at any moment leave every file whole, and the next run succeeds.

A few thousand generated articles switch between two versions (every feed differs); a
``feeds build`` process is killed at several points of its run. After each kill every
published file must parse and be byte for byte either the old or the new version; the
next complete run must exit 0, leave no temporary file and write what a cold build writes;
no worker process of a killed run may be left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import NOW, REPO, article, write_tree
from conftest import published_files as _published

from feeds.build import BuildOptions, build
from feeds.config import Config
from feeds.write import TMP_SUFFIX

ARTICLES = 2000
KILL_POINTS: tuple[float | None, ...] = (0.15, 0.4, 0.6, 0.75, 0.9, None)
"""Fractions of a full run's duration at which a run is killed; ``None``: as soon as the
first published file is replaced, whatever the machine's speed."""


def _version(v: int) -> dict[str, str | bytes]:
    """Every seventh article changes between versions: enough to change every feed."""
    return {
        f"{n // 100:02d}/{n:05d}.md": article(
            n=n,
            title=f"Article {n}, version {v}" if n % 7 == 0 else f"Article {n}",
            topics=[f"Topic {n % 15}", f"Topic {n % 4 + 15}"],
            provider={"name": f"Provider {n % 10}", "domain": f"p{n % 10}.example"},
            originalUrl=f"https://news.example.com/{n}",
            webUrl=f"https://news.example.com/{n}",
        )
        for n in range(ARTICLES)
    }


def _check_whole(path: str, data: bytes) -> None:
    if path.endswith(".json"):
        json.loads(data)
    elif path.endswith(".html"):
        assert data.rstrip().endswith(b"</html>"), path
    else:
        ET.fromstring(data)


def _kill_once_writing(run: subprocess.Popen[str], public: Path, timeout: float) -> None:
    files = [p for p in public.rglob("*") if p.is_file() and not p.name.startswith(".")]
    before = {p: p.stat().st_mtime_ns for p in files}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        if any(p.stat().st_mtime_ns != t for p, t in before.items()):
            break
    run.send_signal(signal.SIGKILL)


def _no_process_left_in(folder: Path) -> None:
    """Wait until no process (a worker of the killed build) runs in ``folder``; a worker
    left running fails the test after a minute (a bound for a hang, not a timing)."""
    deadline = time.monotonic() + 60
    while left := _running_in(folder):
        assert time.monotonic() < deadline, f"processes left running: {left}"
        time.sleep(0.01)


def _running_in(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != folder:
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def _start(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "build", "--quiet", "--content", "content",
         "--output", "public", "--cache", "cache"],
        cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_killed_builds_leave_every_feed_whole(tmp_path: Path) -> None:
    content = tmp_path / "content"
    versions = [_version(0), _version(1)]
    expected: list[dict[str, bytes]] = []
    durations: list[float] = []
    changes = [
        {rel: text for rel, text in files.items() if "version" in text} for files in versions
    ]
    write_tree(content, versions[0])
    for files in changes:  # complete runs: the first is cold, the second replaces every feed
        write_tree(content, files)
        started = time.monotonic()
        run = _start(tmp_path)
        assert run.communicate(timeout=120) == ("", "") and run.returncode == 0
        durations.append(time.monotonic() - started)
        expected.append(_published(tmp_path / "public"))
    assert set(expected[0]) == set(expected[1])
    assert all(expected[0][p] != expected[1][p] for p in expected[0] if p.endswith(".xml"))
    full_run = durations[1]

    current = 1
    caught_mid_write = 0
    for point in KILL_POINTS:
        current = 1 - current
        write_tree(content, changes[current])
        run = _start(tmp_path)
        if point is None:
            _kill_once_writing(run, tmp_path / "public", timeout=full_run * 3)
        else:
            time.sleep(full_run * point)
            run.send_signal(signal.SIGKILL)
        run.wait()
        _no_process_left_in(tmp_path)
        published = _published(tmp_path / "public")
        assert set(published) == set(expected[0]), point
        news = 0
        for path, data in published.items():
            _check_whole(path, data)
            assert data in (expected[0][path], expected[1][path]), (point, path)
            news += data == expected[current][path]
        caught_mid_write += 0 < news < len(published)

    # At least one kill landed while files were being replaced (old and new side by side).
    assert caught_mid_write >= 1
    final = _start(tmp_path)
    assert final.communicate(timeout=120) == ("", "")
    assert final.returncode == 0
    assert list((tmp_path / "public").rglob(f"*{TMP_SUFFIX}")) == []
    assert _published(tmp_path / "public") == expected[current]
    # ... which is what a cold build of that content writes.
    build(Config(), BuildOptions(content=content, output=tmp_path / "cold", now=NOW))
    assert _published(tmp_path / "cold") == expected[current]
