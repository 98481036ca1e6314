"""The incremental cache: same output as a cold build, less work, and never a wrong feed."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, article, write_tree
from conftest import published_files as outputs

import feeds.cache
import feeds.cache.db
import feeds.tasks
from feeds.build import BuildOptions, BuildResult, build
from feeds.cache import DB_FILE
from feeds.config import Config


@pytest.fixture(autouse=True)
def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests write files and build at once; the racy-file guard has its own test."""
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)


def _related(n: int) -> list[dict[str, Any]]:
    return [
        {"title": f"Related {n}.{i}", "webUrl": f"https://r.example/{n}/{i}", "excerpt": "More."}
        for i in range(n % 3)
    ]


def _site(n: int = 30) -> dict[str, str | bytes]:
    """Articles spread over a few topics and providers, most with related items."""
    return {
        f"{n:03d}.md": article(
            n=n,
            topics=[f"Topic {n % 5}", "All"],
            provider={"name": f"P{n % 3}", "domain": f"p{n % 3}.example"},
            related=_related(n),
        )
        for n in range(n)
    }


class Site:
    """A content folder, an output folder and a cache, built again and again."""

    def __init__(self, root: Path, files: dict[str, str | bytes], config: Config | None = None):
        self.root = root
        self.content = write_tree(root / "content", files)
        self.output = root / "public"
        self.cache = root / "cache"
        self.config = config or Config()

    def build(self, *, cache: bool = True, **options: Any) -> BuildResult:
        return build(
            options.pop("config", self.config),
            BuildOptions(
                content=self.content,
                output=options.pop("output", self.output),
                now=options.pop("now", NOW),
                cache=self.cache if cache else None,
                **options,
            ),
        )

    def cold(self, **options: Any) -> dict[str, bytes]:
        """What a build without any cache writes, for comparison."""
        out = self.root / "cold"
        self.cold_result = build(
            options.pop("config", self.config),
            BuildOptions(content=self.content, output=out, now=options.pop("now", NOW), **options),
        )
        return outputs(out)

    def write(self, rel: str, text: str) -> None:
        write_tree(self.content, {rel: text})

    def mtimes(self) -> dict[str, int]:
        return {p: (self.output / p).stat().st_mtime_ns for p in outputs(self.output)}


def test_a_rebuild_with_nothing_changed_reads_renders_and_writes_nothing(tmp_path: Path) -> None:
    site = Site(tmp_path, _site())
    first = site.build()
    assert first.files_reread == first.files_read == 30
    assert first.feeds_rendered == first.feeds == 1 + 6 + 3
    before = site.mtimes()
    again = site.build()
    assert again.files_reread == 0 and again.feeds_rendered == 0
    assert again.report is not None and again.report.written == ()
    assert site.mtimes() == before
    assert outputs(site.output) == site.cold()


def _no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("articles were loaded")

    monkeypatch.setattr(feeds.cache.Look, "known", refuse)
    monkeypatch.setattr(feeds.cache.Look, "previous", refuse)


def test_when_nothing_changed_no_article_is_even_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site(tmp_path, _site() | {"bad.md": article(n=99, publishedDateTime="soon")})
    first = site.build()
    before = site.mtimes()
    with monkeypatch.context() as m:
        _no_loading(m)
        again = site.build()
    assert again.problems == first.problems and len(again.problems) == 1
    assert (again.articles, again.feeds) == (first.articles, first.feeds)
    assert again.report is not None and again.report.written == again.report.removed == ()
    assert set(again.report.unchanged) == set(outputs(site.output))
    assert site.mtimes() == before
    # --strict must not publish over problems: it goes the long way and writes nothing.
    strict = site.build(strict=True)
    assert strict.report is None and site.mtimes() == before


def test_a_clock_going_back_is_not_trusted(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(5) | {"late.md": article(n=99, publishedDateTime=NOW)})
    site.build()
    earlier = NOW.replace(year=NOW.year - 1)
    result = site.build(now=earlier)
    assert result.feeds_rendered > 0
    assert outputs(site.output) == site.cold(now=earlier)


def test_a_template_change_is_seen(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    builtin = Path(feeds.__file__).parent / "templates" / "index.html"
    write_tree(templates, {"index.html": builtin.read_text("utf-8")})
    site = Site(tmp_path, _site(5), replace(Config(), templates=str(templates)))
    site.build()
    write_tree(templates, {"index.html": "<html>{{ config.title }}</html>\n"})
    result = site.build()
    assert result.report is not None and result.report.written == ("index.html",)
    assert (site.output / "index.html").read_text() == "<html>feeds</html>\n"


def test_a_change_in_a_symlinked_template_folder_is_seen(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    write_tree(templates, {"index.html": '{% include "parts/title.html" %}\n'})
    write_tree(tmp_path / "shared", {"title.html": "<h1>one</h1>"})
    (templates / "parts").symlink_to(tmp_path / "shared")
    (tmp_path / "shared" / "loop").symlink_to(tmp_path / "shared")  # ends, and is read once
    site = Site(tmp_path, _site(5), replace(Config(), templates=str(templates)))
    site.build()
    assert (site.output / "index.html").read_text() == "<h1>one</h1>"
    write_tree(tmp_path / "shared", {"title.html": "<h1>two</h1>"})
    result = site.build()
    assert result.report is not None and result.report.written == ("index.html",)
    assert (site.output / "index.html").read_text() == "<h1>two</h1>"


def test_editing_one_article_rewrites_only_the_feeds_that_hold_it(tmp_path: Path) -> None:
    site = Site(tmp_path, _site())
    site.build()
    before = site.mtimes()
    site.write(
        "007.md",
        article(
            n=7,
            title="A new title",
            topics=["Topic 2", "All"],
            provider={"name": "P1", "domain": "p1.example"},
        ),
    )
    result = site.build()
    assert result.incremental  # the last run's choice was updated, not made again
    assert result.files_reread == 1
    assert result.feeds_rendered == 4  # site, topic-2, all, p1
    changed = {p for p, t in site.mtimes().items() if t != before[p]}
    groups = ("topics/topic-2/", "topics/all/", "providers/p1.example/")
    assert changed == {
        f"{folder}{name}"
        for folder in ("", *groups)
        for name in ("rss.xml", "atom.xml", "feed.json")
    } | {f"{folder}index.html" for folder in groups}  # only the pages of the changed groups
    assert outputs(site.output) == site.cold()


def test_adding_or_deleting_an_article_in_a_groups_past_renders_no_feed(tmp_path: Path) -> None:
    """A group's feeds and page show its newest items, not how many it has in all (the
    index page does): an article older than every feed's items changes only the index."""
    site = Site(tmp_path, _site(), Config(items_per_feed=5))
    site.build()
    before = site.mtimes()
    old = NOW.replace(year=2001)
    site.write(
        "old.md",
        article(n=90, topics=["Topic 2", "All"], publishedDateTime=old,
                provider={"name": "P1", "domain": "p1.example"}),
    )  # fmt: skip
    added = site.build()
    assert added.incremental and added.files_reread == 1
    assert added.feeds_rendered == 0
    assert added.report is not None and added.report.written == ("index.html",)
    assert {p for p, t in site.mtimes().items() if t != before[p]} == {"index.html"}
    assert outputs(site.output) == site.cold()
    (site.content / "old.md").unlink()
    deleted = site.build()
    assert deleted.feeds_rendered == 0
    assert deleted.report is not None and deleted.report.written == ("index.html",)
    assert outputs(site.output) == site.cold()


def test_removing_every_article_of_a_provider_removes_its_feeds(tmp_path: Path) -> None:
    site = Site(tmp_path, _site())
    site.build()
    (site.output / "robots.txt").write_text("User-agent: *\n")
    (site.output / "CNAME").write_text("feeds.example.com\n")
    for n in range(2, 30, 3):
        (site.content / f"{n:03d}.md").unlink()
    result = site.build()
    assert result.report is not None
    assert result.report.removed == tuple(
        f"providers/p2.example/{name}"
        for name in ("atom.xml", "feed.json", "index.html", "rss.xml")
    )
    assert not (site.output / "providers" / "p2.example").exists()
    assert (site.output / "robots.txt").exists() and (site.output / "CNAME").exists()
    assert {p for p in outputs(site.output) if p not in ("robots.txt", "CNAME")} == set(site.cold())
    assert len(_rows(site)) == 20


def test_problems_of_cached_files_are_reported_on_every_run(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(3) | {"bad.md": article(n=9, publishedDateTime="soon")})
    first = site.build()
    second = site.build()
    assert second.files_reread == 0
    assert [str(p) for p in second.problems] == [str(p) for p in first.problems]
    assert "publishedDateTime" in str(second.problems[0])


def test_duplicates_are_resolved_the_same_from_the_cache(tmp_path: Path) -> None:
    files = _site(3) | {"z-copy.md": article(n=1, title="Same URL, newer", heat=5)}
    site = Site(tmp_path, files)
    first = site.build()
    second = site.build()
    assert second.problems == first.problems and len(second.problems) == 1
    assert outputs(site.output) == site.cold()


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Renamed site"},
        {"base_url": "https://feeds.example.com/"},
        {"items_per_feed": 3},
        {"formats": ("json",)},
        {"timezone": "Europe/Berlin", "max_related": 1},
    ],
)
def test_a_configuration_change_rebuilds_what_it_affects(tmp_path: Path, change: Any) -> None:
    site = Site(tmp_path, _site(10))
    site.build()
    config = replace(Config(), **change)
    result = site.build(config=config)
    assert result.feeds_rendered == result.feeds
    if "timezone" in change:
        assert result.files_reread == result.files_read
    assert {p: b for p, b in outputs(site.output).items()} == site.cold(config=config)


def test_a_future_article_appears_when_its_time_comes(tmp_path: Path) -> None:
    later = NOW.replace(year=NOW.year + 1)
    site = Site(tmp_path, _site(5) | {"future.md": article(n=99, publishedDateTime=later)})
    site.build()
    assert b"news.example.com/99" not in (site.output / "rss.xml").read_bytes()
    result = site.build(now=later)
    assert result.files_reread == 0 and result.feeds_rendered > 0
    assert b"news.example.com/99" in (site.output / "rss.xml").read_bytes()
    assert outputs(site.output) == site.cold(now=later)


def test_an_output_file_changed_by_hand_is_rendered_again(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(5))
    site.build()
    expected = (site.output / "topics/all/atom.xml").read_bytes()
    (site.output / "topics/all/atom.xml").write_bytes(b"broken")
    (site.output / "rss.xml").unlink()
    result = site.build()
    assert result.report is not None
    assert sorted(result.report.written) == ["rss.xml", "topics/all/atom.xml"]
    assert (site.output / "topics/all/atom.xml").read_bytes() == expected


def test_a_build_without_the_cache_in_between_cannot_fool_it(tmp_path: Path) -> None:
    """The cache says 'feed F was rendered from X'; a --no-cache run then writes Y there."""
    site = Site(tmp_path, _site(5))
    original = article(
        n=1, topics=["Topic 1", "All"], provider={"name": "P1", "domain": "p1.example"}
    )
    site.build()
    site.write("001.md", original.replace("Article number 1", "Changed"))
    site.build(cache=False)
    site.write("001.md", original)
    site.build()
    assert outputs(site.output) == site.cold()


def test_another_output_folder_has_its_own_records(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(5))
    site.build()
    other = tmp_path / "other"
    result = site.build(output=other)
    assert result.files_reread == 0 and result.feeds_rendered == result.feeds
    assert outputs(other) == outputs(site.output)


def test_files_changed_just_before_the_run_are_checked_again_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their stamps are not trusted: their bytes are digested again, and only a file whose
    bytes differ is read again; feeds of files with the same bytes are not rendered."""
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 3600)
    site = Site(tmp_path, _site(3))
    first = site.build()
    assert first.feeds_rendered == first.feeds
    again = site.build()  # too fresh to trust their stamps: the same bytes, though
    assert again.files_reread == 0 and again.feeds_rendered == 0
    assert again.report is not None and again.report.written == ()
    # The same size, and (on a coarse clock) the same stamp: only the bytes tell.
    path = site.content / "001.md"
    text = path.read_text()
    assert "Article number 1" in text
    path.write_text(text.replace("Article number 1", "Brticle number 1", 1))
    edited = site.build()
    assert edited.files_reread == 1 and edited.feeds_rendered > 0
    assert outputs(site.output) == site.cold()
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    site.build()
    assert site.build().files_reread == 0


def _touch_all(folder: Path) -> None:
    """Every file's stamp changes, not its bytes (as a checkout or a copy without times)."""
    for path in folder.rglob("*.md"):
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)  # a new inode, size unchanged, new times


def test_touching_every_file_renders_nothing(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(12) | {"bad.md": "---\ntitle: [unclosed\n---\n"})
    first = site.build()
    before = site.mtimes()
    _touch_all(site.content)
    again = site.build()
    assert again.files_reread == 0 and again.feeds_rendered == 0
    assert again.report is not None and again.report.written == ()
    assert again.problems == first.problems
    assert site.mtimes() == before
    assert outputs(site.output) == site.cold()
    # Touching a few (the incremental path) renders nothing either, and an edit after
    # a touch is still seen.
    for rel in ("001.md", "002.md"):
        path = site.content / rel
        path.write_bytes(path.read_bytes())
    touched = site.build()
    assert touched.incremental and touched.files_reread == 0 and touched.feeds_rendered == 0
    site.write("002.md", article(n=2, title="Edited after a touch"))
    edited = site.build()
    assert edited.files_reread == 1 and edited.feeds_rendered > 0
    assert outputs(site.output) == site.cold()
    assert site.build().feeds_rendered == 0


def _corrupt_file(site: Site) -> None:
    (site.cache / DB_FILE).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (site.cache / (DB_FILE + suffix)).unlink(missing_ok=True)


def _rows(site: Site) -> list[str]:
    """The files the cache holds a record of."""
    db = sqlite3.connect(site.cache / DB_FILE)
    return sorted(rel for (rel,) in db.execute("SELECT rel FROM files"))


def _update(site: Site, statement: str, *values: Any) -> None:
    db = sqlite3.connect(site.cache / DB_FILE)
    db.execute(statement, values)
    db.commit()


def _damage_a_row(site: Site) -> None:
    _update(site, "UPDATE files SET topics = substr(topics, 1, length(topics) - 2)")


def _unloadable_rows(site: Site) -> None:
    _update(site, 'UPDATE files SET provider = \'{"not": "a pair"}\'')


def _unloadable_problems(site: Site) -> None:
    _update(
        site,
        "INSERT INTO problems SELECT root, '001.md', 0, 'x', 1, 'f', 'm', 'catastrophe'"
        " FROM choice",
    )


def _wrong_brief(site: Site) -> None:
    _update(site, "UPDATE files SET draft = 7")


def _wrong_group(site: Site) -> None:
    _update(site, 'UPDATE groups SET candidates = \'[["not", "a", "candidate"]]\'')


def _other_version(site: Site) -> None:
    db = sqlite3.connect(site.cache / DB_FILE)
    db.execute("UPDATE meta SET value = 'feeds 0.0.1' WHERE key = 'version'")
    db.commit()


def _truncated(site: Site) -> None:
    path = site.cache / DB_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty_file(site: Site) -> None:
    (site.cache / DB_FILE).write_bytes(b"")


@pytest.mark.parametrize(
    "damage",
    [
        _corrupt_file,
        _damage_a_row,
        _unloadable_rows,
        _unloadable_problems,
        _wrong_brief,
        _wrong_group,
        _other_version,
        _truncated,
        _empty_file,
    ],
)
def test_a_damaged_cache_is_discarded_and_the_build_is_right(tmp_path: Path, damage: Any) -> None:
    site = Site(tmp_path, _site(10))
    site.build()
    site.write("003.md", article(n=3, title="Changed while the cache was damaged"))
    damage(site)
    result = site.build()
    assert result.files_reread == result.files_read
    assert outputs(site.output) == site.cold()
    if damage is not _empty_file:
        assert any("discarded" in note for note in result.cache_notes), result.cache_notes
    again = site.build()
    assert again.cache_notes == () and again.files_reread == 0


def test_an_article_changed_between_choosing_and_rendering_starts_the_build_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pass two reads an article again; if it is not what pass one chose, start over."""
    site = Site(tmp_path, _site(10))
    site.build()
    site.write("003.md", article(n=3, title="First edit", topics=["All"]))
    real = feeds.tasks.read_again
    reads: list[str] = []

    def edit_during_the_build(source: Any, *args: Any) -> Any:
        reads.append(source.rel)
        if source.rel == "003.md" and reads.count("003.md") == 1:  # after pass one read it
            # A newer date: the article is no longer the one pass one chose feeds with.
            moved = NOW.replace(year=2026, month=1)
            site.write(
                "003.md",
                article(n=3, title="Second edit", topics=["All"], publishedDateTime=moved),
            )
        return real(source, *args)

    monkeypatch.setattr(feeds.tasks, "read_again", edit_during_the_build)
    site.build()
    assert reads.count("003.md") == 2  # changed under us; read again after starting over
    assert b"Second edit" in (site.output / "rss.xml").read_bytes()
    assert outputs(site.output) == site.cold()


def test_an_unwritable_cache_only_makes_runs_colder(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(3))
    site.cache.write_text("a file where the folder should be")
    result = site.build()
    assert result.cache_notes and result.files_reread == 3
    assert outputs(site.output) == site.cold()


def test_the_cache_holds_plain_values_only(tmp_path: Path) -> None:
    """Rows hold numbers, text (JSON for lists) and digests: nothing read from a cache
    folder runs code (so a folder others could write needs no owner check; at worst it
    makes a run colder)."""
    site = Site(tmp_path, _site(5) | {"bad.md": "---\ntitle: [unclosed\n---\n"})
    site.build()
    db = sqlite3.connect(site.cache / DB_FILE)
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    for table in tables:
        for row in db.execute(f"SELECT * FROM {table}"):
            assert all(v is None or type(v) in (int, str, bytes) for v in row)
    problems = db.execute("SELECT path, field, severity FROM problems").fetchall()
    assert problems and all(severity in ("error", "warning") for _, _, severity in problems)


def test_check_uses_the_cache_and_writes_no_output(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(5))
    site.build(write=False)
    result = site.build(write=False)
    assert result.files_reread == 5 and result.report is None  # check made no cache
    assert not site.output.exists()
    site.build()
    shutil.rmtree(site.output)
    result = site.build(write=False)
    assert result.files_reread == 0 and result.report is None  # but reads the build's
    assert not site.output.exists()


@pytest.mark.parametrize("nested", [False, True])
def test_random_edits_always_give_the_cold_build(tmp_path: Path, nested: bool) -> None:
    """Whatever happens to the content, an incremental build writes what a cold one would."""
    rnd = random.Random(7)

    def where(n: int) -> str:  # nested: 000.md in folder 0/, a/ or a/b/ (deep, and mixed)
        return f"{('0', 'a', 'a/b', 'z')[n % 4]}/{n:03d}.md" if nested else f"{n:03d}.md"

    files = {where(int(rel[:3])): text for rel, text in _site(25).items()}
    site = Site(tmp_path, files)
    site.build()
    ways: dict[str, set[bool]] = defaultdict(set)
    for step in range(30):
        n = rnd.randrange(40)
        rel = where(n)
        action = rnd.choice(["edit", "edit", "delete", "add", "unpublish", "break", "folder"])
        path = site.content / rel
        if action == "folder" and nested:  # a whole folder goes
            shutil.rmtree(path.parent, ignore_errors=True)
            path.parent.parent.mkdir(parents=True, exist_ok=True)
            os.utime(path.parent.parent)
        elif action in ("delete", "folder"):
            path.unlink(missing_ok=True)
        elif action == "unpublish":
            site.write(rel, article(n=n, published=False))
        elif action == "break":
            site.write(rel, "---\ntitle: [unclosed\n---\n")
        else:
            topics = rnd.sample(["A", "B", "C", "D", "All"], 2)
            domain = rnd.choice(["p0.example", "p1.example", "p9.example"])
            site.write(
                rel,
                article(
                    n=n,
                    title=f"Step {step}",
                    topics=topics,
                    provider={"name": domain.upper(), "domain": domain},
                    related=_related(n + step),
                ),
            )
        if path.parent.exists():
            os.utime(path.parent)
        result = site.build()
        assert outputs(site.output) == site.cold(), (step, action, rel)
        # The same problems, in the same order, as a build without a cache reports.
        assert list(map(str, result.problems)) == list(map(str, site.cold_result.problems))
        assert result.articles == site.cold_result.articles
        assert result.counts == site.cold_result.counts, (step, action, rel)
        assert result.files_reread <= 1
        ways[action].add(result.incremental)
        again = site.build()
        assert again.report is not None and again.report.written == ()
        assert again.counts == result.counts
    # Edits, new files and unpublishing update the last choice from the changed file.
    assert True in ways["edit"] and True in ways["add"] and True in ways["unpublish"]


def test_library_versions_are_read_from_dist_info_folders_as_metadata_gives_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    versions = feeds.cache.db._library_versions()
    assert versions == {name: metadata.version(name) for name in feeds.cache.db._LIBRARIES}
    jinja = metadata.version("Jinja2")
    # A second copy of a library ahead on the path, and one not installed at all.
    (tmp_path / "jinja2-9.9.dist-info").mkdir()
    libraries = (*feeds.cache.db._LIBRARIES, "No-Such_lib")
    monkeypatch.setattr(feeds.cache.db, "_LIBRARIES", libraries)
    monkeypatch.syspath_prepend(str(tmp_path))
    again = feeds.cache.db._library_versions()
    assert again["Jinja2"] == f"9.9|{jinja}"
    assert again["No-Such_lib"] == "-"


def test_digests_depend_on_values_not_on_which_strings_are_shared() -> None:
    key = "p0.example"
    separate = "".join(["p0.", "example"])
    assert separate is not key
    shared = ("settings", "provider", key, "P0", key, ("a.md", "a.md"))
    apart = ("settings", "provider", key, "P0", separate, ("a.md", "".join(["a.", "md"])))
    assert feeds.cache.db.canonical(shared) == feeds.cache.db.canonical(apart)


def test_an_incremental_build_counts_what_a_cold_one_does(tmp_path: Path) -> None:
    files = _site(12) | {
        "draft.md": article(n=90, published=False),
        "later.md": article(n=91, publishedDateTime="2099-01-01T00:00:00Z"),
        "gone.md": article(n=92, removed=True),
        "bad.md": "---\ntitle: [unclosed\n---\n",
    }
    site = Site(tmp_path, files)
    first = site.build()
    assert (first.counts.published, first.counts.drafts) == (12, 1)
    assert (first.counts.future, first.counts.removed) == (1, 1)
    site.write("003.md", article(n=3, title="Edited", topics=["Topic 1"]))
    site.write("050.md", article(n=50, topics=["New"]))
    (site.content / "007.md").unlink()
    result = site.build()
    assert result.incremental
    site.cold()
    assert result.counts == site.cold_result.counts
    assert result.counts.published == 12 and result.counts.drafts == 1
    assert site.build().counts == result.counts  # answered from the last run


def test_file_names_that_are_not_utf8_are_cached_like_any_other(tmp_path: Path) -> None:
    site = Site(tmp_path, _site(4))
    odd = site.content / os.fsdecode(b"caf\xe9.md")  # Latin-1: not UTF-8
    odd.write_text(article(n=40, topics=["Topic 1"]))
    first = site.build()
    assert first.articles == 5
    again = site.build()
    assert again.files_reread == 0 and again.feeds_rendered == 0
    odd.write_text(article(n=40, title="Edited", topics=["Topic 1"]))
    edited = site.build()
    assert edited.incremental and edited.files_reread == 1
    assert outputs(site.output) == site.cold()


def test_the_folders_of_files_changed_just_now_are_stored_with_those_files_untrusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A racy file (changed too recently to trust its stamp next time) is stored with no
    stamp, and its folder's digest with it, so that the next run looks at that folder
    again; every other folder keeps the digest of its stamps."""
    import time

    from feeds.cache import Cache, Settings
    from feeds.model import Stamps

    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 60)
    old = time.time_ns() - 3600 * 10**9
    rels = ("a/1.md", "a/2.md", "b/1.md", "b/c/1.md", "b/2.md", "d/1.md", "d/2.md")
    runs = (("a/", 0, 2), ("b/", 2, 3), ("b/c/", 3, 4), ("b/", 4, 5), ("d/", 5, 7))
    settings = Settings(everything="", reading="", choosing="")
    (tmp_path / "content").mkdir()

    def stored(fresh: dict[int, tuple[int, int, int, int] | None]) -> set[str]:
        stamps = [fresh.get(i, (10, old, old, i + 1)) for i in range(len(rels))]
        with Cache.open(tmp_path / "cache") as cache:
            since = cache.trusted_before
            look = cache.look(
                tmp_path / "content",
                settings,
                rels=rels,
                stamps=Stamps(Stamps.pack(stamps)),
                runs=runs,
                recent=frozenset(
                    i for i, s in enumerate(stamps) if s is None or max(s[1], s[2]) >= since
                ),
            )
            digests, kept = look.digests(), look._stored_digests()
        assert digests.keys() == kept.keys() == {"a/", "b/", "b/c/", "d/"}
        return {folder for folder in digests if digests[folder] != kept[folder]}

    now = time.time_ns()
    assert stored({}) == set()
    assert stored({4: (10, now, now, 5)}) == {"b/"}  # the second run of b/
    # Changed (its ctime), and gone: a file gone counts as gone in either digest.
    assert stored({0: (10, old, now, 1), 3: None}) == {"a/"}
    assert stored({6: (10, now + 10**12, old, 7)}) == {"d/"}  # dated in the future


# -- entries of unchanged articles taken from the files written (feeds.reuse) ----------


def _rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files pass two reads again and renders, in the order it does (one job)."""
    seen: list[str] = []
    render_one = feeds.tasks.render_one

    def spy(item: feeds.tasks.Wanted, shared: dict[str, Any]) -> feeds.tasks.Rendered:
        seen.append(item.rel)
        return render_one(item, shared)

    monkeypatch.setattr(feeds.tasks, "render_one", spy)
    return seen


def _as_cold(site: Site) -> dict[str, bytes]:
    """The output, checked to be what a cold build of the same files writes."""
    written = outputs(site.output)
    assert written == site.cold(jobs=1)
    return written


@pytest.mark.parametrize(
    "config",
    [
        Config(items_per_feed=5),
        Config(items_per_feed=5, archives="monthly", base_url="https://s.example"),
        Config(items_per_feed=5, max_feed_bytes=6000),
    ],
    ids=["plain", "archives", "capped"],
)
def test_an_edit_renders_only_the_article_edited_and_takes_the_rest_from_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    site = Site(tmp_path, _site(), config)
    site.build()
    rendered = _rendered(monkeypatch)
    # The newest article (23:00): in the site feed, its topics' feeds and its provider's.
    site.write("023.md", article(n=23, title="Edited", topics=["Topic 3", "All"],
                                 provider={"name": "P2", "domain": "p2.example"},
                                 related=_related(23)))  # fmt: skip
    result = site.build(jobs=1)
    assert result.feeds_rendered == 4
    if config.max_feed_bytes > 10_000:
        assert rendered == ["023.md"]
    else:  # the members a capped feed leaves out are in none of its feed files
        assert rendered[0] == "023.md" and len(rendered) < 30
    _as_cold(site)
    # A deleted article: of the articles of its three feeds, only one that takes its
    # place in a feed (in none of the feed's files yet) is read and rendered, if any.
    rendered.clear()
    (site.content / "012.md").unlink()
    site.build(jobs=1)
    assert len(rendered) <= 3 and "012.md" not in rendered
    _as_cold(site)


def test_a_file_changed_by_hand_in_the_output_is_not_taken_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site(tmp_path, _site(), Config(items_per_feed=5, formats=("rss",)))
    site.build()
    feed = site.output / "topics" / "all" / "rss.xml"
    feed.write_bytes(feed.read_bytes().replace(b"Article number 22", b"Changed by hand"))
    (site.output / "rss.xml").write_bytes(b"")  # the site feed's copy is gone too
    rendered = _rendered(monkeypatch)
    site.write("023.md", article(n=23, title="Edited", topics=["All"]))
    site.build(jobs=1)
    assert "022.md" in rendered  # its item is not taken from a file changed since
    written = _as_cold(site)
    assert b"Changed by hand" not in written["topics/all/rss.xml"]


def test_an_item_is_rendered_again_when_what_it_names_is_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A related item naming an article that leaves the site is left out of the items
    of the articles that name it, though their files did not change."""
    naming = article(n=1, related=[{"title": "See 2", "webUrl": "https://news.example.com/2"}])
    files = {"001.md": naming, "002.md": article(n=2), "003.md": article(n=3)}
    site = Site(tmp_path, files, Config(related_published_only=True))
    site.build()
    assert b"https://news.example.com/2" in (site.output / "rss.xml").read_bytes()
    rendered = _rendered(monkeypatch)
    site.write("002.md", article(n=2, published=False))
    site.build(jobs=1)
    assert "001.md" in rendered
    written = _as_cold(site)
    assert b"https://news.example.com/2" not in written["rss.xml"]


def test_new_settings_render_every_article_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site(tmp_path, _site(12), Config(items_per_feed=5))
    site.build()
    rendered = _rendered(monkeypatch)
    site.config = Config(items_per_feed=5, title="Another title", max_related=1)
    site.build(jobs=1)
    assert sorted(rendered) == sorted(f"{n:03d}.md" for n in range(12))
    _as_cold(site)


def test_rows_asked_for_by_more_values_than_a_statement_takes_all_come_back() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (root TEXT, name TEXT, n INTEGER)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", [("r", f"n{i}", i) for i in range(1500)])
    db.execute("INSERT INTO t VALUES ('other', 'n1', -1)")
    query = "SELECT name, n FROM t WHERE root = ? AND name IN"
    wanted = [f"n{i}" for i in range(0, 1500, 2)] + ["n2", "missing"]  # twice, and none
    rows = list(feeds.cache.db.rows_in(db, query, "r", wanted))
    assert sorted(n for _, n in rows) == list(range(0, 1500, 2))
