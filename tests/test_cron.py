"""The command line under cron: silence on success, problems on stderr, summaries, exit codes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from conftest import NOW, article, write_tree

import feeds.cache
import feeds.cli
from feeds.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    write_tree(
        tmp_path / "content",
        {f"{n}.md": article(n=n, topics=[f"T{n % 3}"]) for n in range(6)},
    )


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    assert run("build", "--quiet") == (EXIT_OK, "", "")
    assert run("build", "--quiet") == (EXIT_OK, "", "")
    assert (tmp_path / ".feeds-cache" / "cache.sqlite3").is_file()  # the documented default
    assert (tmp_path / "public" / "rss.xml").is_file()


def test_the_summary_says_what_was_read_and_written() -> None:
    code, out, err = run("build")
    assert (code, err) == (EXIT_OK, "")
    assert re.fullmatch(
        r"feeds build: 6 articles published \(held back: 0 drafts, 0 future, 0 removed\); "
        r"0 files skipped, 0 warnings; 5 feeds \(5 rendered\); "
        r"output files: 21 written, 0 unchanged, 0 removed; "
        r"6 content files \(6 read, 0 from cache\) in \d+\.\d\d s\n",
        out,
    ), out
    code, out, err = run("build")
    assert "6 content files (0 read, 6 from cache)" in out and "(0 rendered)" in out
    assert "output files: 0 written, 21 unchanged, 0 removed" in out


def test_removed_files_are_listed(tmp_path: Path) -> None:
    run("build")
    for n in (0, 3):
        (tmp_path / "content" / f"{n}.md").unlink()
    out = run("build")[1]
    assert out.splitlines()[:4] == [
        f"removed topics/t0/{name}" for name in ("atom.xml", "feed.json", "index.html", "rss.xml")
    ]
    assert "4 removed" in out
    assert run("build", "--quiet") == (EXIT_OK, "", "")


def test_problems_go_to_stderr_one_per_line_even_when_quiet(tmp_path: Path) -> None:
    write_tree(tmp_path / "content", {"bad.md": article(n=9, publishedDateTime="soon")})
    code, out, err = run("build", "--quiet")
    assert (code, out) == (EXIT_PROBLEMS, "")
    assert err == "content/bad.md:5: publishedDateTime: not a date: 'soon'\n"
    # Reported once under --quiet; without it, every run lists it (from the cache too).
    assert run("build", "--quiet") == (EXIT_PROBLEMS, "", "")
    code, out, err = run("build")
    assert code == EXIT_PROBLEMS
    assert err == "content/bad.md:5: publishedDateTime: not a date: 'soon'\n"


def test_json_logs_one_object_per_line(tmp_path: Path) -> None:
    write_tree(tmp_path / "content", {"bad.md": article(n=9, publishedDateTime="soon")})
    code, out, err = run("build", "--log-format", "json")
    assert code == EXIT_PROBLEMS
    [problem] = [json.loads(line) for line in err.splitlines()]
    assert problem == {
        "level": "error",
        "message": "not a date: 'soon'",
        "path": "content/bad.md",
        "line": 5,
        "field": "publishedDateTime",
    }
    [summary] = [json.loads(line) for line in out.splitlines()]
    assert summary["level"] == "info" and summary["event"] == "summary"
    assert summary["message"].startswith("feeds build: 6 articles published")
    assert {k: summary[k] for k in ("files_read", "files_reread", "written", "removed")} == {
        "files_read": 7,
        "files_reread": 7,
        "written": 21,
        "removed": 0,
    }


def test_json_logs_for_whole_run_failures() -> None:
    code, out, err = run("build", "--content", "nowhere", "--log-format", "json")
    assert (code, out) == (EXIT_USAGE, "")
    assert json.loads(err) == {"level": "error", "message": "nowhere: no such content folder"}


def test_no_cache_leaves_no_cache(tmp_path: Path) -> None:
    assert run("build", "--quiet", "--no-cache") == (EXIT_OK, "", "")
    assert not (tmp_path / ".feeds-cache").exists()
    out = run("build", "--no-cache")[1]
    assert "6 content files (6 read, 0 from cache)" in out and "0 written, 21 unchanged" in out


def test_cache_folder_option(tmp_path: Path) -> None:
    assert run("build", "--quiet", "--cache", "var/cache")[0] == EXIT_OK
    assert (tmp_path / "var" / "cache" / "cache.sqlite3").is_file()
    assert not (tmp_path / ".feeds-cache").exists()
    code, out, _ = run("check", "--cache", "var/cache")
    assert code == EXIT_OK and "(0 read, 6 from cache)" in out


def test_a_damaged_cache_is_reported_once_and_the_run_succeeds(tmp_path: Path) -> None:
    run("build", "--quiet")
    (tmp_path / ".feeds-cache" / "cache.sqlite3").write_bytes(b"garbage" * 1000)
    code, out, err = run("build", "--quiet")
    assert (code, out) == (EXIT_OK, "")
    assert err.startswith("feeds: cache: .feeds-cache/cache.sqlite3: ") and "discarded" in err
    assert run("build", "--quiet") == (EXIT_OK, "", "")


def test_the_help_documents_exit_codes_and_cache(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    assert "Exit codes: 0 ok, 1 content problems" in capsys.readouterr().out
    main(["build", "--help"])
    text = capsys.readouterr().out
    for option in ("--quiet", "--log-format", "--wait", "--cache", "--no-cache"):
        assert option in text


def test_the_summary_counts_in_plain_words(tmp_path: Path) -> None:
    for path in (tmp_path / "content").iterdir():
        path.unlink()
    bad_image = [{"url": "javascript:alert(1)"}]
    write_tree(
        tmp_path / "content",
        {
            "a.md": article(n=1, topics=["AI"], images=bad_image),
            "b.md": article(n=2, topics=["AI"]),
            "c.md": article(n=3, topics=["Solo"]),
            "draft.md": article(n=4, published=False),
            "later.md": article(n=5, publishedDateTime="2099-01-01T00:00:00Z"),
            "gone.md": article(n=6, removed=True),
            "bad.md": article(n=7, publishedDateTime="soon"),
        },
    )
    code, out, _ = run("build")
    assert code == EXIT_PROBLEMS
    assert re.fullmatch(
        r"feeds build: 3 articles published \(held back: 1 draft, 1 future, 1 removed\); "
        r"1 file skipped, 1 warning; 4 feeds \(4 rendered\); "
        r"output files: 17 written, 0 unchanged, 0 removed; "
        r"7 content files \(7 read, 0 from cache\) in \d+\.\d\d s\n",
        out,
    ), out
    (tmp_path / "content" / "c.md").unlink()
    write_tree(
        tmp_path / "content",
        {
            "b.md": article(n=2, topics=["AI"], images=bad_image),
            "draft2.md": article(n=8, published=False),
            "bad2.md": article(n=9, title=None),
        },
    )
    code, out, _ = run("build")
    assert code == EXIT_PROBLEMS
    lines = out.splitlines()
    assert lines[:4] == [
        f"removed topics/solo/{n}" for n in ("atom.xml", "feed.json", "index.html", "rss.xml")
    ]
    assert re.fullmatch(
        r"feeds build: 2 articles published \(held back: 2 drafts, 1 future, 1 removed\); "
        r"2 files skipped, 2 warnings; 3 feeds \(\d rendered\); "
        r"output files: \d+ written, \d+ unchanged, 4 removed; "
        r"8 content files \(\d read, \d from cache\) in \d+\.\d\d s",
        lines[4],
    ), lines[4]
    code, out, _ = run("build", "--log-format", "json")
    [summary] = [json.loads(line) for line in out.splitlines()]
    figures = {k: v for k, v in summary.items() if k not in ("message", "seconds")}
    assert figures == {
        "level": "info",
        "event": "summary",
        "published": 2,
        "drafts": 2,
        "future": 1,
        "removed_articles": 1,
        "files_skipped": 2,
        "errors": 2,
        "warnings": 2,
        "feeds": 3,
        "feeds_rendered": 0,
        "files_read": 8,
        "files_reread": 0,
        "written": 0,
        "unchanged": 13,
        "removed": 0,
    }
    assert summary["message"].startswith("feeds build: 2 articles published (held back: 2 drafts")
    code, out, _ = run("check")
    assert out.startswith("feeds check: 2 articles published (held back: 2 drafts, 1 future, ")
    assert "; 2 files skipped, 2 warnings; 3 feeds (3 rendered); 8 content files (" in out


def test_a_hostile_file_name_prints_as_one_escaped_line(tmp_path: Path) -> None:
    name = "x\ncontent/forged.md:1: all good\x1b[2J\x1b]0;title\x07\x9b31m\u202eé.md"
    write_tree(tmp_path / "content", {name: article(n=9, publishedDateTime="soon")})
    code, out, err = run("build", "--quiet")
    assert (code, out) == (EXIT_PROBLEMS, "")
    assert err == (
        "content/x\\ncontent/forged.md:1: all good\\x1b[2J\\x1b]0;title\\x07\\x9b31m\\u202eé.md:5:"
        " publishedDateTime: not a date: 'soon'\n"
    )
    # (a second --quiet run would print nothing: the problem was reported)
    code, out, err = run("check", "--quiet", "--log-format", "json")
    [line] = err.splitlines()
    assert json.loads(line)["path"] == f"content/{name}"
    assert not any(c in line for c in "\x1b\x07\x9b\u202e")


def test_check_writes_nothing_not_even_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / ".feeds-cache"
    assert run("check", "--quiet") == (EXIT_OK, "", "")
    assert not cache.exists() and not (tmp_path / "public").exists()
    assert run("build", "--quiet") == (EXIT_OK, "", "")

    def files() -> dict[str, tuple[bytes, int]]:
        return {  # the database, and the compiled templates beside it
            str(p.relative_to(cache)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in cache.rglob("*")
            if p.is_file()
        }

    before = files()
    assert any(name.startswith("templates/") for name in before)
    write_tree(tmp_path / "content", {"0.md": article(n=0, title="Edited")})
    code, out, err = run("check")
    assert (code, err) == (EXIT_OK, "")
    assert "6 content files (1 read, 5 from cache)" in out  # the cache is read
    assert files() == before


def test_a_system_that_is_not_posix_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds.cli.os, "name", "nt")
    assert run("build") == (
        EXIT_USAGE,
        "",
        "feeds: needs a POSIX system (Linux, macOS, a BSD), not 'nt'\n",
    )
