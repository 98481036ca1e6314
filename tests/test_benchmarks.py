"""The benchmark scripts run and measure what they say (their figures are for BENCHMARKS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import floor
from benchmarks.generate import generate


@pytest.mark.parametrize("jobs", [1, 2])
def test_floor_reads_every_file_and_times_cat_beside_it(
    tmp_path: Path, jobs: int, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(tmp_path, 600, seed=3)
    files = sorted(tmp_path.rglob("*.md"))
    result = floor.measure(tmp_path, jobs)
    assert result.files == len(files) and result.jobs == jobs
    # Unusable files (the generator makes a few on purpose) are read but give no article.
    assert len(files) * 0.8 < result.articles <= len(files)
    assert result.read_seconds > 0 and result.cat_seconds > 0 and result.cpu_us_per_file > 0
    assert floor.main([str(tmp_path), "--jobs", str(jobs), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["files"] == len(files) and printed["ratio"] > 0


def test_every_everyday_change_is_found_and_undone_exactly(tmp_path: Path) -> None:
    from benchmarks import run

    corpus = tmp_path / "corpus"
    generate(corpus, 600, seed=3)

    def files() -> dict[str, bytes]:
        return {p.relative_to(corpus).as_posix(): p.read_bytes() for p in corpus.rglob("*.md")}

    before = files()
    changes = run.everyday_changes(corpus, tmp_path / "no-output", 600)
    assert [key for key, _, _ in changes] == [
        "edit",
        "edit-old",
        "edit-draft",
        "edit-future",
        "edit-duplicate",
        "add",
        "delete",
        "rename",
    ]
    for key, _, change in changes:
        undo = change(corpus)
        assert files() != before, key
        if key == "add":  # a usable article under a new URL, quoted or not
            (added,) = set(files()) - set(before)
            assert b'-added/"\n' in files()[added] or b"-added/\n" in files()[added]
        undo()
        assert files() == before, key


def test_the_cold_build_is_the_median_of_cold_runs_each_from_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import run

    report = tmp_path / "report.md"
    argv = ["--sizes", "60", "--work", str(tmp_path), "--output", str(report)]
    argv += ["--no-hugo", "--yaml-count", "0", "--cold-only", "--cold-runs", "3"]
    assert run.main(argv) == 0
    text = report.read_text(encoding="utf-8")
    assert "(OUT and any cache removed first; median of 3)" in text
    [line] = [line for line in text.splitlines() if line.startswith("- 60: cold: ")]
    times = sorted(float(t) for t in line.removeprefix("- 60: cold: ").split(" s")[0].split(", "))
    assert len(times) == 3
    row = next(line for line in text.splitlines() if line.startswith("| 60 | "))
    assert f"| {times[1]:.2f} s (" in row  # the times table shows the median of the three
    # The run shown began from nothing: every file read, none from a cache.
    assert "(60 read, 0 from cache)" in text
    capsys.readouterr()
