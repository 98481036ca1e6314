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


def test_entries_parked_between_feeds_give_the_same_bytes_in_a_file_or_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import feeds.build
    import feeds.render

    content = tmp_path / "content"
    generate(content, 300, seed=5)
    parked: list[int] = []
    real_park = feeds.build._Parking.park

    def counting_park(self: feeds.build._Parking, texts: tuple[str, ...]) -> int:
        parked.append(len(texts))
        return real_park(self, texts)

    monkeypatch.setattr(feeds.build._Parking, "park", counting_park)
    monkeypatch.setattr(feeds.build, "PARKING_MEMORY", 20_000)  # a few in memory, most in a file
    in_a_file = _files_of_build(content, tmp_path / "file", jobs=2, cache=None)
    assert len(parked) > 20  # articles shared by a topic feed and a later provider feed
    in_file_count = len(parked)

    def no_temporary_file(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(feeds.build.tempfile, "TemporaryFile", no_temporary_file)
    in_memory = _files_of_build(content, tmp_path / "memory", jobs=1, cache=None)
    assert len(parked) == 2 * in_file_count
    assert in_memory == in_a_file

    # Without any parking, entries stay in memory between feeds: the same bytes again.
    real_stream = feeds.render.render_stream

    def unparked(*args: object, **kwargs: object) -> object:
        kwargs["parking"] = None
        return real_stream(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(feeds.build, "render_stream", unparked, raising=False)
    monkeypatch.setattr(feeds.render, "render_stream", unparked)
    assert _files_of_build(content, tmp_path / "held", jobs=1, cache=None) == in_a_file
    assert len(parked) == 2 * in_file_count  # nothing parked this time
