"""The sample site in content/: it builds cleanly and shows every feature."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from conftest import NOW, REPO, choose, read_content

from feeds.build import BuildOptions, build
from feeds.config import Config
from feeds.errors import Severity
from feeds.model import FeedKind

CONTENT = REPO / "content"


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundled") / "public"
    result = build(Config(), BuildOptions(content=CONTENT, output=out, now=NOW))
    assert result.errors == ()
    # The sample deliberately holds one duplicate URL across two files.
    assert [p.field for p in result.problems] == ["id"]
    assert result.problems[0].severity is Severity.WARNING
    return out


def test_sample_content_is_rich_enough() -> None:
    collection = read_content(CONTENT, Config().tz, 50)
    articles = collection.articles
    assert collection.files >= 30
    assert len({t.key for a in articles for t in a.topics}) >= 6
    assert len({a.provider.domain for a in articles if a.provider}) >= 8
    assert any(a.draft for a in articles) and any(a.removed for a in articles)
    assert any(a.published > NOW for a in articles)
    assert any(a.kind == "video" and a.url == a.id for a in articles)
    assert any(a.related for a in articles)
    assert (CONTENT / "2021" / "000_944ab56ac52e7950.md").exists()


def test_nothing_unpublished_removed_or_future_is_published(output: Path) -> None:
    collection = read_content(CONTENT, Config().tz, 50)
    published = {
        a.id for a in collection.articles if not (a.draft or a.removed) and a.published <= NOW
    }
    held = [a for a in collection.articles if a.id not in published]
    assert any(a.removed for a in held) and any(a.draft for a in held)
    items = [
        item
        for path in output.rglob("feed.json")
        for item in json.loads(path.read_text("utf-8"))["items"]
    ]
    assert items and {item["id"] for item in items} <= published
    text = "\n".join(
        p.read_text("utf-8")
        for p in output.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    # A draft or future article may be named as a related item (the published article
    # lists it); a taken-down one never appears at all.
    for article in held:
        if article.removed:
            assert json.dumps(article.id)[1:-1] not in text.replace("&amp;", "&"), article.source
            assert article.title not in text, article.source


def test_every_group_has_its_three_feeds(output: Path) -> None:
    collection = read_content(CONTENT, Config().tz, 50)
    chosen = choose(collection.articles, items_per_feed=Config().items_per_feed)
    site = chosen.site
    assert sum(f.kind is FeedKind.TOPIC for f in site.feeds) >= 6
    for feed in site.feeds:
        folder = output / feed.folder if feed.folder else output
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert (folder / name).is_file(), (feed.folder, name)
        items = json.loads((folder / "feed.json").read_text())["items"]
        assert [i["id"] for i in items] == [a.id for a in chosen.articles_of(feed)]


def test_feedparser_reads_every_xml_feed(output: Path) -> None:
    for path in output.rglob("*.xml"):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
