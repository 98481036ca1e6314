"""Complete history (``archives: monthly``): RFC 5005 archive documents and JSON Feed next_url.

Generated sets of files spread over several months are built, then edited (articles added,
deleted, redated, renamed, unpublished, in past months too); after every build, walking back from
each subscription feed (Atom ``prev-archive``, JSON Feed ``next_url``) must reach every
published article of the group exactly once and end, and the incremental build must give
the same bytes as a build without a cache.
"""

from __future__ import annotations

import json
import shutil
import zlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import NOW, SCHEMAS, article, examples, load_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from test_publication import Copy, Tree, apply_edit, every_file

import feeds.cache
from feeds.config import Config
from feeds.errors import ConfigError
from feeds.formats.common import HISTORY_NS
from feeds.formats.opml import FILENAME as OPML
from feeds.manifest import PARTS, read_old
from feeds.websub import feed_urls

BASE = "https://news.example.com/"
ATOM = "{http://www.w3.org/2005/Atom}"
TOPICS = {"AI": "ai", "Space": "space", "SPACE": "space"}
"""Topic names by their folder; two spellings of one topic (its name is the commoner)."""
URLS = [f"https://news.example.com/story/{i}" for i in range(10)]
DAY = 24
HOURS = [-DAY * 400, -DAY * 95, -DAY * 61, -DAY * 60, -DAY * 33, -72, -48, -1, 0, DAY * 40]
"""Dates spread over several months (``NOW`` is 2026-11-26), one in the future."""


@pytest.fixture(autouse=True)
def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edits follow each other at once here; the racy-file guard has its own test."""
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)


def _config(n: int, **values: Any) -> Config:
    return Config(base_url=BASE, items_per_feed=n, archives="monthly", **values)


def _path(output: Path, url: str) -> Path:
    assert url.startswith(BASE), url
    return output / url[len(BASE) :]


def walk_json(output: Path, folder: str) -> list[str]:
    """The ids of the subscription feed in ``folder``, then of each document its
    ``next_url`` chain leads to, in order; fails on a loop."""
    path = output / folder / "feed.json" if folder else output / "feed.json"
    seen: set[Path] = set()
    ids: list[str] = []
    while True:
        assert path not in seen, f"the chain comes back to {path}"
        seen.add(path)
        doc = load_json(path)
        ids.extend(item["id"] for item in doc["items"])
        if "next_url" not in doc:
            return ids
        path = _path(output, doc["next_url"])
        archive = load_json(path)["_feeds"]
        assert archive["current"] == BASE + (f"{folder}/" if folder else "") + "feed.json"


def walk_atom(output: Path, folder: str) -> list[str]:
    """Like :func:`walk_json`, following Atom's ``prev-archive``; checks that
    ``next-archive`` leads back the same way and that archives carry ``fh:archive``."""
    path = output / folder / "atom.xml" if folder else output / "atom.xml"
    current = BASE + (f"{folder}/" if folder else "") + "atom.xml"
    seen: list[Path] = []
    ids: list[str] = []
    while True:
        assert path not in seen, f"the chain comes back to {path}"
        root = etree.parse(str(path)).getroot()
        links = {link.get("rel"): link.get("href") for link in root.iter(f"{ATOM}link")}
        archive = root.find(f"{{{HISTORY_NS}}}archive") is not None
        assert archive == bool(seen), path  # every document but the subscription feed
        if seen:
            assert links["current"] == current
            newer = links.get("next-archive")
            assert (_path(output, newer) if newer else None) == (
                seen[-1] if len(seen) > 1 else None
            )
        seen.append(path)
        ids.extend(entry.findtext(f"{ATOM}id") for entry in root.iter(f"{ATOM}entry"))
        if "prev-archive" not in links:
            return ids
        path = _path(output, links["prev-archive"])


def expected_groups(copies: list[Copy]) -> dict[str, set[str]]:
    """Every group's published articles (ids), by feed folder: the reference model."""
    shown: dict[str, Copy] = {}
    for c in sorted(copies, key=lambda c: c.name):  # source order: the first copy wins ties
        published = not c.removed and not c.draft and c.hours <= 0
        if published and (c.url not in shown or c.hours > shown[c.url].hours):
            shown[c.url] = c
    groups: dict[str, set[str]] = {"": set(shown)}
    for c in shown.values():
        for topic in c.topics:
            groups.setdefault(f"topics/{TOPICS[topic]}", set()).add(c.url)
        groups.setdefault(f"providers/{c.domain}", set()).add(c.url)
    return groups


def check_history(tree: Tree) -> None:
    for folder, ids in expected_groups(list(tree.copies.values())).items():
        for walk in (walk_json, walk_atom):
            found = walk(tree.output, folder)
            assert len(found) == len(set(found)), (walk.__name__, folder, found)
            assert set(found) == ids, (walk.__name__, folder)


_copies = st.builds(
    lambda url, hours, draft, removed, topics, domain: dict(
        url=url,
        title="Story",
        hours=hours,
        draft=draft,
        removed=removed,
        topics=topics,
        domain=domain,
    ),
    st.sampled_from(URLS),
    st.sampled_from(HOURS),
    st.sampled_from([False, False, False, True]),
    st.sampled_from([False, False, False, True]),
    st.lists(st.sampled_from(sorted(TOPICS)), max_size=2, unique=True).map(tuple),
    st.sampled_from(["a.example", "b.example"]),
)

_edits = st.lists(
    st.tuples(
        st.sampled_from(["add", "delete", "redate", "retitle", "unpublish", "publish", "rename"]),
        st.integers(0, 30),
        _copies,
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_copies, min_size=1, max_size=12), _edits, st.integers(1, 3))
def test_property_the_history_walk_reaches_every_article_once_cold_and_after_edits(
    tmp_path_factory: pytest.TempPathFactory,
    start: list[dict[str, Any]],
    edits: list[tuple[str, int, dict[str, Any]]],
    n: int,
) -> None:
    root = tmp_path_factory.mktemp("history")
    tree = Tree(root, _config(n))
    for i, values in enumerate(start):
        tree.put(Copy(name=f"f{i:02d}.md", **values))
    assert tree.build().errors == ()
    check_history(tree)
    for serial, edit in enumerate(edits):
        kind, pick, _ = edit
        if kind == "rename" and tree.copies:  # the same article under another file name
            copy = tree.copies[sorted(tree.copies)[pick % len(tree.copies)]]
            tree.delete(copy.name)
            tree.put(replace(copy, name=f"r{serial:02d}.md"))
        else:
            apply_edit(tree, edit, serial)
        result = tree.build()
        assert result.errors == ()
        check_history(tree)
        cold = root / f"cold{serial}"
        tree.build(cache=False, output=cold)
        assert every_file(tree.output) == every_file(cold)


def _month_files(n: int) -> list[Copy]:
    """``n`` articles a day apart, the newest yesterday: a few months' worth."""
    return [
        Copy(f"a{i:03d}.md", f"{BASE}m/{i}", f"Story {i}", -DAY * (i + 1), topics=("AI",))
        for i in range(n)
    ]


def _reference_pages(ids_oldest_first: list[str], size: int) -> list[list[str]]:
    """The page rule, written plainly: a page ends after an article whose id's CRC-32 is
    a multiple of ``size``, or when it holds ``2 * size`` articles."""
    pages: list[list[str]] = []
    page: list[str] = []
    for article_id in ids_oldest_first:
        page.append(article_id)
        if zlib.crc32(article_id.encode()) % size == 0 or len(page) == 2 * size:
            pages.append(page)
            page = []
    return [*pages, page] if page else pages


def _month_pages(output: Path, month: str) -> list[list[str]]:
    """The ids of each page of ``month``'s site archive, page 1 first, each oldest first."""
    folder = output / "archive" / month
    pages: list[list[str]] = []
    while (page := folder / (f"{len(pages) + 1}/" if pages else "") / "feed.json").exists():
        doc = load_json(page)
        assert doc["_feeds"]["archive"] == month and doc["_feeds"]["page"] == len(pages) + 1
        pages.append([item["id"] for item in reversed(doc["items"])])
    return pages


def test_a_busy_month_is_paged_where_its_articles_say_and_old_pages_stay(
    tmp_path: Path,
) -> None:
    tree = Tree(tmp_path, _config(2))
    for copy in _month_files(40):
        tree.put(copy)
    tree.build()
    october = _month_pages(tree.output, "2026-10")
    # October 17 to 31: 15 articles, oldest first, cut as the reference rule cuts them.
    ids = [article_id for page in october for article_id in page]
    assert ids == [f"{BASE}m/{i}" for i in range(39, 24, -1)]
    assert october == _reference_pages(ids, 2)
    assert 4 <= len(october) <= 12  # one article in two ends a page, at most four a page
    assert sorted(p.parent for p in (tree.output / "archive/2026-10").rglob("feed.json")) == [
        tree.output / "archive/2026-10" / (f"{p}/" if p > 1 else "")
        for p in range(1, len(october) + 1)
    ]
    before = every_file(tree.output / "archive")
    tree.put(Copy("new.md", f"{BASE}m/new", "Newest", -1, topics=("AI",)))
    result = tree.build()
    assert result.report is not None
    after = every_file(tree.output / "archive")
    changed = sorted(p for p in before.keys() & after.keys() if before[p] != after[p])
    # An article leaves the feed for November's archive: its last page changes, nothing
    # in October or before.
    assert changed and all(p.startswith("2026-11/") for p in changed), changed
    check_history(tree)


def test_an_article_added_to_a_busy_month_changes_the_pages_the_rule_says(
    tmp_path: Path,
) -> None:
    """Pages are not cut by count: an article added in the middle of a month changes its
    own page (and the ones after it only up to the next page its articles' ids end)."""
    tree = Tree(tmp_path, _config(2))
    for copy in _month_files(40):
        tree.put(copy)
    tree.build()
    pages_before = _month_pages(tree.output, "2026-10")
    files_before = every_file(tree.output / "archive/2026-10")
    # An article between October 20 and 21 whose id ends no page (one in two would).
    urls = (f"{BASE}added/{k}" for k in range(100))
    url = next(u for u in urls if zlib.crc32(u.encode()) % 2)
    tree.put(Copy("added.md", url, "Added", -DAY * 37 + 12, topics=("AI",)))
    result = tree.build()
    assert result.incremental and result.feeds_rendered < len(pages_before)
    pages_after = _month_pages(tree.output, "2026-10")
    ids = [article_id for page in pages_after for article_id in page]
    assert pages_after == _reference_pages(ids, 2) and url in ids
    files_after = every_file(tree.output / "archive/2026-10")
    changed_pages = {
        int(p.split("/")[0]) if "/" in p else 1
        for p in files_before.keys() | files_after.keys()
        if files_before.get(p) != files_after.get(p)
    }
    expected = {
        number
        for number in range(1, max(len(pages_before), len(pages_after)) + 1)
        if pages_before[number - 1 : number] != pages_after[number - 1 : number]
    }
    # A page whose neighbour changed number of pages keeps its items but changes links.
    assert expected <= changed_pages <= expected | {min(expected) - 1, max(expected) + 1}
    assert len(expected) < len(pages_after) - 1
    check_history(tree)
    tree.build(cache=False, output=tmp_path / "cold")
    assert every_file(tree.output) == every_file(tmp_path / "cold")


def test_one_edit_rewrites_the_feeds_and_that_articles_month_only(tmp_path: Path) -> None:
    tree = Tree(tmp_path, _config(3))
    copies = _month_files(60)
    for copy in copies:
        tree.put(copy)
    tree.build()
    nothing = tree.build()
    assert nothing.report is not None and nothing.report.written == ()
    old = copies[45]  # 46 days ago: October
    tree.put(replace(old, title="Edited"))
    result = tree.build()
    assert result.report is not None
    written = sorted(result.report.written)
    assert written, "the edit is written"
    assert all("archive/2026-10/" in path for path in written), written
    assert feed_urls("https://example.com/", written) == []  # WebSub: no archive is pinged
    tree.build(cache=False, output=tmp_path / "cold")
    assert every_file(tree.output) == every_file(tmp_path / "cold")


def test_the_judges_accept_archive_documents(tmp_path: Path) -> None:
    import jsonschema
    from reader import make_reader
    from referencing import Registry, Resource

    tree = Tree(tmp_path, _config(2))
    for copy in _month_files(12):
        tree.put(copy)
    assert tree.build().errors == ()
    output = tree.output
    archives = sorted(p for p in output.rglob("*") if "archive" in p.parts and p.is_file())
    assert {p.name for p in archives} == {"rss.xml", "atom.xml", "feed.json"}
    rng = etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))
    base = json.loads((SCHEMAS / "jsonfeed-1.0.schema.json").read_text())
    registry = Registry().with_resources(
        [
            (url, Resource.from_contents(base))
            for url in ("https://json.schemastore.org/feed-1", "feed-1")
        ]
    )
    schema = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_text())
    validator = jsonschema.Draft4Validator(schema, registry=registry)
    reader = make_reader(str(tmp_path / "db.sqlite"), feed_root=str(output))
    try:
        for path in archives:
            rel = path.relative_to(output).as_posix()
            if path.suffix == ".xml":
                parsed = feedparser.parse(path.read_bytes())
                assert not parsed.bozo and parsed.entries, rel
                if path.name == "atom.xml":
                    assert rng.validate(etree.parse(str(path))), (rel, rng.error_log)
            else:
                assert [e.message for e in validator.iter_errors(load_json(path))] == [], rel
            reader.add_feed(rel)
        reader.update_feeds()
        for path in archives:
            rel = path.relative_to(output).as_posix()
            assert reader.get_feed(rel).last_exception is None, rel
            assert list(reader.get_entries(feed=rel)), rel
    finally:
        reader.close()


def test_opml_lists_subscription_feeds_and_pages_link_the_archive(tmp_path: Path) -> None:
    tree = Tree(tmp_path, _config(2))
    for copy in _month_files(3):
        tree.put(copy)
    tree.build()
    opml = (tree.output / OPML).read_text()
    assert "archive" not in opml
    newest = "archive/2026-11/rss.xml"
    assert f'href="{newest}"' in (tree.output / "index.html").read_text()
    assert f'href="topics/ai/{newest}"' in (tree.output / "index.html").read_text()
    assert f'href="{newest}"' in (tree.output / "topics" / "ai" / "index.html").read_text()


def test_archives_are_off_by_default_and_checked(tmp_path: Path) -> None:
    tree = Tree(tmp_path, Config(base_url=BASE, items_per_feed=1))
    for copy in _month_files(5):
        tree.put(copy)
    tree.build()
    assert not any("archive" in p.parts for p in tree.output.rglob("*"))
    assert "next_url" not in (tree.output / "feed.json").read_text()
    from feeds.config import parse_config

    assert parse_config({"archives": "off"}, "feeds.yaml", {}).archives is None
    with pytest.raises(ConfigError, match="archives: must be monthly"):
        parse_config({"archives": "weekly"}, "feeds.yaml", {})


def test_a_hostile_topic_keeps_its_archive_inside_the_output(tmp_path: Path) -> None:
    tree = Tree(tmp_path, _config(1))
    for i in range(3):
        text = article(
            n=i,
            topics=["../../etc"],
            publishedDateTime=NOW - timedelta(days=40 * i + 1),
        )
        (tree.content / f"h{i}.md").write_text(text, encoding="utf-8")
    result = tree.build()
    assert result.errors == ()
    for path in tmp_path.rglob("*.json"):
        assert path.is_relative_to(tree.output) or path.is_relative_to(tmp_path / "cache")


def _documents(output: Path) -> int:
    """How many feed documents (subscription feeds and archive documents) ``output`` holds."""
    return sum(1 for _ in output.rglob("atom.xml"))


def _layout_tree(tmp_path: Path) -> tuple[Tree, list[Copy]]:
    """Three items a feed; 60 articles a day apart over three months, every third one
    also about Space (two groups of archives), the odd ones from another provider."""
    tree = Tree(tmp_path, _config(3))
    copies = [
        replace(
            c, topics=("AI", "Space") if i % 3 == 0 else c.topics, domain="ab"[i % 2] + ".example"
        )
        for i, c in enumerate(_month_files(60))
    ]
    for copy in copies:
        tree.put(copy)
    assert tree.build().errors == ()
    return tree, copies


def test_edits_in_past_months_update_the_layout_and_match_a_cold_build(tmp_path: Path) -> None:
    """Edits, adds, deletes and renames in past months, drafts and future copies of
    archived articles, and articles pushed out of a feed and back: after each, the build
    with the cache plans only the documents the change touches and writes the bytes a
    build without a cache writes."""
    tree, copies = _layout_tree(tmp_path)
    october, september = copies[40], copies[55]  # 41 and 56 days ago
    steps: list[tuple[str, Any]] = [
        ("retitle in October", lambda: tree.put(replace(october, title="Edited"))),
        ("add in September", lambda: tree.put(Copy("z1.md", f"{BASE}m/z1", "Late", -DAY * 70))),
        ("delete in September", lambda: tree.delete(september.name)),
        (
            "rename a file",
            lambda: (tree.delete(copies[50].name), tree.put(replace(copies[50], name="r50.md"))),
        ),
        ("redate October to August", lambda: tree.put(replace(copies[45], hours=-DAY * 100))),
        ("draft an archived article", lambda: tree.put(replace(copies[30], draft=True))),
        ("publish it again", lambda: tree.put(replace(copies[30], draft=False))),
        (
            "a future copy of an archived article",
            lambda: tree.put(replace(copies[35], name="f35.md", hours=DAY * 40)),
        ),
        (
            "a draft copy of an archived article",
            lambda: tree.put(replace(copies[36], name="d36.md", draft=True, hours=-1)),
        ),
        (
            "a newer copy takes an archived article into the feed",
            lambda: tree.put(replace(copies[37], name="n37.md", hours=-1)),
        ),
        ("and leaves again", lambda: tree.delete("n37.md")),
        (
            "a new article pushes the oldest out of the feeds",
            lambda: tree.put(Copy("z2.md", f"{BASE}m/z2", "Newest", -1, topics=("AI", "Space"))),
        ),
        ("and its deletion brings it back", lambda: tree.delete("z2.md")),
        (
            "a feed article redated into the archive",
            lambda: tree.put(replace(copies[0], hours=-DAY * 80)),
        ),
        ("and back", lambda: tree.put(copies[0])),
        (
            "an archived article changes topics",
            lambda: tree.put(replace(copies[42], topics=("Space",))),
        ),
        (
            "an archived article changes provider",
            lambda: tree.put(replace(copies[43], domain="c.example")),
        ),
        (
            "a group's commoner spelling changes: all its documents' titles change",
            lambda: [tree.put(replace(copies[i], topics=("AI", "SPACE"))) for i in range(0, 33, 3)],
        ),
    ]
    for serial, (what, step) in enumerate(steps):
        step()
        result = tree.build()
        assert result.errors == (), what
        assert result.incremental, what
        # Never every document: the layout is updated, not made again.
        assert result.documents_planned < _documents(tree.output), what
        check_history(tree)
        cold = tmp_path / f"cold{serial}"
        tree.build(cache=False, output=cold)
        assert every_file(tree.output) == every_file(cold), what


def test_an_edit_of_an_article_every_feed_holds_plans_no_archive_document(
    tmp_path: Path,
) -> None:
    """The newest article is in the subscription feed of each of its groups before and
    after a new title: no archive document holds it, so none is planned or read again;
    one that leaves a feed for the archive touches its month there."""
    tree, copies = _layout_tree(tmp_path)
    site_feeds = _documents(tree.output) - sum(
        1 for path in tree.output.rglob("atom.xml") if "/archive/" in path.as_posix()
    )
    tree.put(replace(copies[0], title="Edited"))
    result = tree.build()
    assert result.incremental and result.documents_planned == site_feeds
    assert result.report is not None
    assert all("/archive/" not in f"/{rel}" for rel in result.report.written)
    cold = tmp_path / "cold"
    tree.build(cache=False, output=cold)
    assert every_file(tree.output) == every_file(cold)
    # Redated into last month's archive: it leaves its feeds, its month is planned.
    tree.put(replace(copies[0], title="Edited", hours=-DAY * 40))
    result = tree.build()
    assert result.incremental and result.documents_planned > site_feeds
    tree.build(cache=False, output=cold)
    assert every_file(tree.output) == every_file(cold)


def test_an_archive_folder_changed_by_hand_is_checked_and_written_again(tmp_path: Path) -> None:
    """Untouched archive documents are neither fingerprinted nor checked one by one: a run
    stats each feed's archive folder. A month folder removed by hand changes it, and the
    next build, with no change in the content, checks that feed's files and writes the
    removed month again, and only it."""
    tree, _ = _layout_tree(tmp_path)
    cold = tmp_path / "cold"
    tree.build(cache=False, output=cold)
    shutil.rmtree(tree.output / "topics" / "space" / "archive" / "2026-09")
    result = tree.build()
    assert result.incremental and result.documents_planned < _documents(tree.output)
    assert result.report is not None
    assert sorted(result.report.written) == [
        f"topics/space/archive/2026-09/{name}" for name in ("atom.xml", "feed.json", "rss.xml")
    ]
    assert every_file(tree.output) == every_file(cold)
    again = tree.build()  # the folder as written now: nothing to do
    assert again.report is not None and again.report.written == ()
    assert again.feeds_rendered == 0


def test_an_archive_document_changed_by_hand_in_place_waits_for_its_month(tmp_path: Path) -> None:
    """A file of a past month changed or deleted by hand inside its month's folder is not
    noticed by a run that touches other months (that would be a stat of every archive
    file, every run); a build that renders its month, or a build without the cache,
    writes it again."""
    tree, copies = _layout_tree(tmp_path)
    edited = tree.output / "archive" / "2026-09" / "atom.xml"
    deleted = tree.output / "topics" / "space" / "archive" / "2026-09" / "feed.json"
    with edited.open("ab") as f:
        f.write(b"<!-- changed by hand -->")
    deleted.unlink()
    tree.put(replace(copies[40], title="Edited in October"))
    result = tree.build()
    assert result.incremental and result.report is not None
    assert result.report.written and edited.read_bytes().endswith(b"<!-- changed by hand -->")
    assert not deleted.exists()
    repaired = tree.build(cache=False)
    assert repaired.report is not None
    assert sorted(repaired.report.written) == [
        "archive/2026-09/atom.xml",
        "topics/space/archive/2026-09/feed.json",
    ]
    cold = tmp_path / "cold"
    tree.build(cache=False, output=cold)
    assert every_file(tree.output) == every_file(cold)
    assert tree.build().report.written == ()  # type: ignore[union-attr]


def test_a_lost_part_of_the_manifest_lays_the_archives_out_again(tmp_path: Path) -> None:
    """The manifest records each feed's archive folder in a part of its own, named by its
    digest. One removed or damaged by hand makes the next build plan every document
    again; the files it finds already right stay untouched, and every file is recorded."""
    tree, _ = _layout_tree(tmp_path)
    parts = tree.output / PARTS
    manifest = read_old(tree.output)
    assert set(manifest.parts) == {
        "archive/",
        "topics/ai/archive/",
        "topics/space/archive/",
        "providers/a.example/archive/",
        "providers/b.example/archive/",
    }
    space = manifest.parts["topics/space/archive/"]
    (parts / f"{space.name}.json").unlink()
    ai = manifest.parts["topics/ai/archive/"]
    (parts / f"{ai.name}.json").write_text("{}")
    before = every_file(tree.output)
    result = tree.build()
    assert result.report is not None and result.report.written == ()
    assert result.documents_planned == _documents(tree.output)
    assert every_file(tree.output) == before
    recorded = dict(read_old(tree.output))
    assert {rel for rel in before if "/archive/" in f"/{rel}"} <= recorded.keys()
    assert sorted(p.name for p in parts.iterdir()) == sorted(
        f"{ref.name}.json" for ref in read_old(tree.output).parts.values()
    )


def test_an_archive_documents_folder_names_its_group_and_month() -> None:
    from feeds.archive_update import document_place

    assert document_place("archive/2026-09/") == ("", "2026-09")
    assert document_place("archive/2026-09/3/") == ("", "2026-09")
    assert document_place("topics/archive/archive/2026-09/") == ("topics/archive", "2026-09")
    assert document_place("providers/a.example/archive/2026-09/2/") == (
        "providers/a.example",
        "2026-09",
    )
    for folder in ("", "topics/archive/", "topics/ai/", "topics/ai/archive/", "archive/x/"):
        assert document_place(folder) is None, folder


_MONTHS = [f"2026-{m:02d}" for m in range(1, 9)]


def _same_decisions(
    whole: dict[Any, Any],
    other: dict[Any, Any],
    part: dict[Any, Any],
    part_other: dict[Any, Any],
    touched: set[str],
) -> None:
    """Every document of the layout ``whole`` that is in a touched month or whose links
    the ``other`` layout changes is in ``part``, and ``part`` (against ``part_other``)
    tells the same of each document it holds."""
    for document, links in whole.items():
        changed = document[0] in touched or other.get(document) != links
        if changed:
            assert document in part, document
        if document in part:
            decided = document[0] in touched or part_other.get(document) != part[document]
            assert decided == changed, document


@settings(max_examples=300, deadline=None)
@given(
    old=st.dictionaries(st.sampled_from(_MONTHS), st.integers(1, 3)),
    touched=st.sets(st.sampled_from(_MONTHS)),
    changes=st.dictionaries(st.sampled_from(_MONTHS), st.integers(0, 3)),
    group=st.sampled_from(["", "topics/ai"]),
)
def test_property_the_links_a_change_can_alter_are_those_near_its_months(
    old: dict[str, int], touched: set[str], changes: dict[str, int], group: str
) -> None:
    """An update lays out only the documents in the months it touches and next to them
    (:func:`feeds.archive._relinks`): every document whose links differ between the two
    layouts is among them, with the links the whole layouts give it."""
    from feeds.archive_update import _links, _pages_of, _relinks

    new = dict(old)
    for month in touched:  # the layouts differ in the touched months only
        if changes.get(month):
            new[month] = changes[month]
        else:
            new.pop(month, None)
    every = set(_pages_of(old)) | set(_pages_of(new))
    whole_before = _links(_pages_of(old), group, every)
    whole_after = _links(_pages_of(new), group, every)
    assert len(whole_before) == sum(old.values()) and len(whole_after) == sum(new.values())
    before, after = _relinks(old, new, touched, group)
    assert before.items() <= whole_before.items() and after.items() <= whole_after.items()
    _same_decisions(whole_before, whole_after, before, after, touched)  # planned again
    _same_decisions(whole_after, whole_before, after, before, touched)  # rendered
