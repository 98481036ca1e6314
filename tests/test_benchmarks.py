"""The benchmark scripts run and measure what they say (their figures are for BENCHMARKS.md)."""

from __future__ import annotations

import dataclasses
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


def test_each_build_is_timed_between_two_cats_and_its_ratio_is_to_the_quicker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import run

    monkeypatch.setattr(run, "REPEATS", 2)
    monkeypatch.setattr(run.time, "sleep", lambda _: None)  # the racy window: files reread
    measured: list[tuple[str, float]] = []
    real = run.measure

    def measure(cmd: list[str], **kwargs: object) -> run.Run:
        result = real(cmd, **kwargs)  # type: ignore[arg-type]
        seconds = 1.0 + len(measured)  # each command takes a second longer than the last
        measured.append(("cat" if "xargs" in cmd else "build", seconds))
        return dataclasses.replace(result, seconds=seconds)

    monkeypatch.setattr(run, "measure", measure)
    result = run.bench_size(tmp_path, 600, 600, None)
    kinds = [kind for kind, _ in measured]
    # Warm-up and best of 3, then every build the report uses between two cats.
    assert kinds[:4] == ["cat"] * 4 and result.cat is not None and result.cat.seconds == 2.0
    keys = ["cold", "nochange", "edit", "edit-old", "edit-draft", "edit-future"]
    keys += ["edit-duplicate", "add", "delete", "rename"]
    assert list(result.ratios) == keys
    assert [len(result.ratios[key]) for key in keys] == [1] + [2] * 9
    for ratio in (r for key in keys for r in result.ratios[key]):
        # Command k took k seconds: the ratio says which build it was (the cat before it
        # is always the quicker of the two beside it).
        k = round(1 / (ratio - 1)) + 1
        assert ratio == pytest.approx(k / (k - 1))
        assert [kind for kind, _ in measured[k - 2 : k + 1]] == ["cat", "build", "cat"]
    assert len(result.cats) == 2 * 19 == kinds.count("cat") - 4
    [note] = [n for n in result.notes if n.startswith("one change, the newest article: ")]
    listed = ", ".join(f"{r:.2f}" for r in result.ratios["edit"])
    assert f"to the cat beside each: {listed}; last: " in note
    # The verdict follows the ratios beside the runs, not the first cat.
    edit = result.runs["edit"]
    assert run._cell(edit, 1000.0, 0.5, [0.4, 0.6, 0.45]) == f"{edit.seconds:.2f} s (0.45× cat) ✅"
    assert run._cell(edit, 0.001, 0.5, [0.52]).endswith("(0.52× cat) ❌")
    assert run._cell(edit, edit.seconds * 4, 0.5).endswith("(0.25× cat) ✅")
