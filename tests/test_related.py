"""Related items: a published article carries what it lists, in all three formats.

Only an item naming a taken-down (removed/deleted) article, or the article itself, is left
out; ``related_published_only`` also leaves out articles the content holds unpublished.
"""

from __future__ import annotations

import json
import os
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, article, write_tree
from lxml import etree

import feeds.cache
from feeds.build import BuildOptions, BuildResult, build
from feeds.config import Config

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "feeds": "http://purl.org/net/feeds/1.0/",
}
BASE = "https://site.example/"


def url(name: str) -> str:
    return f"{BASE}{name}/"


def _item(name: str) -> dict[str, Any]:
    return {"title": f"About {name}", "webUrl": url(name), "excerpt": f"The {name} story."}


def _story(name: str, hours: int = -24, related: tuple[str, ...] = (), **fields: Any) -> str:
    return article(
        title=f"Story {name}",
        originalUrl=url(name),
        webUrl=url(name),
        publishedDateTime=NOW + timedelta(hours=hours),
        related=[_item(r) for r in related],
        **fields,
    )


ORDER = ("draft", "future", "removed", "published", "outside", "main")
"""What the main article lists, in its order: 'outside' is in no file, 'main' is itself."""


def _files() -> dict[str, str | bytes]:
    return {
        "main.md": _story("main", hours=-1, related=ORDER),
        "draft.md": _story("draft", published=False),
        "future.md": _story("future", hours=48),
        "removed.md": _story("removed", removed=True),
        "published.md": _story("published", hours=-30),
    }


def carried(output: Path, name: str = "main") -> dict[str, list[str]]:
    """The related URLs of article ``name`` in the site feed, per format."""
    wanted = url(name)
    (item,) = [
        i for i in json.loads((output / "feed.json").read_bytes())["items"] if i["id"] == wanted
    ]
    rss = etree.parse(str(output / "rss.xml"))
    (rss_item,) = rss.xpath("//item[guid=$u]", u=wanted)
    atom = etree.parse(str(output / "atom.xml"))
    (entry,) = atom.xpath("//atom:entry[atom:id=$u]", u=wanted, namespaces=NS)
    return {
        "json": [r["url"] for r in item.get("_feeds", {}).get("related", [])],
        "rss": rss_item.xpath("feeds:relatedItems/feeds:related/@href", namespaces=NS),
        "rss links": rss_item.xpath("atom:link[@rel='related']/@href", namespaces=NS),
        "atom": entry.xpath("feeds:relatedItems/feeds:related/@href", namespaces=NS),
        "atom links": entry.xpath("atom:link[@rel='related']/@href", namespaces=NS),
    }


def _build(content: Path, output: Path, config: Config, cache: Path | None = None) -> BuildResult:
    result = build(config, BuildOptions(content=content, output=output, now=NOW, cache=cache))
    assert result.errors == ()
    return result


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (Config(), ["draft", "future", "published", "outside"]),
        (Config(related_published_only=True), ["published", "outside"]),
    ],
    ids=["default", "related_published_only"],
)
def test_related_items_are_carried_unless_taken_down(
    tmp_path: Path, config: Config, expected: list[str]
) -> None:
    content = write_tree(tmp_path / "content", _files())
    _build(content, tmp_path / "public", config)
    urls = [url(name) for name in expected]
    assert carried(tmp_path / "public") == dict.fromkeys(
        ["json", "rss", "rss links", "atom", "atom links"], urls
    )


def test_a_related_item_naming_a_removed_article_with_a_live_copy_is_carried(
    tmp_path: Path,
) -> None:
    files = _files() | {"removed-live.md": _story("removed", hours=-50, heat=3)}
    content = write_tree(tmp_path / "content", files)
    _build(content, tmp_path / "public", Config())
    assert carried(tmp_path / "public")["json"] == [
        url(n) for n in ("draft", "future", "removed", "published", "outside")
    ]


def test_the_first_max_related_items_are_carried(tmp_path: Path) -> None:
    names = tuple(f"r{i}" for i in range(8))
    content = write_tree(
        tmp_path / "content",
        {"main.md": _story("main", hours=-1, related=names)}
        | {f"{n}.md": _story(n, published=False) for n in names},
    )
    _build(content, tmp_path / "public", Config(max_related=5))
    assert carried(tmp_path / "public")["json"] == [url(n) for n in names[:5]]


def _every_file(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _rewrite(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)  # a new inode: seen as an edit however quick


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("publish the draft", ["draft", "future", "published", "outside"]),
        ("unpublish the published one", ["draft", "future", "published", "outside"]),
        ("remove the draft", ["future", "published", "outside"]),
        ("restore the removed one", ["draft", "future", "removed", "published", "outside"]),
        ("delete the removed file", ["draft", "future", "removed", "published", "outside"]),
    ],
)
def test_incremental_edits_of_related_articles_match_a_cold_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str, expected: list[str]
) -> None:
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    content = write_tree(tmp_path / "content", _files())
    output, cache = tmp_path / "public", tmp_path / "cache"
    _build(content, output, Config(), cache)
    edits = {
        "publish the draft": ("draft.md", _story("draft")),
        "unpublish the published one": ("published.md", _story("published", published=False)),
        "remove the draft": ("draft.md", _story("draft", published=False, removed=True)),
        "restore the removed one": ("removed.md", _story("removed")),
        "delete the removed file": ("removed.md", None),
    }
    name, text = edits[edit]
    if text is None:
        (content / name).unlink()
    else:
        _rewrite(content / name, text)
    _build(content, output, Config(), cache)
    assert carried(output)["json"] == [url(n) for n in expected]
    _build(content, tmp_path / "cold", Config())
    assert _every_file(output) == _every_file(tmp_path / "cold")


def test_a_news_site_of_mostly_drafts_carries_every_related_item_it_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shaped like real news sites: most stories are kept as drafts, and published
    stories list 0 to 180 other stories as related."""
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    rng = random.Random(2026)
    names = [f"s{i:03d}" for i in range(300)]
    published = set(rng.sample(names, 40))
    removed = set(rng.sample(sorted(set(names) - published), 10))
    lists: dict[str, tuple[str, ...]] = {}
    files: dict[str, str | bytes] = {}
    for i, name in enumerate(names):
        size = rng.choice([0, 1, 3, 12, 60, 180])
        lists[name] = tuple(rng.sample([n for n in names if n != name], size))
        files[f"{name}.md"] = _story(
            name,
            hours=-(i + 1),
            related=lists[name],
            published=None if name in published else False,
            removed=True if name in removed else None,
        )
    content = write_tree(tmp_path / "content", files)
    config = Config(items_per_feed=1000)
    output, cache = tmp_path / "public", tmp_path / "cache"
    _build(content, output, config, cache)

    def expected() -> dict[str, list[str]]:
        return {
            url(name): [url(r) for r in lists[name][: config.max_related] if r not in removed]
            for name in published
        }

    def got() -> dict[str, list[str]]:
        items = json.loads((output / "feed.json").read_bytes())["items"]
        return {i["id"]: [r["url"] for r in i.get("_feeds", {}).get("related", [])] for i in items}

    assert got() == expected()
    listed = [u for urls in expected().values() for u in urls]
    drafts = {url(n) for n in names if n not in published}
    assert len(listed) > 500 and sum(u in drafts for u in listed) > len(listed) / 2

    # Publish a draft, unpublish a story, take one down: still every item listed.
    draft = sorted(set(names) - published - removed)[0]
    gone = sorted(published)[0]
    takedown = sorted(set(names) - published - removed)[1]
    for name, flags in (
        (draft, {}),
        (gone, {"published": False}),
        (takedown, {"published": False, "removed": True}),
    ):
        _rewrite(
            content / f"{name}.md",
            _story(name, hours=-(names.index(name) + 1), related=lists[name], **flags),
        )
    published = (published | {draft}) - {gone}
    removed = removed | {takedown}
    _build(content, output, config, cache)
    assert got() == expected()
    _build(content, tmp_path / "cold", config)
    assert _every_file(output) == _every_file(tmp_path / "cold")
