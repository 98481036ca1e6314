"""Every path gives the same bytes: serial or parallel, cold, warm or incremental."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import NOW

import feeds.cache
import feeds.parallel
from benchmarks.generate import generate
from feeds.build import BuildOptions, BuildResult, build
from feeds.config import Config


@pytest.fixture(autouse=True)
def _small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Go parallel (worker processes, split stats) even for a test-sized corpus."""
    monkeypatch.setattr(feeds.parallel, "PARALLEL_MIN", 10)
    monkeypatch.setattr(feeds.parallel, "SPLIT_MIN", 10)
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)


def _build(content: Path, output: Path, *, jobs: int, cache: Path | None) -> BuildResult:
    options = BuildOptions(content=content, output=output, now=NOW, jobs=jobs, cache=cache)
    return build(Config(items_per_feed=5), options)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


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
