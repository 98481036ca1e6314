"""The command line, through ``main(argv)``: exit codes, quiet, check, config errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NOW, REPO, article, write_tree

from feeds.cli import main


def run(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        code = main(argv, now=NOW, out=out, err=err)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_tree(tmp_path / "content", {"a.md": article(n=1), "b.md": article(n=2)})
    return tmp_path


def test_build_with_defaults_exits_0_and_summarises(project: Path) -> None:
    code, out, err = run(["build"], project)
    assert (code, err) == (0, "")
    assert out.startswith("feeds build: 2 articles published (held back: 0 drafts,")
    assert "; 2 content files (2 read, 0 from cache) in " in out
    assert (project / "public" / "rss.xml").exists()


def test_quiet_prints_nothing_on_success(project: Path) -> None:
    assert run(["build", "--quiet"], project) == (0, "", "")


def test_bad_file_exit_1_reported_and_others_published(project: Path) -> None:
    write_tree(project / "content", {"bad.md": "---\ntitle: x\n---\n"})
    code, out, err = run(["build", "--quiet"], project)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "content/bad.md:1: publishedDateTime: missing",
    ]
    assert "Article number 2" in (project / "public" / "rss.xml").read_text()


def test_strict_fails_and_leaves_output_untouched(project: Path) -> None:
    assert run(["build", "-q"], project)[0] == 0
    before = (project / "public" / "rss.xml").read_bytes()
    write_tree(project / "content", {"c.md": article(n=3), "bad.md": "---\ntitle: x\n---\n"})
    code, _, err = run(["build", "-q", "--strict"], project)
    assert code == 1 and "left untouched" in err
    assert (project / "public" / "rss.xml").read_bytes() == before


def test_check_writes_nothing(project: Path) -> None:
    code, out, _ = run(["check"], project)
    assert code == 0 and out.startswith("feeds check:")
    assert not (project / "public").exists()


def test_usage_errors_exit_2(project: Path) -> None:
    assert run(["build", "--no-such-option"], project)[0] == 2
    assert run([], project)[0] == 2
    assert run(["build", "--content", "missing"], project)[0] == 2


def test_config_errors_name_the_key_and_exit_2(project: Path) -> None:
    (project / "feeds.yaml").write_text("title: Ok\nitems_per_feed: many\ncolour: blue\n")
    code, _, err = run(["build"], project)
    assert code == 2
    assert "feeds.yaml: 2: items_per_feed: must be a whole number from 1 to 10000" in err
    assert "feeds.yaml: 3: colour: unknown key" in err


def test_feeds_yaml_is_read_by_default(project: Path) -> None:
    (project / "feeds.yaml").write_text("title: My Site\nbase_url: https://x.example.com/f\n")
    assert run(["build", "-q"], project)[0] == 0
    rss = (project / "public" / "rss.xml").read_text()
    assert "<title>My Site</title>" in rss and "https://x.example.com/f/rss.xml" in rss


def test_unpublished_and_future_only_when_asked(project: Path) -> None:
    write_tree(
        project / "content",
        {
            "draft.md": article(n=5, title="Draft", published=False),
            "later.md": article(n=6, title="Later", publishedDateTime="2099-01-01T00:00:00Z"),
        },
    )
    run(["build", "-q"], project)
    rss = (project / "public" / "rss.xml").read_text()
    assert "Draft" not in rss and "Later" not in rss
    run(["build", "-q", "--unpublished", "--future"], project)
    rss = (project / "public" / "rss.xml").read_text()
    assert "Draft" in rss and "Later" in rss


def test_json_log_format(project: Path) -> None:
    write_tree(project / "content", {"bad.md": "---\ntitle: x\n---\n"})
    code, out, err = run(["build", "--log-format", "json"], project)
    assert code == 1
    assert '"path": "content/bad.md"' in err and '"level": "info"' in out


def test_python_dash_m_and_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "feeds", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0
    for command in ("build", "check"):
        assert command in proc.stdout
        sub = subprocess.run(
            [sys.executable, "-m", "feeds", command, "--help"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        assert sub.returncode == 0 and "--content" in sub.stdout


def test_undecodable_file_names_are_reported_not_fatal(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / os.fsdecode(b"bad-\xff-name.md")).write_bytes(b"---\ntitle: x\n---\n")
    (content / "ok.md").write_text(article(n=1))
    proc = subprocess.run(
        [sys.executable, "-m", "feeds", "build", "-q"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert b"bad-\\udcff-name.md:1: publishedDateTime: missing" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_progress_only_on_a_terminal(project: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    old = Path.cwd()
    os.chdir(project)
    try:
        assert main(["build"], now=NOW, out=io.StringIO(), err=err) == 0
        assert "feeds: reading" in err.getvalue() and "feeds: writing" in err.getvalue()
        quiet = Terminal()
        assert main(["build", "-q"], now=NOW, out=io.StringIO(), err=quiet) == 0
        assert quiet.getvalue() == ""
    finally:
        os.chdir(old)
