"""Finding and stamping sources: the compact forms a build holds for every file."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from conftest import article, write_tree
from hypothesis import given
from hypothesis import strategies as st

import feeds.sources
from feeds.model import Stamps
from feeds.sources import NEVER_RECENT, Source, find_sources, scan, stamp_of

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_STAMP = st.none() | st.tuples(st.integers(0, 2**63 - 1), _INT64, _INT64, _INT64)


@given(st.lists(_STAMP, max_size=30))
def test_scan_give_back_what_was_packed(stamps: list[tuple[int, int, int, int] | None]) -> None:
    packed = Stamps(Stamps.pack(stamps))
    assert len(packed) == len(stamps)
    assert list(packed) == stamps
    assert [packed[i] for i in range(len(stamps))] == stamps
    assert [packed[i] for i in range(-len(stamps), 0)] == stamps
    assert packed[1:-1] == tuple(stamps[1:-1])
    assert packed.packed(1, len(stamps)) == Stamps.pack(stamps[1:])
    picked = list(range(len(stamps)))[::-2]
    assert packed.select(picked) == Stamps.pack([stamps[i] for i in picked])
    assert list(packed.span(1, len(stamps) - 1)) == stamps[1:-1]


def test_the_scan_finds_the_files_changed_since_a_moment_and_those_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:attr:`Scan.recent`: the sources modified or changed at or after ``since`` (a file
    dated in the future too), as the plain rule over their stamps says, stamped here or by
    workers in blocks of 4; and a file gone between the walk and its stat."""
    monkeypatch.setattr(feeds.sources, "STAT_BLOCK", 4)
    files = {f"{folder}/{n:02d}.md": "x" for folder in "abc" for n in range(7)}
    content = write_tree(tmp_path / "content", files)
    old = time.time_ns() - 3600 * 10**9
    for path in content.rglob("*.md"):
        os.utime(path, ns=(old, old))
    os.utime(content / "a" / "03.md", ns=(old, old + 10**15))  # dated in the future
    time.sleep(0.05)  # past the coarse clock of the changes (ctime) the lines above made
    since = time.time_ns()
    time.sleep(0.05)
    (content / "c" / "06.md").write_text("y")  # modified (and changed) since
    for jobs in (1, 2):
        found = scan(content, jobs, since=since)
        stamps = list(found.stamps)
        assert found.recent == {
            i for i, s in enumerate(stamps) if s is None or s[1] >= since or s[2] >= since
        }
        assert {found.rels[i] for i in found.recent} == {"a/03.md", "c/06.md"}
    assert scan(content).recent == frozenset()  # no ``since``: none
    folder = f"{content}/b/"
    packed, recent = feeds.sources._stat_all([(folder, ["00.md", "gone.md", "01.md"])], since)
    assert Stamps(packed)[1] is None and recent == [1]


def test_the_compiled_loops_are_built_here() -> None:
    """The install compiles ``feeds/_scan.c`` where a C compiler is (it is optional:
    without it the scan uses the Python loops). On Linux, as in CI, it must be there."""
    if sys.platform != "linux":
        pytest.skip("checked on Linux")
    import feeds._scan

    assert feeds.sources._stamp_all is feeds._scan.stamp_block
    assert feeds.sources._list_folder is feeds._scan.list_folder


@pytest.mark.parametrize(
    "since", [0, -1, -(2**63) - 5, 2**63 - 1, 2**63, NEVER_RECENT, "now", "an hour ago"]
)
def test_the_compiled_stat_loop_gives_what_the_python_loop_gives(
    tmp_path: Path, since: int | str
) -> None:
    stamp_block = pytest.importorskip("feeds._scan").stamp_block
    folder = tmp_path / "content"
    folder.mkdir()
    now = time.time_ns()
    for n in range(5):
        (folder / f"{n}.md").write_text("x" * n)
        os.utime(folder / f"{n}.md", ns=(now, now - n * 1800 * 10**9))
    (folder / "sub").mkdir()
    (folder / "link.md").symlink_to(folder / "3.md")
    (folder / "dangling.md").symlink_to(folder / "nothing.md")
    names = ["0.md", "gone.md", "1.md", "link.md", "dangling.md", "sub", "4.md", "2.md"]
    if os.uname().sysname == "Linux":  # a name that is not UTF-8, as the walk decodes it
        (folder / os.fsdecode(b"\xff.md")).write_text("z")
        names.append(os.fsdecode(b"\xff.md"))
    when = {"now": now - 1, "an hour ago": now - 3600 * 10**9}
    since_ns = when.get(since, since) if isinstance(since, str) else since
    blocks: list[list[tuple[str, list[str]]]] = [
        [(f"{folder}/", names)],
        [(f"{folder}/", names[:3]), (f"{tmp_path}/missing/", ["0.md"]), (f"{folder}/", [])],
        [(f"{folder}/0.md/", ["x.md"]), (f"{folder}/sub/", []), (f"{folder}/", names[3:])],
        [],
    ]
    for block in blocks:
        assert stamp_block(block, since_ns) == feeds.sources._stat_all(block, since_ns)


def test_the_compiled_stat_loop_refuses_what_it_cannot_take() -> None:
    stamp_block = pytest.importorskip("feeds._scan").stamp_block
    for block, since in [
        ([("a/", ("x.md",))], 0),
        ([("a/", ["x.md"], 1)], 0),
        ([(b"a/", ["x.md"])], 0),
        ([("a/", [b"x.md"])], 0),
        ([("a/", ["x.md"])], 0.5),
        (None, 0),
    ]:
        with pytest.raises(TypeError):
            stamp_block(block, since)
    with pytest.raises(ValueError):  # as os.stat: no NUL in a name
        stamp_block([("a/", ["x\0.md"])], 0)


def test_scan_past_64_bits_are_kept_apart_and_equal_to_themselves(tmp_path: Path) -> None:
    path = tmp_path / "far.md"
    path.write_text("x")
    far = 2**63 + 10**9  # nanoseconds: the year 2262 and a bit
    try:
        os.utime(path, ns=(far, far))
    except (OSError, OverflowError):  # a file system that cannot hold the date
        return
    st_ = os.stat(path)
    stamp = stamp_of(st_)
    assert all(-(2**63) <= v < 2**63 for v in stamp)
    found = scan(tmp_path)
    assert found.stamps[0] == stamp  # the one the build compares when it reads the file again
    path.write_text("xy")
    os.utime(path, ns=(far, far))
    assert stamp_of(os.stat(path)) != stamp  # the size still tells


def test_sources_are_made_from_the_prefix_and_rel(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content", {"a.md": article(n=1), "b/c.md": article(n=2)})
    for given_as in (str(content), str(content) + "/"):
        found = scan(Path(given_as))
        expected = (
            Source(f"{content}/a.md", "a.md", f"{content}/a.md"),
            Source(f"{content}/b/c.md", "b/c.md", f"{content}/b/c.md"),
        )
        assert tuple(found.sources) == expected == find_sources(Path(given_as))[0]
        assert found.sources[-1] == expected[-1]
        assert found.sources[0:1] == expected[0:1]
        assert [found.sources.label(i) for i in range(2)] == [s.label for s in expected]
        assert found.rels == ("a.md", "b/c.md")
        assert found.stamps[1] == stamp_of(os.stat(content / "b" / "c.md"))


def test_a_file_dated_past_2262_builds_and_rebuilds_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import NOW

    import feeds.cache
    from feeds.build import BuildOptions, build
    from feeds.config import Config

    content = write_tree(tmp_path / "content", {"a.md": article(n=1), "b.md": article(n=2)})
    far = 2**63 + 10**9
    try:
        os.utime(content / "a.md", ns=(far, far))
    except (OSError, OverflowError):
        return
    options = BuildOptions(
        content=content, output=tmp_path / "public", now=NOW, cache=tmp_path / "cache"
    )
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    first = build(Config(), options)
    again = build(Config(), options)
    assert first.articles == again.articles == 2 and not first.errors
    assert again.files_reread == 0


def test_a_scan_stamped_by_threads_as_it_walks_is_the_scan_done_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files before, between and after subfolders, a folder larger than a block, hidden
    # files and a link: blocks of 3 end inside folders and between them.
    files = {"a.md": "x", "b/a.md": "x", "b/c/d.md": "x", "b/e.md": "x", ".hidden.md": "x"}
    files |= {f"big/{n:02d}.md": "x" * n for n in range(11)}
    files |= {f"z{n}.md": "x" for n in range(4)}
    content = write_tree(tmp_path / "content", files)
    (content / "big" / "link.md").symlink_to(content / "a.md")
    monkeypatch.setattr(feeds.sources, "STAT_BLOCK", 3)
    alone = scan(content, jobs=1)
    shared = scan(content, jobs=2)
    assert shared.rels == alone.rels and len(alone.rels) == 20
    assert list(shared.stamps) == list(alone.stamps)
    assert shared.stamps[alone.rels.index("big/link.md")] == stamp_of(os.stat(content / "a.md"))
    assert (
        shared.runs
        == alone.runs
        == (
            ("", 0, 1),
            ("b/", 1, 2),
            ("b/c/", 2, 3),
            ("b/", 3, 4),
            ("big/", 4, 16),
            ("", 16, 20),
        )
    )


def _tricky_tree(root: Path) -> Path:
    """Every kind of entry the walk meets: files before, between and after folders,
    names that sort apart by case, digits, punctuation and code point (not by bytes),
    hidden files and folders, files that are not ``*.md``, links to a file, to a folder,
    out of the tree, to nothing, in a loop, a FIFO, an empty folder, a name that is not
    UTF-8, CRLF in a file."""
    files = {
        "a.md": "x",
        "B.md": "x",
        "a-b/x.md": "x",
        "a/x.md": "x",
        "a.b/y.md": "x",
        "ä.md": "x",
        "\ue000.md": "x",
        "z/10.md": "x",
        "z/9.md": "x",
        "z/z/z.md": "x\r\ny",
        ".hidden.md": "x",
        ".git/a.md": "x",
        "notes.txt": "x",
        "x.MD": "x",
        "x.md.bak": "x",
    }
    content = write_tree(root, files)
    (content / "empty").mkdir()
    (content / "link.md").symlink_to(content / "a.md")
    (content / "folder-link").symlink_to(content / "z")
    (content / "outside.md").symlink_to(root.parent)
    (content / "dangling.md").symlink_to(content / "nothing.md")
    (content / "loop.md").symlink_to(content / "loop.md")
    os.mkfifo(content / "fifo.md")
    if sys.platform == "linux":
        (content / os.fsdecode(b"\xff\xfe.md")).write_text("x")
        (content / "z" / os.fsdecode(b"caf\xe9.md")).write_text("x")
    return content


def test_the_compiled_walk_lists_what_the_python_walk_lists(tmp_path: Path) -> None:
    list_folder = pytest.importorskip("feeds._scan").list_folder
    content = _tricky_tree(tmp_path / "content")
    folders = [content, *(p for p in content.rglob("*") if p.is_dir())]
    for folder in folders:
        c_files, c_others = list_folder(str(folder))
        py_files, py_others = feeds.sources._list_folder_py(str(folder))
        assert sorted(c_files) == sorted(py_files)
        assert sorted(c_others) == sorted(py_others)
    for missing in (tmp_path / "missing", content / "a.md"):
        with pytest.raises(OSError) as c_error:
            list_folder(str(missing))
        with pytest.raises(OSError) as py_error:
            feeds.sources._list_folder_py(str(missing))
        assert (c_error.value.errno, c_error.value.filename) == (
            py_error.value.errno,
            py_error.value.filename,
        )
    with pytest.raises(TypeError):
        list_folder(b"/")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_scan_with_the_compiled_loops_is_the_scan_with_the_python_loops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    pytest.importorskip("feeds._scan")
    content = _tricky_tree(tmp_path / "content")
    (content / "locked").mkdir()
    (content / "locked" / "a.md").write_text("x")
    (content / "locked").chmod(0)
    monkeypatch.setattr(feeds.sources, "STAT_BLOCK", 2)
    try:
        compiled = scan(content, jobs, since=time.time_ns() - 10**9)
        monkeypatch.setattr(feeds.sources, "_list_folder", feeds.sources._list_folder_py)
        monkeypatch.setattr(feeds.sources, "_stamp_all", feeds.sources._stat_all)
        python = scan(content, jobs, since=time.time_ns() - 10**9)
    finally:
        (content / "locked").chmod(0o755)
    assert compiled.rels == python.rels
    assert list(compiled.stamps) == list(python.stamps)
    assert (compiled.problems, compiled.runs, compiled.unreadable, compiled.recent) == (
        python.problems,
        python.runs,
        python.unreadable,
        python.recent,
    )
    assert "z/z/z.md" in compiled.rels and "link.md" in compiled.rels
    assert list(compiled.rels) == sorted(compiled.rels, key=lambda rel: rel.split("/"))


def test_a_source_is_numbered_alike_by_a_search_of_its_folder_and_by_the_index(
    tmp_path: Path,
) -> None:
    # A folder's files split in runs by its subfolders; the folder "b" walked before
    # "b.md", though "b/a.md" sorts after "b.md" as text (no search of all the paths at
    # once can work); names that are no source.
    files = {"a.md": "x", "b.md": "x", "b/a.md": "x", "b0.md": "x", "c/a.md": "x"}
    files |= {"c/b/a.md": "x", "c/z.md": "x", "c/.hidden.md": "x", "c/notes.txt": "x"}
    content = write_tree(tmp_path / "content", files)
    found = scan(content)
    assert found.runs[-3:] == (("c/", 4, 5), ("c/b/", 5, 6), ("c/", 6, 7))
    not_sources = ["c/.hidden.md", "c/notes.txt", "c/b", "b", "z.md", "c/b/z.md", ""]
    searched = [found.number(rel) for rel in (*found.rels, *not_sources)]
    found.index_of()
    indexed = [found.number(rel) for rel in (*found.rels, *not_sources)]
    assert searched == indexed == [*range(7), *[None] * len(not_sources)]
