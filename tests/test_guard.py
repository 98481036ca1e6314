"""The removal guard: an empty, vanished or unreadable content folder never wipes the site."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from conftest import NOW, article, write_tree

import feeds.cache
from feeds.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main

TOPICS = [f"T{n}" for n in range(6)]


@pytest.fixture(autouse=True)
def _site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight articles in six topics from two providers: 8 topic and provider feeds."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    write_tree(tmp_path / "content", {f"{n}.md": _article(n, TOPICS[n % 6]) for n in range(8)})
    assert run("build", "--quiet") == (EXIT_OK, "", "")


def _article(n: int, topic: str) -> str:
    domain = f"p{n % 2}.example"
    return article(n=n, topics=[topic], provider={"name": domain, "domain": domain})


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def snapshot(*folders: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folders``, dotfiles included: its bytes and its mtime."""
    return {
        str(p): (p.read_bytes(), p.stat().st_mtime_ns)
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def state(tmp_path: Path) -> dict[str, tuple[bytes, int]]:
    """The output folder (manifest and records included) and the cache."""
    return snapshot(tmp_path / "public", tmp_path / ".feeds-cache")


def refused(err: str, removed: int, of: int = 8) -> bool:
    last = err.splitlines()[-1]
    return (
        last.startswith(f"feeds: refusing to remove {removed} of the {of} topic and provider")
        and last.endswith("; run with --allow-removal to remove them")
        and "nothing was changed" in last
    )


def test_an_empty_content_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    before = state(tmp_path)
    code, out, err = run("build", "--quiet", "--content", "empty")
    assert (code, out) == (EXIT_PROBLEMS, "")
    assert len(err.splitlines()) == 1 and refused(err, 8), err
    assert "(providers/p0.example, providers/p1.example, topics/t0, and 5 more)" in err
    assert state(tmp_path) == before
    code, out, err = run("build", "--content", "empty")  # the summary says why
    assert code == EXIT_PROBLEMS and refused(err, 8)
    assert "0 articles published" in out and "nothing written" in out
    assert state(tmp_path) == before
    code, out, err = run("build", "--content", "empty", "--allow-removal")
    assert (code, err) == (EXIT_OK, "")
    assert "32 removed" in out  # 8 groups: 3 feeds and a page each
    assert not (tmp_path / "public" / "topics").exists()
    assert (tmp_path / "public" / "rss.xml").is_file()


def test_a_content_folder_emptied_in_place_is_refused(tmp_path: Path) -> None:
    for path in (tmp_path / "content").iterdir():
        path.unlink()
    before = state(tmp_path)
    code, _, err = run("build", "--quiet")
    assert code == EXIT_PROBLEMS and refused(err, 8)
    assert state(tmp_path) == before
    assert run("build", "--quiet", "--allow-removal") == (EXIT_OK, "", "")
    assert not (tmp_path / "public" / "providers").exists()


def test_content_whose_every_file_fails_to_read_is_refused(tmp_path: Path) -> None:
    for path in (tmp_path / "content").iterdir():
        path.write_text("---\ntitle: [unclosed\n---\n")
    before = state(tmp_path)
    code, _, err = run("build", "--quiet")
    assert code == EXIT_PROBLEMS
    lines = err.splitlines()
    assert len(lines) == 9 and refused(err, 8)  # each file's problem, then the refusal
    assert all(line.startswith("content/") for line in lines[:8])
    assert state(tmp_path) == before
    code, _, err = run("build", "--quiet", "--allow-removal")
    assert code == EXIT_PROBLEMS and "refusing" not in err
    assert not (tmp_path / "public" / "topics").exists()


def test_a_change_that_drops_most_topics_is_refused(tmp_path: Path) -> None:
    for n in range(8):  # every article moves to topic T0: five topic feeds would go
        write_tree(tmp_path / "content", {f"{n}.md": _article(n, "T0")})
    before = state(tmp_path)
    code, _, err = run("build", "--quiet")
    assert code == EXIT_PROBLEMS and refused(err, 5)
    assert "(topics/t1, topics/t2, topics/t3, and 2 more)" in err
    assert state(tmp_path) == before
    code, out, err = run("build", "--allow-removal")
    assert (code, err) == (EXIT_OK, "")
    removed = [line for line in out.splitlines() if line.startswith("removed ")]
    assert removed == [
        f"removed topics/t{n}/{name}"
        for n in range(1, 6)
        for name in ("atom.xml", "feed.json", "index.html", "rss.xml")
    ]
    assert sorted(os.listdir(tmp_path / "public" / "topics")) == ["t0"]


def test_removing_a_few_feeds_needs_no_flag(tmp_path: Path) -> None:
    for n in (1, 7):  # topic T1 goes: 1 of 8 feeds
        (tmp_path / "content" / f"{n}.md").unlink()
    code, out, _ = run("build")
    assert code == EXIT_OK and "removed topics/t1/rss.xml" in out


def test_the_share_is_configurable(tmp_path: Path) -> None:
    for n in (1, 7):
        (tmp_path / "content" / f"{n}.md").unlink()
    (tmp_path / "feeds.yaml").write_text("max_removed_share: 0\n")
    before = state(tmp_path)
    code, _, err = run("build", "--quiet")
    assert code == EXIT_PROBLEMS and refused(err, 1) and "max_removed_share (0)" in err
    assert state(tmp_path) == before
    (tmp_path / "feeds.yaml").write_text("max_removed_share: 1\n")
    for path in (tmp_path / "content").iterdir():
        path.unlink()
    assert run("build", "--quiet") == (EXIT_OK, "", "")  # 1 turns the guard off
    (tmp_path / "feeds.yaml").write_text("max_removed_share: 2\n")
    code, _, err = run("build", "--quiet")
    assert code == EXIT_USAGE and "max_removed_share: must be a number from 0 to 1" in err


def test_a_missing_content_folder_is_a_usage_error(tmp_path: Path) -> None:
    shutil.move(tmp_path / "content", tmp_path / "elsewhere")
    before = state(tmp_path)
    for quiet in ((), ("--quiet",)):
        code, out, err = run("build", *quiet)
        assert (code, out) == (EXIT_USAGE, "")
        assert err == "content: no such content folder\n"
    assert state(tmp_path) == before


def test_an_empty_content_folder_makes_a_new_site(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    code, _, err = run("build", "--quiet", "--content", "new", "--output", "fresh")
    assert (code, err) == (EXIT_OK, "")
    assert (tmp_path / "fresh" / "rss.xml").is_file()


def test_check_is_never_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out, err = run("check", "--content", "empty")
    assert (code, err) == (EXIT_OK, "") and out.startswith("feeds check: 0 articles published")
