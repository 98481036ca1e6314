"""Which copy of an article is published, checked against a plain reference model.

Drafts, future and removed copies do not exist for a build (unless ``--unpublished`` /
``--future`` ask for them): two files with one canonical URL are resolved among the copies
the build may publish. Generated sets of files (shared URLs, drafts, future dates,
removals) are built cold and then edited; after every edit the incremental build must
give what the model says, and in the end the same bytes as a build without a cache.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, article, examples, write_tree
from conftest import published_files as every_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import feeds.cache
from feeds.build import BuildOptions, BuildResult, build
from feeds.config import Config

URLS = [f"https://news.example.com/story/{i}" for i in range(4)]
TOPICS = {"AI": "ai", "Space": "space"}
DOMAINS = ["a.example", "b.example"]


@dataclass(frozen=True)
class Copy:
    """One article file, as the model sees it."""

    name: str
    url: str
    title: str
    hours: int
    """Its date, in hours after ``NOW`` (negative: past; positive: future)."""
    draft: bool = False
    removed: bool = False
    topics: tuple[str, ...] = ()
    domain: str = "a.example"

    def text(self) -> str:
        return article(
            title=self.title,
            originalUrl=self.url,
            webUrl=self.url,
            publishedDateTime=NOW + timedelta(hours=self.hours),
            published=False if self.draft else None,
            removed=True if self.removed else None,
            topics=list(self.topics),
            provider={"name": self.domain.upper(), "domain": self.domain},
        )


def expected_feeds(
    copies: list[Copy], *, n: int, unpublished: bool = False, future: bool = False
) -> dict[str, list[tuple[str, str]]]:
    """The reference model: every feed folder and its items (id, title), newest first."""

    def publishable(c: Copy) -> bool:
        return not c.removed and (unpublished or not c.draft) and (future or c.hours <= 0)

    shown: dict[str, Copy] = {}
    for c in sorted(copies, key=lambda c: c.name):  # source order breaks ties: first wins
        if publishable(c) and (c.url not in shown or c.hours > shown[c.url].hours):
            shown[c.url] = c
    groups: dict[str, list[Copy]] = {"": list(shown.values())}
    for c in shown.values():
        for topic in dict.fromkeys(TOPICS[t] for t in c.topics):
            groups.setdefault(f"topics/{topic}", []).append(c)
        groups.setdefault(f"providers/{c.domain}", []).append(c)
    return {
        folder: [(c.url, c.title) for c in sorted(members, key=lambda c: (-c.hours, c.url))[:n]]
        for folder, members in groups.items()
    }


def expected_duplicates(
    copies: list[Copy], *, unpublished: bool = False, future: bool = False
) -> int:
    """Warnings: one per publishable copy beyond the first of its URL."""
    publishable = [
        c
        for c in copies
        if not c.removed and (unpublished or not c.draft) and (future or c.hours <= 0)
    ]
    return len(publishable) - len({c.url for c in publishable})


def published_feeds(output: Path) -> dict[str, list[tuple[str, str]]]:
    """Every feed folder written, with its JSON Feed's items (id, title)."""
    found = {}
    for path in output.rglob("feed.json"):
        folder = path.parent.relative_to(output).as_posix()
        items = json.loads(path.read_text("utf-8"))["items"]
        found["" if folder == "." else folder] = [(i["id"], i["title"]) for i in items]
    return found


class Tree:
    """A content folder edited in place, built with a cache after every edit."""

    def __init__(self, root: Path, config: Config, **options: Any) -> None:
        self.root, self.config, self.options = root, config, options
        self.content = root / "content"
        self.content.mkdir(parents=True, exist_ok=True)
        self.output = root / "public"
        self.copies: dict[str, Copy] = {}

    def put(self, copy: Copy) -> None:
        # A new file renamed over the old one: a new inode, so the edit is seen even
        # within the file system's timestamp granularity.
        self.copies[copy.name] = copy
        temporary = self.content / f".{copy.name}.new"
        temporary.write_text(copy.text(), encoding="utf-8")
        os.replace(temporary, self.content / copy.name)

    def delete(self, name: str) -> None:
        del self.copies[name]
        (self.content / name).unlink()

    def build(self, *, cache: bool = True, output: Path | None = None) -> BuildResult:
        return build(
            self.config,
            BuildOptions(
                content=self.content,
                output=output or self.output,
                now=NOW,
                cache=self.root / "cache" if cache else None,
                **self.options,
            ),
        )

    def same_as_cold(self, result: BuildResult, cold: Path) -> None:
        """The last build (``result``, into :attr:`output`) wrote the same bytes and gave
        the same problems and counts as a build without a cache into ``cold``."""
        cold_result = self.build(cache=False, output=cold)
        self.check(cold_result, cold)
        assert every_file(self.output) == every_file(cold)
        assert list(map(str, result.problems)) == list(map(str, cold_result.problems))
        assert (result.counts, result.articles) == (cold_result.counts, cold_result.articles)

    def check(self, result: BuildResult, output: Path | None = None) -> None:
        assert result.errors == ()
        n = self.config.items_per_feed
        copies = list(self.copies.values())
        written = published_feeds(output or self.output)
        assert written == expected_feeds(copies, n=n, **self.options)
        duplicates = [p for p in result.problems if p.field == "id"]
        assert len(duplicates) == expected_duplicates(copies, **self.options)


@pytest.fixture(autouse=True)
def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edits follow each other at once here; the racy-file guard has its own test."""
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)


# -- the cases the issue names --------------------------------------------------------------


def _build_files(tmp_path: Path, copies: list[Copy], **options: Any) -> tuple[BuildResult, Path]:
    write_tree(tmp_path / "content", {c.name: c.text() for c in copies})
    output = tmp_path / "public"
    result = build(
        Config(),
        BuildOptions(content=tmp_path / "content", output=output, now=NOW, **options),
    )
    return result, output


LIVE = Copy("a-live.md", URLS[0], "Live story", -48, topics=("AI",))


@pytest.mark.parametrize(
    "newer",
    [
        replace(LIVE, name="b-draft.md", title="Draft of it", hours=-1, draft=True),
        replace(LIVE, name="b-future.md", title="Future copy", hours=24 * 30),
        replace(LIVE, name="b-removed.md", title="Removed copy", hours=-1, removed=True),
    ],
    ids=["draft", "future", "removed"],
)
def test_a_newer_copy_that_is_not_published_does_not_hide_the_live_article(
    tmp_path: Path, newer: Copy
) -> None:
    other = Copy("c-other.md", URLS[1], "Another story", -2, topics=("AI",))
    result, output = _build_files(tmp_path, [LIVE, newer, other])
    feeds = published_feeds(output)
    assert feeds[""] == [(URLS[1], "Another story"), (URLS[0], "Live story")]
    assert feeds["topics/ai"] == feeds[""]
    assert result.problems == ()  # the newer copy does not exist for this build: no warning


def test_previews_see_the_newer_draft_and_future_copies(tmp_path: Path) -> None:
    draft = replace(LIVE, name="b-draft.md", title="Draft of it", hours=-1, draft=True)
    result, output = _build_files(tmp_path / "u", [LIVE, draft], unpublished=True)
    assert published_feeds(output)[""] == [(URLS[0], "Draft of it")]
    (warning,) = result.problems
    assert warning.path.endswith("a-live.md") and "b-draft.md" in warning.message

    later = replace(LIVE, name="b-future.md", title="Future copy", hours=5)
    result, output = _build_files(tmp_path / "f", [LIVE, later], future=True)
    assert published_feeds(output)[""] == [(URLS[0], "Future copy")]


def test_two_published_copies_keep_the_newer_and_warn_once(tmp_path: Path) -> None:
    update = replace(LIVE, name="b-update.md", title="Update", hours=-1)
    result, output = _build_files(tmp_path, [LIVE, update])
    assert published_feeds(output)[""] == [(URLS[0], "Update")]
    (warning,) = result.problems
    assert warning.path.endswith("a-live.md") and "b-update.md, which is kept" in warning.message


def test_a_copy_whose_time_comes_takes_over(tmp_path: Path) -> None:
    later = replace(LIVE, name="b-future.md", title="Future copy", hours=24)
    tree = Tree(tmp_path, Config())
    for copy in (LIVE, later):
        tree.put(copy)
    tree.check(tree.build())
    assert published_feeds(tree.output)[""] == [(URLS[0], "Live story")]
    result = build(
        Config(),
        BuildOptions(
            content=tree.content,
            output=tree.output,
            now=NOW + timedelta(hours=25),
            cache=tmp_path / "cache",
        ),
    )
    assert published_feeds(tree.output)[""] == [(URLS[0], "Future copy")]
    assert len(result.problems) == 1  # both copies are published now


def test_neither_copy_publishable_says_nothing(tmp_path: Path) -> None:
    copies = [
        replace(LIVE, name="a.md", draft=True),
        replace(LIVE, name="b.md", removed=True, hours=-1),
        replace(LIVE, name="c.md", hours=10),
    ]
    result, output = _build_files(tmp_path, copies)
    assert result.problems == ()
    assert published_feeds(output) == {"": []}


# -- generated sets of files, cold and edited -------------------------------------------------

_copies = st.builds(
    lambda url, title, hours, draft, removed, topics, domain: dict(
        url=url,
        title=title,
        hours=hours,
        draft=draft,
        removed=removed,
        topics=topics,
        domain=domain,
    ),
    st.sampled_from(URLS),
    st.sampled_from(["One", "Two", "Three"]),
    st.sampled_from([-72, -48, -48, -1, 0, 3, 24 * 400]),
    st.booleans(),
    st.sampled_from([False, False, False, True]),
    st.lists(st.sampled_from(sorted(TOPICS)), max_size=2).map(tuple),
    st.sampled_from(DOMAINS),
)

_edits = st.lists(
    st.tuples(
        st.sampled_from(["publish", "unpublish", "remove", "restore", "delete", "add", "redate"]),
        st.integers(0, 20),
        _copies,
    ),
    min_size=1,
    max_size=4,
)


def apply_edit(tree: Tree, edit: tuple[str, int, dict[str, Any]], serial: int) -> None:
    """Apply one generated edit (a kind, which file, new values) to ``tree``."""
    kind, pick, values = edit
    names = sorted(tree.copies)
    if kind == "add" or not names:
        tree.put(Copy(name=f"n{serial:02d}.md", **values))
        return
    copy = tree.copies[names[pick % len(names)]]
    if kind == "delete":
        tree.delete(copy.name)
    elif kind == "redate":
        tree.put(replace(copy, hours=values["hours"]))
    elif kind == "retitle":
        tree.put(replace(copy, title=copy.title + " again"))
    else:
        flags = {
            "publish": {"draft": False},
            "unpublish": {"draft": True},
            "remove": {"removed": True},
            "restore": {"removed": False},
        }[kind]
        tree.put(replace(copy, **flags))


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(_copies, min_size=1, max_size=8),
    _edits,
    st.sampled_from([{}, {"unpublished": True}, {"future": True}]),
    st.integers(1, 3),
)
def test_property_every_feed_matches_the_model_cold_and_after_edits(
    tmp_path_factory: pytest.TempPathFactory,
    start: list[dict[str, Any]],
    edits: list[tuple[str, int, dict[str, Any]]],
    options: dict[str, bool],
    n: int,
) -> None:
    root = tmp_path_factory.mktemp("tree")
    tree = Tree(root, Config(items_per_feed=n), **options)
    for i, values in enumerate(start):
        tree.put(Copy(name=f"f{i:02d}.md", **values))
    tree.check(tree.build())
    for serial, edit in enumerate(edits):
        apply_edit(tree, edit, serial)
        result = tree.build()
        tree.check(result)
    tree.same_as_cold(result, root / "cold")


# -- which edits update the last choice from the changed file alone -------------------------


def _newsroom(tmp_path: Path) -> Tree:
    """Live stories, a draft, a future story and a draft copy beside a live one."""
    tree = Tree(tmp_path, Config(items_per_feed=3))
    for i in range(8):
        tree.put(
            Copy(
                f"s{i}.md",
                f"https://news.example.com/s/{i}",
                f"Story {i}",
                -10 * i - 1,
                topics=("AI",) if i % 2 else ("Space",),
            )
        )
    tree.put(Copy("draft.md", URLS[0], "A draft", -2, draft=True, topics=("AI",)))
    tree.put(Copy("later.md", URLS[1], "Later", 48, topics=("Space",)))
    tree.put(Copy("soon.md", URLS[2], "Soon", 5, topics=("AI",)))
    tree.put(replace(tree.copies["s3.md"], name="s3-draft.md", title="Draft of 3", draft=True))
    tree.check(tree.build())
    return tree


@pytest.mark.parametrize(
    ("edit", "incremental"),
    [
        (lambda t: t.put(replace(t.copies["draft.md"], title="Still a draft")), True),
        (lambda t: t.put(replace(t.copies["draft.md"], draft=False)), True),
        (lambda t: t.put(replace(t.copies["s1.md"], draft=True)), True),
        (lambda t: t.delete("draft.md"), True),
        (lambda t: t.put(replace(t.copies["later.md"], hours=72, title="Later still")), True),
        (lambda t: t.put(replace(t.copies["later.md"], hours=-3)), True),
        (lambda t: t.put(Copy("new-future.md", URLS[3], "New future", 2)), True),
        (lambda t: t.put(replace(t.copies["s3-draft.md"], title="Draft of 3, again")), True),
        (lambda t: t.put(replace(t.copies["s5.md"], name="s5-copy.md", draft=True)), True),
        (lambda t: t.put(replace(t.copies["s5.md"], name="s5-later.md", hours=30)), True),
        (lambda t: t.put(replace(t.copies["soon.md"], title="Soon, retitled")), True),
        (lambda t: t.put(replace(t.copies["soon.md"], hours=3)), True),
        (lambda t: t.put(replace(t.copies["s3-draft.md"], draft=False)), True),
        (lambda t: t.put(replace(t.copies["s3-draft.md"], draft=False, hours=-100)), True),
        (lambda t: t.put(replace(t.copies["s4.md"], name="a-s4.md", title="Same time")), True),
        (lambda t: t.put(replace(t.copies["s6.md"], url=URLS[1], hours=49)), True),
        # Decided by the full choice: a removed copy (it hides related items), and the
        # article that was to come due next leaving the future.
        (lambda t: t.put(replace(t.copies["s5.md"], name="s5-gone.md", removed=True)), False),
        (lambda t: t.put(replace(t.copies["soon.md"], hours=-1)), False),
        (lambda t: t.put(replace(t.copies["soon.md"], hours=10)), False),
    ],
)
def test_edits_of_drafts_future_articles_and_copies_update_the_last_choice(
    tmp_path: Path, edit: Any, incremental: bool
) -> None:
    tree = _newsroom(tmp_path)
    edit(tree)
    result = tree.build()
    tree.check(result)
    assert result.incremental is incremental
    assert result.files_reread <= 1
    tree.same_as_cold(result, tmp_path / "cold")
