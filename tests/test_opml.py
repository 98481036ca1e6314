"""feeds.opml: every feed, grouped, absolute URLs, and the W3C validator's OPML rules."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import listparser
import pytest
from conftest import article, examples, run_build
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.config import Config
from feeds.formats.common import EPOCH, Context, FormatInfo, rfc822
from feeds.formats.opml import GROUPS, render_opml, subscription_format
from feeds.model import Feed, FeedKind, Site
from feeds.render import context_for
from feeds.slugs import slugify
from feeds.text import xml_safe

BASE = "https://feeds.example.com/news/"
TOPICS = ["AI", "C++", "C#", "Москва", "京都", "<script>alert(1)</script>", "\"'&<>"]
PROVIDERS = [("Example News", "news.example.com"), ("<b>Bold</b> & Co", "bold.example.org")]


def files() -> dict[str, str | bytes]:
    out: dict[str, str | bytes] = {}
    for i, topic in enumerate(TOPICS, start=1):
        name, domain = PROVIDERS[i % len(PROVIDERS)]
        out[f"{i}.md"] = article(n=i, topics=[topic], provider={"name": name, "domain": domain})
    return out


def feed_urls(output: Path, filename: str) -> set[str]:
    """The URL of every feed written, from the files on disk."""
    from urllib.parse import quote

    return {
        BASE + "/".join(quote(part, safe="") for part in p.relative_to(output).parts)
        for p in output.rglob(filename)
    }


def test_listparser_finds_every_feed_grouped(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE, title="Site & <Co>"))
    parsed = listparser.parse((output / "feeds.opml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "opml2"
    assert parsed.meta.title == "Site & <Co>: all feeds"
    urls = [feed.url for feed in parsed.feeds]
    assert len(urls) == len(set(urls)) == 1 + len(TOPICS) + len(PROVIDERS)
    assert set(urls) == feed_urls(output, "rss.xml")
    by_url = {feed.url: feed for feed in parsed.feeds}
    for feed in parsed.feeds:
        assert feed.url.startswith(BASE)
    for url, feed in by_url.items():
        if "/topics/" in url:
            assert feed.categories == [["Topics"]]
        elif "/providers/" in url:
            assert feed.categories == [["Providers"]]
        else:
            assert url == BASE + "rss.xml" and feed.categories == []
    titles = {feed.title for feed in parsed.feeds}
    for topic in TOPICS:
        assert f"{topic} · Site & <Co>" in titles
    assert "<b>Bold</b> & Co · Site & <Co>" in titles


def test_follows_the_w3c_opml_rules(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE))
    root = etree.parse(str(output / "feeds.opml")).getroot()
    assert root.tag == "opml" and root.get("version") == "2.0"
    head = root.find("head")
    assert head is not None
    for name in ("dateCreated", "dateModified"):
        text = head.findtext(name)
        assert text and parsedate_to_datetime(text).tzinfo is not None
        assert text.endswith(" GMT")
    assert [child.tag for child in head] == ["title", "dateCreated", "dateModified", "ownerName"]
    assert head.findtext("ownerName") == "feeds"
    outlines = root.iter("outline")
    for outline in outlines:
        assert outline.get("text"), etree.tostring(outline)
        if outline.get("type") is None:
            # A plain group: only text (title & co. without a type are flagged).
            assert set(outline.attrib) == {"text"}
            assert len(outline) > 0
        else:
            assert outline.get("type") == "rss"
            assert outline.get("title")
            assert outline.get("xmlUrl", "").startswith(BASE)
            assert outline.get("htmlUrl", "").startswith(BASE)
    groups = [o.get("text") for o in root.find("body") if o.get("type") is None]  # type: ignore[union-attr]
    assert groups == ["Topics", "Providers"]


def test_dates_come_from_the_newest_article_not_the_clock(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, {"a.md": article(n=5)})
    head = etree.parse(str(output / "feeds.opml")).getroot().find("head")
    assert head is not None
    assert head.findtext("dateModified") == "Wed, 01 Jan 2025 05:00:00 GMT"


@pytest.mark.parametrize(
    ("formats", "filename"),
    [(("atom",), "atom.xml"), (("json",), "feed.json"), (("atom", "rss"), "rss.xml")],
)
def test_subscribes_to_the_best_format_written(
    tmp_path: Path, formats: tuple[str, ...], filename: str
) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE, formats=formats))
    parsed = listparser.parse((output / "feeds.opml").read_bytes())
    assert {feed.url for feed in parsed.feeds} == feed_urls(output, filename)


def test_groupings_left_out_leave_no_empty_group(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(groupings=("providers",)))
    root = etree.parse(str(output / "feeds.opml")).getroot()
    assert [o.get("text") for o in root.iterfind("body/outline") if o.get("type") is None] == [
        "Providers"
    ]


def _reference_opml(site: Site, context: Context) -> bytes:
    """The list as lxml writes the same tree (how the build wrote it until it was written
    as text)."""
    info = subscription_format(context)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{context.config.title}: all feeds"
    updated = rfc822(site.site_feed.updated or EPOCH, usegmt=True)
    etree.SubElement(head, "dateCreated").text = updated
    etree.SubElement(head, "dateModified").text = updated
    etree.SubElement(head, "ownerName").text = context.config.title
    body = etree.SubElement(root, "body")

    def outline(parent: etree._Element, feed: Feed, info: FormatInfo) -> None:
        etree.SubElement(
            parent,
            "outline",
            type="rss",
            text=context.title(feed),
            title=context.title(feed),
            description=context.description(feed),
            xmlUrl=context.file_url(feed, info.filename),
            htmlUrl=context.home_url(feed),
        )

    outline(body, site.site_feed, info)
    for kind, label in GROUPS:
        feeds = [f for f in site.feeds if f.kind is kind]
        if feeds:
            group = etree.SubElement(body, "outline", text=label)
            for feed in feeds:
                outline(group, feed, info)
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return data


# Any text a name or a setting may hold: what feeds.text.xml_safe leaves of any string.
NAMES = st.text(st.characters(exclude_categories=("Cs",)), max_size=20).map(xml_safe)


@settings(max_examples=examples(200), deadline=None)
@given(
    NAMES,
    NAMES,
    st.lists(st.tuples(st.sampled_from([FeedKind.TOPIC, FeedKind.PROVIDER]), NAMES), max_size=6),
    st.sampled_from([("rss", "atom", "json"), ("atom",), ("json",), ("json", "atom")]),
    st.booleans(),
)
def test_property_the_list_is_what_lxml_writes_of_the_same_tree(
    title: str,
    description: str,
    groups: list[tuple[FeedKind, str]],
    formats: tuple[str, ...],
    dated: bool,
) -> None:
    config = Config(
        title=title, description=description, formats=formats, base_url="https://e.example/a&b/"
    )
    updated = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC) if dated else None
    feeds = [Feed(kind=FeedKind.SITE, key="", name=title, slug="", total=1, updated=updated)]
    feeds += [
        Feed(kind=kind, key=name, name=name, slug=slugify(name) or "x", total=1)
        for kind, name in groups
    ]
    site = Site(feeds=tuple(feeds))
    context = context_for(site, config)
    assert render_opml(site, context)["feeds.opml"] == _reference_opml(site, context)
