"""``max_feed_bytes`` with ``archives: monthly``: the cap never takes an article out of the
history walk.

A subscription feed over the cap writes the same newest items in every format, and the
items it leaves out are in its archives; archive documents are never capped. Generated
sets of files with bodies of several sizes (so that edits make a feed's items bigger or
smaller and its cap change) are built, edited and built again; after every build, walking
back from each subscription feed reaches every published article of the group exactly
once, and the incremental build writes the bytes a build without a cache writes.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import NOW, article, choose, examples, read_content
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_archive import HOURS, TOPICS, URLS, expected_groups, walk_atom, walk_json
from test_publication import Copy, Tree, apply_edit, every_file

import feeds.cache
from feeds.archive import Histories, shown_members
from feeds.build import BuildResult
from feeds.cache.db import DB_FILE
from feeds.config import Config
from feeds.group import Selection
from feeds.model import Brief, Feed

BASE = "https://news.example.com/"
CAP = 16_384
"""The smallest cap ``feeds.yaml`` takes: a few of the larger items fill a feed."""
SIZES = [0, 150, 600, 1500]
"""Words in an article's body: from nothing to about a third of the cap per item."""
FORMATS = ("rss.xml", "atom.xml", "feed.json")


@pytest.fixture(autouse=True)
def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edits follow each other at once here; the racy-file guard has its own test."""
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)


@dataclass(frozen=True)
class Sized(Copy):
    """An article file with a body of ``words`` words."""

    words: int = 0

    def text(self) -> str:
        body = " ".join(f"word{i}" for i in range(self.words))
        return article(
            title=self.title,
            originalUrl=self.url,
            webUrl=self.url,
            publishedDateTime=NOW + timedelta(hours=self.hours),
            published=False if self.draft else None,
            removed=True if self.removed else None,
            topics=list(self.topics),
            provider={"name": self.domain.upper(), "domain": self.domain},
            body=body,
        )


def _config(n: int) -> Config:
    return Config(base_url=BASE, items_per_feed=n, archives="monthly", max_feed_bytes=CAP)


def _ids(folder: Path) -> dict[str, list[str]]:
    """The ids each format of the feed document in ``folder`` holds, in order."""
    ids = {
        name: [e.id for e in feedparser.parse((folder / name).read_bytes()).entries]
        for name in FORMATS[:2]
    }
    ids["feed.json"] = [i["id"] for i in json.loads((folder / "feed.json").read_bytes())["items"]]
    return ids


def check(tree: Tree, result: BuildResult) -> None:
    """The history walk reaches every published article of every group once, in Atom and
    JSON Feed; every format of every document holds the same items; subscription feeds
    fit in the cap; each warning names a file once."""
    assert result.errors == ()
    n = tree.config.items_per_feed
    for folder, ids in expected_groups(list(tree.copies.values())).items():
        for walk in (walk_json, walk_atom):
            found = walk(tree.output, folder)
            assert len(found) == len(set(found)), (walk.__name__, folder, found)
            assert set(found) == ids, (walk.__name__, folder)
        feed = tree.output / folder
        held = _ids(feed)
        assert held["rss.xml"] == held["atom.xml"] == held["feed.json"], folder
        assert len(held["feed.json"]) <= min(n, len(ids))
        for name in FORMATS:
            assert (feed / name).stat().st_size <= CAP, (folder, name)
    for archive in tree.output.rglob("archive"):
        for folder in {p.parent for p in archive.rglob("feed.json")}:
            held = _ids(folder)
            assert held["rss.xml"] == held["atom.xml"] == held["feed.json"], folder
    warned = [p.path for p in result.problems if p.field == "max_feed_bytes"]
    assert len(warned) == len(set(warned)), warned


def cold_warnings(tree: Tree, result: BuildResult) -> None:
    """A build that rendered everything warns of exactly the capped subscription feed
    files (with the count each holds) and the archive files over the cap."""
    n = tree.config.items_per_feed
    expected: set[str] = set()
    for folder, ids in expected_groups(list(tree.copies.values())).items():
        prefix = f"{folder}/" if folder else ""
        kept = len(_ids(tree.output / folder)["feed.json"])
        if kept < min(n, len(ids)):
            expected.update(prefix + name for name in FORMATS)
            for name in FORMATS:
                message = next(p.message for p in result.problems if p.path == prefix + name)
                assert message.startswith(f"{min(n, len(ids)) - kept} oldest of "), message
                assert message.endswith("bytes; they are in its archives"), message
    for path in tree.output.rglob("*"):
        rel = path.relative_to(tree.output).as_posix()
        if "archive" in path.parts and path.name in FORMATS and path.stat().st_size > CAP:
            expected.add(rel)
    warned = {p.path for p in result.problems if p.field == "max_feed_bytes"}
    assert warned == expected


def same_as_cold(tree: Tree, result: BuildResult, cold: Path) -> None:
    """The last build (``result``) wrote the bytes, and gave the warnings, of a build
    without a cache into ``cold``."""
    cold_result = tree.build(cache=False, output=cold)
    assert every_file(tree.output) == every_file(cold)
    assert set(map(str, result.problems)) <= set(map(str, cold_result.problems))


_copies = st.builds(
    lambda url, hours, words, topics, domain: dict(
        url=url, title="Story", hours=hours, words=words, topics=topics, domain=domain
    ),
    st.sampled_from(URLS),
    st.sampled_from(HOURS),
    st.sampled_from(SIZES),
    st.lists(st.sampled_from(sorted(TOPICS)), max_size=2, unique=True).map(tuple),
    st.sampled_from(["a.example", "b.example"]),
)

_edits = st.lists(
    st.tuples(
        st.sampled_from(["add", "delete", "redate", "unpublish", "grow", "shrink"]),
        st.integers(0, 30),
        _copies,
    ),
    min_size=1,
    max_size=3,
)


def _edit(tree: Tree, edit: tuple[str, int, dict[str, Any]], serial: int) -> None:
    kind, pick, values = edit
    names = sorted(tree.copies)
    if kind in ("grow", "shrink") and names:
        copy = tree.copies[names[pick % len(names)]]
        assert isinstance(copy, Sized)
        tree.put(replace(copy, words=SIZES[-1] * 2 if kind == "grow" else 0))
    elif kind == "add" or not names:
        tree.put(Sized(name=f"n{serial:02d}.md", **values))
    else:
        apply_edit(tree, edit, serial)


@settings(
    max_examples=examples(12),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_copies, min_size=1, max_size=10), _edits, st.integers(2, 5))
def test_property_a_capped_feed_leaves_nothing_out_of_the_history(
    tmp_path_factory: pytest.TempPathFactory,
    start: list[dict[str, Any]],
    edits: list[tuple[str, int, dict[str, Any]]],
    n: int,
) -> None:
    root = tmp_path_factory.mktemp("cap")
    tree = Tree(root, _config(n))
    for i, values in enumerate(start):
        tree.put(Sized(name=f"f{i:02d}.md", **values))
    result = tree.build()
    check(tree, result)
    cold_warnings(tree, result)
    for serial, edit in enumerate(edits):
        _edit(tree, edit, serial)
        check(tree, tree.build())
    cold = tree.build(cache=False, output=root / "cold")
    assert every_file(tree.output) == every_file(root / "cold")
    check(replace_output(tree, root / "cold"), cold)


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.sampled_from([*HOURS, -24 * 61 - 1, -24 * 400 - 5]), min_size=0, max_size=14),
    st.integers(1, 4),
)
def test_property_the_link_for_each_count_is_the_newest_archive_of_that_layout(
    tmp_path_factory: pytest.TempPathFactory, hours: list[int], n: int
) -> None:
    """:meth:`Histories.links` against laying the archives out for every count."""
    tree = Tree(tmp_path_factory.mktemp("links"), _config(n))
    for i, hour in enumerate(hours):
        tree.put(Sized(f"f{i:02d}.md", f"{BASE}s/{i}", "Story", hour, topics=("AI",)))
    chosen = choose(read_content(tree.content).articles, items_per_feed=n)
    briefs = [Brief.of(a) for a in chosen.articles]
    members = shown_members(briefs, Selection(now=NOW), ("topics", "providers"))
    # Its feeds as chosen, then with their items in another order (not the group's
    # newest first: the layout goes by ids then).
    for site in (chosen.site, replace(chosen.site, feeds=_reversed(chosen.site.feeds))):
        history = Histories(members, n, briefs)
        for feed in site.feeds:
            links = history.links(feed)
            assert len(links) == len(feed.members) + 1
            for count in range(len(feed.members) + 1):
                laid_out = history.laid_out(site, {(feed.kind, feed.key): count})
                (laid,) = [f for f in laid_out.feeds if (f.kind, f.key) == (feed.kind, feed.key)]
                assert laid.history is not None and laid.history.prev == links[count]
                newest = [
                    d.folder for d in laid_out.archives if (d.kind, d.key) == (feed.kind, feed.key)
                ]
                assert (max(newest, key=_order) if newest else None) == links[count]
                # The feed's items and its archives': every article of the group, once.
                held = [briefs[i].id for i in feed.members[:count]] + [
                    briefs[i].id
                    for d in laid_out.archives
                    if (d.kind, d.key) == (feed.kind, feed.key)
                    for i in d.members
                ]
                group = members.get((feed.kind, feed.key), [])
                assert sorted(held) == sorted(item[1] for item in group)


def _reversed(feeds: tuple[Feed, ...]) -> tuple[Feed, ...]:
    return tuple(replace(feed, members=feed.members[::-1]) for feed in feeds)


def _order(folder: str) -> tuple[str, int]:
    """An archive folder's month and page, to find the newest."""
    parts = folder.split("/archive/")[-1].removeprefix("archive/").split("/")
    return parts[0], int(parts[1]) if len(parts) > 1 else 1


def replace_output(tree: Tree, output: Path) -> Tree:
    other = Tree(tree.root, tree.config)
    other.copies, other.output = tree.copies, output
    return other


def _busy(tree: Tree, count: int, words: int) -> list[Sized]:
    """``count`` articles an hour apart, the newest an hour ago, all in one month."""
    copies = [
        Sized(f"a{i:02d}.md", f"{BASE}m/{i}", "Story", -(i + 1), topics=("AI",), words=words)
        for i in range(count)
    ]
    for copy in copies:
        tree.put(copy)
    return copies


def test_growing_and_shrinking_items_move_them_between_feed_and_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The feeds rendered before the archives are held aside in a temporary file here.
    monkeypatch.setattr(importlib.import_module("feeds.build"), "SPOOL_BYTES", 1000)
    tree = Tree(tmp_path, _config(6))
    copies = _busy(tree, 9, 150)  # six fit in the feed: three archived
    result = tree.build()
    check(tree, result)
    assert len(_ids(tree.output)["feed.json"]) == 6
    assert not [p for p in result.problems if p.field == "max_feed_bytes"]
    steps = [
        replace(copies[4], words=1500),  # bigger: the feed holds fewer, the rest archived
        replace(copies[1], words=1500),  # fewer still
        replace(copies[1], words=150),  # smaller again
        replace(copies[4], words=0),
    ]
    kept = []
    for serial, copy in enumerate(steps):
        tree.put(copy)
        result = tree.build()
        check(tree, result)
        kept.append(len(_ids(tree.output)["feed.json"]))
        same_as_cold(tree, result, tmp_path / f"cold{serial}")
    assert kept[1] < kept[0] < 6 and kept[1] < kept[2] < kept[3] == 6, kept
    # Once the feed is as it was, so is everything else.
    again = Tree(tmp_path / "again", _config(6))
    for copy in tree.copies.values():
        again.put(copy)
    again.build()
    assert every_file(again.output) == every_file(tree.output)


def test_a_feed_left_alone_keeps_the_count_it_was_written_with(tmp_path: Path) -> None:
    """Editing an article of another group lays out a capped feed's archives from the
    count the cache recorded for it (the feed is not rendered again)."""
    tree = Tree(tmp_path, _config(6))
    _busy(tree, 9, 1500)
    other = Sized("z.md", f"{BASE}other", "Other", -DAY_HOURS * 40, domain="b.example")
    tree.put(other)
    first = tree.build()
    check(tree, first)
    assert len(_ids(tree.output / "topics/ai")["feed.json"]) < 6
    tree.put(replace(other, title="Other, edited"))
    result = tree.build()
    check(tree, result)
    assert result.report is not None
    assert not any(p.startswith("topics/ai/") for p in result.report.written)
    same_as_cold(tree, result, tmp_path / "cold")


DAY_HOURS = 24


def test_an_archive_page_over_the_cap_keeps_every_item_and_says_so(tmp_path: Path) -> None:
    tree = Tree(tmp_path, _config(4))
    for i in range(8):  # a month ago and before: all archived but the feed's four
        tree.put(Sized(f"b{i}.md", f"{BASE}b/{i}", "Big", -DAY_HOURS * (40 + i), words=3000))
    result = tree.build()
    check(tree, result)
    page = tree.output / "archive" / "2026-10"
    sizes = {name: (page / name).stat().st_size for name in FORMATS}
    assert all(size > CAP for size in sizes.values()), sizes
    # Every October article the feed does not write is on one of October's pages (of up
    # to twice items_per_feed each), none left out for the cap.
    archived = [
        i for f in page.rglob("feed.json") for i in _ids(f.parent)["feed.json"]
    ]  # fmt: skip
    written = set(_ids(tree.output)["feed.json"])
    assert sorted(archived) == sorted({f"{BASE}b/{i}" for i in range(8)} - written)
    assert len(_ids(page)["feed.json"]) <= 8
    warnings = {p.path: str(p) for p in result.problems if p.field == "max_feed_bytes"}
    for name, size in sizes.items():
        assert f"archive/2026-10/{name}" in warnings
        assert f"{size:,} bytes" in warnings[f"archive/2026-10/{name}"]
        assert "lower items_per_feed" in warnings[f"archive/2026-10/{name}"]
    cold_warnings(tree, result)


def _layout_stored(tree: Tree) -> bool:
    """Whether the cache holds an archive layout the next run updates month by month."""
    db = sqlite3.connect(tree.root / "cache" / DB_FILE)
    try:
        (heads,) = db.execute("SELECT count(*) FROM archive_head").fetchone()
    finally:
        db.close()
    return bool(heads)


def _as_cold(tree: Tree, result: BuildResult, cold: Path) -> None:
    """The bytes of a build without a cache, and none of the warnings it does not give
    (a feed left as it is gives none)."""
    cold_result = tree.build(cache=False, output=cold)
    assert every_file(tree.output) == every_file(cold)
    assert set(map(str, result.problems)) <= set(map(str, cold_result.problems))


def test_the_stored_layout_is_dropped_while_a_feed_is_capped_and_made_again_after(
    tmp_path: Path,
) -> None:
    """The stored layout is the one where every feed writes every item: a run with a
    capped feed lays the archives out from every brief and keeps no layout, and the first
    run after it with no capped feed stores one again; each output as a cold build's."""
    tree = Tree(tmp_path, _config(6))
    copies = _busy(tree, 9, 150)  # six fit in the feed: three archived
    tree.build()
    assert _layout_stored(tree)
    stored = []
    for serial, copy in enumerate(
        [replace(copies[4], words=1500), replace(copies[7], title="Old"), copies[4]]
    ):
        tree.put(copy)
        result = tree.build()
        check(tree, result)
        _as_cold(tree, result, tmp_path / f"cold{serial}")
        stored.append(_layout_stored(tree))
    assert stored == [False, False, True]
    tree.put(replace(copies[8], title="Oldest"))  # archived: the stored layout updated
    result = tree.build()
    assert result.report is not None
    assert any("/archive/" in path for path in result.report.written)
    _as_cold(tree, result, tmp_path / "cold-last")
