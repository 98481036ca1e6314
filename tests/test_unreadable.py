"""Folders the build cannot read and symbolic links that loop or lead out: reported, never
a crash, and never a reason to unpublish what the last run published."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NOW, REPO, article, write_tree

import feeds.cache
from feeds.cli import EXIT_OK, EXIT_PROBLEMS, main

SETPRIV = shutil.which("setpriv")


def unprivileged() -> list[str]:
    """A command prefix under which permission bits apply, as they do for an operator:
    root ignores them, so it runs without the capabilities that let it."""
    if os.geteuid() != 0:
        return []
    if SETPRIV is None:
        pytest.skip("running as root without setpriv: permission bits cannot be tested")
    caps = "-dac_override,-dac_read_search"
    probe = subprocess.run(
        [SETPRIV, f"--inh-caps={caps}", f"--bounding-set={caps}", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return [SETPRIV, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def feeds_command(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*unprivileged(), sys.executable, "-m", "feeds", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (hidden ones too) with its bytes and mtime."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    write_tree(
        tmp_path / "content",
        {
            "a.md": article(n=1, topics=["AI"]),
            "sub/b.md": article(n=2, topics=["Space"]),
            "sub/deep/c.md": article(n=3, topics=["Space"]),
        },
    )
    yield tmp_path
    for folder in (tmp_path / "content", tmp_path / "content" / "sub"):
        folder.chmod(0o755)  # so that pytest can remove it


def without_record(files: dict[str, tuple[bytes, int]]) -> dict[str, tuple[bytes, int]]:
    return {k: v for k, v in files.items() if k != REPORTED}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("folder", ["content/sub", "content"])
def test_an_unreadable_folder_changes_nothing(site: Path, folder: str) -> None:
    first = feeds_command(site, "build", "--quiet")
    assert (first.returncode, first.stderr) == (EXIT_OK, "")
    output, cache = snapshot(site / "public"), snapshot(site / ".feeds-cache")
    assert "topics/space/rss.xml" in output
    (site / folder).chmod(0)
    result = feeds_command(site, "build", "--quiet")
    assert (result.returncode, result.stdout) == (EXIT_PROBLEMS, "")
    assert result.stderr == f"{folder}: cannot read folder: Permission denied\n"
    # Every feed and the manifest as they were; the record of reported problems notes it.
    assert without_record(snapshot(site / "public")) == without_record(output)
    assert snapshot(site / ".feeds-cache") == cache
    quiet = feeds_command(site, "build", "--quiet")  # reported once: cron mails it once
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (EXIT_PROBLEMS, "", "")
    loud = feeds_command(site, "build")
    assert loud.returncode == EXIT_PROBLEMS
    assert f"{folder}: cannot read folder: Permission denied\n" in loud.stderr
    assert without_record(snapshot(site / "public")) == without_record(output)
    checked = feeds_command(site, "check", "--quiet")
    assert checked.returncode == EXIT_PROBLEMS
    assert f"{folder}: cannot read folder: Permission denied\n" in checked.stderr
    (site / folder).chmod(0o755)
    again = feeds_command(site, "build", "--quiet")
    assert (again.returncode, again.stderr) == (EXIT_OK, "")
    assert snapshot(site / "public").keys() == output.keys()


def links(site: Path) -> None:
    content = site / "content"
    (content / "loop-a").symlink_to("loop-b")
    (content / "loop-b").symlink_to("loop-a")
    (content / "sub" / "deep" / "self.md").symlink_to("self.md")
    (content / "sub" / "deep" / "up").symlink_to("../deep/up")
    (site / "elsewhere").mkdir()
    (site / "elsewhere" / "x.md").write_text(article(n=9))
    (content / "sub" / "out").symlink_to(site / "elsewhere")
    (content / "sub" / "out.md").symlink_to(site / "elsewhere" / "x.md")


REPORTED = ".feeds-reported.json"
WARNINGS = [
    "content/loop-a: warning: symlink loop, skipped",
    "content/loop-b: warning: symlink loop, skipped",
    "content/sub/deep/self.md: warning: symlink loop, skipped",
    "content/sub/deep/up: warning: symlink loop, skipped",
    "content/sub/out: warning: link points outside the content folder, skipped",
    "content/sub/out.md: warning: link points outside the content folder, skipped",
]


def test_symlink_loops_and_links_out_are_skipped_with_a_warning(site: Path) -> None:
    assert run("build", "--quiet", "--no-cache")[0] == EXIT_OK
    before = snapshot(site / "public")
    links(site)
    for command in ("build", "check"):
        code, out, err = run(command, "--quiet")
        assert (code, out) == (EXIT_OK, "")
        assert err.splitlines() == WARNINGS
    # Every feed as it was; only the record of reported problems gained the warnings.
    assert {k: v[0] for k, v in snapshot(site / "public").items() if k != REPORTED} == {
        k: v[0] for k, v in before.items() if k != REPORTED
    }


def test_serve_survives_symlink_loops_and_removes_its_folder(site: Path) -> None:
    from feeds.serve import BuildOutcome, Preview, PreviewOptions

    links(site)
    outcomes: list[BuildOutcome] = []
    options = PreviewOptions(content=Path("content"), config=None, port=0)
    with Preview(options, on_build=outcomes.append, debounce_ms=100) as preview:
        output = preview.output
        assert output.is_dir() and len(outcomes) == 1
        (site / "content" / "sub" / "deep" / "again").symlink_to("again")  # while watching
        deadline = time.monotonic() + 20
        while len(outcomes) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not output.exists()
    assert len(outcomes) >= 2, "no rebuild after the new loop: the watcher died"
    for outcome in outcomes:
        assert not isinstance(outcome, Exception)
    assert [str(p) for p in outcomes[0].problems] == WARNINGS
    assert "content/sub/deep/again: warning: symlink loop, skipped" in map(
        str, outcomes[-1].problems
    )
