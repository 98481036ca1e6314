"""``--quiet`` under cron: each problem printed once, when its file appears or changes."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NOW, REPO, article, write_tree

import feeds.cache
from feeds.cli import EXIT_LOCKED, EXIT_OK, EXIT_PROBLEMS, main
from feeds.lock import output_lock
from feeds.reported import _named_files
from feeds.sources import scan

BAD = "content/bad.md:5: publishedDateTime: not a date: 'soon'"
BAD_EDITED = "content/bad.md:5: publishedDateTime: not a date: 'later'"
UNTITLED = "content/untitled.md:1: title: missing"
DUPLICATE = (
    "content/dup-a.md: warning: id: same article (URL https://news.example.com/dup) "
    "as content/dup-b.md, which is kept"
)


@pytest.fixture(autouse=True)
def _site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    files: dict[str, str | bytes] = {f"{n}.md": article(n=n) for n in range(4)}
    files["bad.md"] = article(n=9, publishedDateTime="soon")
    files["untitled.md"] = article(n=10, title=None)
    files["dup-a.md"] = _duplicate(11)
    files["dup-b.md"] = _duplicate(12)
    write_tree(tmp_path / "content", files)


def _duplicate(n: int, title: str = "Twice") -> str:
    url = "https://news.example.com/dup"
    return article(n=n, title=title, originalUrl=url, webUrl=url)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def problems(err: str) -> list[str]:
    return sorted(err.splitlines())


@pytest.mark.parametrize("cache", [(), ("--no-cache",)])
def test_quiet_prints_each_problem_once(tmp_path: Path, cache: tuple[str, ...]) -> None:
    code, out, err = run("build", "--quiet", *cache)
    assert (code, out) == (EXIT_PROBLEMS, "")
    assert problems(err) == sorted([BAD, UNTITLED, DUPLICATE])
    # The same problems of the same files: nothing to say, and errors are still outstanding.
    assert run("build", "--quiet", *cache) == (EXIT_PROBLEMS, "", "")
    assert run("build", "--quiet", *cache) == (EXIT_PROBLEMS, "", "")

    # An edited broken file: exactly its problems.
    write_tree(tmp_path / "content", {"bad.md": article(n=9, publishedDateTime="later")})
    assert run("build", "--quiet", *cache) == (EXIT_PROBLEMS, "", BAD_EDITED + "\n")
    assert run("build", "--quiet", *cache) == (EXIT_PROBLEMS, "", "")

    # Fixed: nothing to print; the other error keeps the exit code at 1 until it is fixed.
    write_tree(tmp_path / "content", {"bad.md": article(n=9)})
    assert run("build", "--quiet", *cache) == (EXIT_PROBLEMS, "", "")
    write_tree(tmp_path / "content", {"untitled.md": article(n=10)})
    assert run("build", "--quiet", *cache) == (EXIT_OK, "", "")  # a warning is not an error

    # A duplicate is the same while both of its files are: an edit of either reports it again.
    write_tree(tmp_path / "content", {"dup-b.md": _duplicate(12, title="Edited")})
    assert run("build", "--quiet", *cache) == (EXIT_OK, "", DUPLICATE + "\n")
    assert run("build", "--quiet", *cache) == (EXIT_OK, "", "")

    # Without --quiet, and with check, every outstanding problem is listed every time.
    code, _, err = run("build", *cache)
    assert (code, err) == (EXIT_OK, DUPLICATE + "\n")
    code, _, err = run("check", "--quiet", *cache)
    assert (code, err) == (EXIT_OK, DUPLICATE + "\n")


def test_a_problem_that_returns_is_reported_again(tmp_path: Path) -> None:
    assert run("build", "--quiet")[0] == EXIT_PROBLEMS
    write_tree(tmp_path / "content", {"bad.md": article(n=9)})
    assert run("build", "--quiet") == (EXIT_PROBLEMS, "", "")
    write_tree(tmp_path / "content", {"bad.md": article(n=9, publishedDateTime="soon")})
    assert run("build", "--quiet") == (EXIT_PROBLEMS, "", BAD + "\n")


def test_non_quiet_builds_list_every_problem(tmp_path: Path) -> None:
    run("build", "--quiet")
    for argv in (("build",), ("check",), ("build", "--log-format", "json")):
        code, _, err = run(*argv)
        assert code == EXIT_PROBLEMS and len(err.splitlines()) == 3, argv


def test_a_held_lock_is_silent_under_quiet(tmp_path: Path) -> None:
    run("build", "--quiet")
    with output_lock(tmp_path / "public", 0):
        assert run("build", "--quiet") == (EXIT_LOCKED, "", "")
        code, _, err = run("build")
        assert code == EXIT_LOCKED and "another feeds build holds the lock" in err


def test_the_readme_cron_line_is_silent_the_second_time(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    [line] = re.findall(r"^\*/5 .* && \.venv/bin/feeds (build .*)$", readme, re.MULTILINE)
    assert line == "build --quiet --wait 240"
    command = [sys.executable, "-m", "feeds", *line.split()]

    def cron() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)

    first = cron()
    assert (first.returncode, first.stdout) == (EXIT_PROBLEMS, "")
    assert len(first.stderr.splitlines()) == 3, first.stderr  # problems dated now: real clock
    second = cron()
    assert (second.returncode, second.stdout, second.stderr) == (EXIT_PROBLEMS, "", "")


def test_a_problem_names_files_by_their_longest_name_whatever_follows_it(tmp_path: Path) -> None:
    names = ["a.md", "a.md.md", "b c.md", "d,e.md", "f/g.md"]
    content = write_tree(tmp_path / "content", {name: "x" for name in names})
    found = scan(content)
    prefix = found.sources.prefix
    text = (
        f"{prefix}a.md.md:3: id: same article as {prefix}b c.md, {prefix}d,e.md "
        f"({prefix}f/g.md); {prefix}a.md and {prefix}none.md"
    )
    expected = ["a.md.md", "b c.md", "d,e.md", "f/g.md", "a.md"]
    for index in (False, True):  # found by a search of the folder's files, then by the index
        if index:
            found.index_of()
        named = _named_files(text, prefix, found)
        assert named == [(rel, found.rels.index(rel)) for rel in expected]
        named = _named_files(f"{prefix}a.mdx {prefix}a.md", prefix, found)
        assert named == [("a.md", found.rels.index("a.md"))]
