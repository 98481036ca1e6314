"""Stage 4: every fact of DESIGN.md's mapping table, in every format, read by real clients."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import feedparser
import pytest
from conftest import SCHEMAS, article, examples, load_json, modules_after_build, run_build
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

import feeds.render
from feeds.config import Config
from feeds.formats import xml
from feeds.formats.common import Context, item_content, rfc822
from feeds.formats.jsonfeed import json_item, render_json
from feeds.formats.xml import atom_entry, rss_item
from feeds.model import Article, Feed, FeedKind, Image, Provider, RelatedItem, Site, Topic
from feeds.render import context_for
from feeds.slugs import slugify

T = TypeVar("T")

CONFIG = Config(
    title="Example News",
    base_url="https://feeds.example.com/news/",
    description="All the news",
    language="en",
)
ATOM = "{http://www.w3.org/2005/Atom}"
X = "{http://purl.org/net/feeds/1.0/}"
MEDIA = "{http://search.yahoo.com/mrss/}"

FILES = {
    "2025/a.md": article(
        n=1,
        title="Café & <b>bold</b> claims",
        excerpt="Shares of <MSFT.O> rose 5%",
        originalUrl="https://orig.example.org/a b",
        webUrl="https://news.example.com/a",
        topics=["AI", "C++"],
        related=[
            {
                "title": "Related one",
                "excerpt": "About it",
                "webUrl": "https://r.example.net/1",
                "publishedDateTime": "2025-01-01T00:00:00Z",
                "provider": {"name": "R", "domain": "r.example.net"},
                "images": [{"url": "https://r.example.net/1.jpg", "width": 10, "height": 5}],
            },
            {"title": "Points back", "webUrl": "https://news.example.com/a"},
        ],
        body="Body with *emphasis* and <script>alert(1)</script>.",
    ),
    "2025/b.md": article(
        n=2, topics=["ai"], provider={"name": "Other", "domain": "o.example.org"}, images=None
    ),
    "video.md": article(n=3, type="video", webUrl=None, topics=["Москва"]),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("render")
    result, output = run_build(tmp, FILES, CONFIG)
    assert result.problems == ()
    return output


def all_feeds(output: Path) -> list[Path]:
    return sorted(p for p in output.rglob("*") if p.name in ("rss.xml", "atom.xml", "feed.json"))


def test_layout(site: Path) -> None:
    rel = {
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    for folder in (
        "",
        "topics/ai/",
        "topics/c-plus-plus-cedb1bac/",
        "topics/москва/",
        "providers/news.example.com/",
        "providers/o.example.org/",
    ):
        assert {folder + "rss.xml", folder + "atom.xml", folder + "feed.json"} <= rel
    assert {"index.html", "feeds.opml"} <= rel


def test_rss_mapping(site: Path) -> None:
    channel = etree.parse(str(site / "rss.xml")).getroot().find("channel")
    assert channel is not None
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == [
        "Article number 3",
        "Article number 2",
        "Café & <b>bold</b> claims",
    ]
    a = items[2]
    assert a.findtext("link") == "https://news.example.com/a"
    guid = a.find("guid")
    assert guid is not None and guid.text == "https://orig.example.org/a%20b"
    assert guid.get("isPermaLink") == "false"
    # description is HTML: the text's markup-like parts are escaped once more
    assert a.findtext("description") == "Shares of &lt;MSFT.O&gt; rose 5%"
    assert a.findtext("pubDate") == "Wed, 01 Jan 2025 01:00:00 +0000"
    assert [c.text for c in a.findall("category")] == ["AI", "C++"]
    assert a.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Example News"
    media = a.find(MEDIA + "content")
    assert media is not None and media.get("url") == "https://news.example.com/1.jpg"
    related = a.findall(f"{X}relatedItems/{X}related")
    assert [r.get("href") for r in related] == ["https://r.example.net/1"]
    assert [link.get("href") for link in a.findall(ATOM + "link")] == ["https://r.example.net/1"]
    assert channel.findtext("lastBuildDate") == "Wed, 01 Jan 2025 03:00:00 +0000"
    self_link = channel.find(ATOM + "link")
    assert (
        self_link is not None and self_link.get("href") == "https://feeds.example.com/news/rss.xml"
    )


def test_atom_mapping(site: Path) -> None:
    feed = etree.parse(str(site / "atom.xml")).getroot()
    assert feed.findtext(ATOM + "updated") == "2025-01-01T03:00:00+00:00"
    entry = feed.findall(ATOM + "entry")[2]
    assert entry.findtext(ATOM + "id") == "https://orig.example.org/a%20b"
    assert entry.findtext(ATOM + "published") == "2025-01-01T01:00:00+00:00"
    assert entry.findtext(ATOM + "summary") == "Shares of <MSFT.O> rose 5%"
    content = entry.find(ATOM + "content")
    assert content is not None and content.get("type") == "html"
    assert "<em>emphasis</em>" in (content.text or "") and "<script" not in (content.text or "")
    links = {
        (link.get("rel") or "alternate", link.get("href")) for link in entry.findall(ATOM + "link")
    }
    assert links == {
        ("alternate", "https://news.example.com/a"),
        ("related", "https://r.example.net/1"),
    }
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "Example News"
    assert [c.get("term") for c in entry.findall(ATOM + "category")] == ["AI", "C++"]
    assert entry.find(f"{X}relatedItems/{X}related/{X}provider").get("domain") == "r.example.net"


def test_json_mapping(site: Path) -> None:
    doc = load_json(site / "feed.json")
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"] == "https://feeds.example.com/news/feed.json"
    item = doc["items"][2]
    assert item["id"] == "https://orig.example.org/a%20b"
    assert item["url"] == "https://news.example.com/a"
    assert item["external_url"] == "https://orig.example.org/a%20b"
    assert item["summary"] == "Shares of <MSFT.O> rose 5%"
    assert "<em>emphasis</em>" in item["content_html"]
    assert item["date_published"] == "2025-01-01T01:00:00+00:00"
    assert item["authors"] == [{"name": "Example News", "url": "https://news.example.com/"}]
    assert item["tags"] == ["AI", "C++"]
    assert item["image"] == "https://news.example.com/1.jpg"
    ext = item["_feeds"]
    assert ext["about"] == "http://purl.org/net/feeds/1.0/" and ext["version"] == "1.0"
    assert ext["provider"]["domain"] == "news.example.com"
    assert [r["url"] for r in ext["related"]] == ["https://r.example.net/1"]
    assert ext["related"][0]["provider"]["domain"] == "r.example.net"
    video = doc["items"][0]
    assert video["url"] == "https://news.example.com/3" and "external_url" not in video


def test_secured_never_reaches_output(site: Path) -> None:
    for path in site.rglob("*"):
        if path.is_file():
            assert b"SECRET-BLOB" not in path.read_bytes(), path


URL_ATTRIBUTES = ("href", "url", "scheme", "domain", "uri", "xmlUrl", "htmlUrl")


def _json_urls(value: object, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [u for k, v in value.items() for u in _json_urls(v, k)]
    if isinstance(value, list):
        return [u for v in value for u in _json_urls(v, key)]
    is_url = key in ("url", "external_url", "image", "feed_url", "home_page_url", "about")
    return [value] if is_url and isinstance(value, str) else []


def test_every_url_is_absolute(site: Path) -> None:
    seen = 0
    for path in all_feeds(site):
        if path.suffix == ".json":
            urls = _json_urls(load_json(path))
        else:
            root = etree.parse(str(path)).getroot()
            urls = [
                element.get(name)
                for element in root.iter()
                for name in URL_ATTRIBUTES
                if element.get(name) is not None
                # feeds:provider's domain is a host name, not a URL
                and not (name == "domain" and element.tag == f"{X}provider")
            ]
            urls += root.xpath("/rss/channel/link/text() | /rss/channel/item/link/text()")
            urls += root.xpath("//*[local-name()='uri']/text()")
        seen += len(urls)
        for url in urls:
            assert url.startswith(("http://", "https://")), (path, url)
    assert seen > 100


def test_strict_xml_parse_of_every_xml_file(site: Path) -> None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False)
    for path in site.rglob("*"):
        if path.suffix in (".xml", ".opml"):
            etree.parse(str(path), parser)


def test_feedparser_reads_rss_and_atom_without_bozo(site: Path) -> None:
    for path in all_feeds(site):
        if path.suffix != ".xml":
            continue
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert parsed.version in ("rss20", "atom10")
        for entry in parsed.entries:
            assert entry.title and entry.link and entry.id and entry.published_parsed


def test_reader_reads_all_three_formats(site: Path, tmp_path: Path) -> None:
    from reader import make_reader

    reader = make_reader(str(tmp_path / "db.sqlite"), feed_root=str(site))
    expected = {}
    for path in all_feeds(site):
        rel = path.relative_to(site).as_posix()
        reader.add_feed(rel)
        expected[rel] = (
            len(json.loads(path.read_text())["items"]) if path.suffix == ".json" else None
        )
    reader.update_feeds()
    for rel, count in expected.items():
        feed = reader.get_feed(rel)
        assert feed.last_exception is None, (rel, feed.last_exception)
        assert feed.title
        entries = list(reader.get_entries(feed=rel))
        assert entries and all(e.title and e.link for e in entries)
        if count is not None:
            assert len(entries) == count
    reader.close()


def test_json_feed_schema(site: Path) -> None:
    import jsonschema

    schema = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_text())
    base = json.loads((SCHEMAS / "jsonfeed-1.0.schema.json").read_text())
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        [
            ("https://json.schemastore.org/feed-1", Resource.from_contents(base)),
            ("feed-1", Resource.from_contents(base)),
        ]
    )
    validator = jsonschema.Draft4Validator(
        schema, registry=registry, format_checker=jsonschema.FormatChecker()
    )
    for path in all_feeds(site):
        if path.suffix == ".json":
            errors = [e.message for e in validator.iter_errors(load_json(path))]
            assert errors == [], path


def test_atom_relax_ng_schema(site: Path) -> None:
    schema = etree.RelaxNG(etree.parse(str(SCHEMAS / "atom.rng")))
    for path in all_feeds(site):
        if path.name == "atom.xml":
            doc = etree.parse(str(path))
            assert schema.validate(doc), (path, schema.error_log)


# The entry writers build their text directly. These check them against the obvious
# formulation (json.dumps of a dict, chains of str.replace, email.utils) on any text,
# including what the collector never lets through (quotes, tabs, newlines, controls).

ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
SOME_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
DATES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


def _or_none(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.one_of(st.none(), strategy)


IMAGES = st.builds(
    Image,
    url=SOME_TEXT,
    width=_or_none(st.integers(1, 99_999)),
    height=_or_none(st.integers(1, 99_999)),
    title=_or_none(ANY_TEXT),
)
PROVIDERS = st.builds(
    Provider, name=SOME_TEXT, domain=SOME_TEXT, url=_or_none(SOME_TEXT), image=_or_none(IMAGES)
)
ARTICLES = st.builds(
    Article,
    id=SOME_TEXT,
    url=SOME_TEXT,
    external_url=_or_none(ANY_TEXT),
    title=SOME_TEXT,
    summary=ANY_TEXT,
    body=ANY_TEXT,
    published=DATES,
    kind=SOME_TEXT,
    category=_or_none(SOME_TEXT),
    provider=_or_none(PROVIDERS),
    topics=st.lists(st.builds(Topic, key=SOME_TEXT, name=SOME_TEXT), max_size=3).map(tuple),
    image=_or_none(IMAGES),
    related=st.lists(
        st.builds(
            RelatedItem,
            url=SOME_TEXT,
            title=ANY_TEXT,
            summary=ANY_TEXT,
            published=_or_none(DATES),
            provider=_or_none(PROVIDERS),
            image=_or_none(IMAGES),
            kind=_or_none(ANY_TEXT),
        ),
        max_size=3,
    ).map(tuple),
    quality=st.none(),
    heat=st.none(),
    draft=st.just(False),
    removed=st.just(False),
    source=st.just("a.md"),
)
GROUPINGS = st.sampled_from([(), ("topics",), ("providers",), ("topics", "providers")])


def _reference_json_item(article: Article, context: Context) -> dict[str, Any]:
    """The JSON Feed item as a dict, as ``feeds.formats.jsonfeed`` built it before it wrote text."""

    def provider(p: Provider) -> dict[str, Any]:
        out: dict[str, Any] = {"name": p.name, "domain": p.domain}
        if p.url:
            out["url"] = p.url
        return out

    def image(i: Image) -> dict[str, Any]:
        out: dict[str, Any] = {"url": i.url}
        if i.width and i.height:
            out["width"] = i.width
            out["height"] = i.height
        if i.title:
            out["title"] = i.title
        return out

    def related(r: RelatedItem) -> dict[str, Any]:
        out: dict[str, Any] = {"url": r.url, "title": r.title}
        if r.summary:
            out["summary"] = r.summary
        if r.published is not None:
            out["date_published"] = r.published.isoformat()
        if r.kind:
            out["type"] = r.kind
        if r.provider is not None:
            out["provider"] = provider(r.provider)
        if r.image is not None:
            out["image"] = image(r.image)
        return out

    def topic(t: Topic) -> dict[str, Any]:
        out: dict[str, Any] = {"name": t.name, "key": t.key}
        if "topics" in context.config.groupings:
            out["feed_url"] = context.topic_url(slugify(t.key)) + "feed.json"
        return out

    item: dict[str, Any] = {"id": article.id, "url": article.url}
    if article.external_url:
        item["external_url"] = article.external_url
    item["title"] = article.title
    if article.summary:
        item["summary"] = article.summary
    content = item_content(article)
    if content:
        item["content_html"] = content
    else:
        item["content_text"] = ""
    item["date_published"] = article.published.isoformat()
    if article.provider is not None:
        author: dict[str, Any] = {"name": article.provider.name}
        if article.provider.url:
            author["url"] = article.provider.url
        item["authors"] = [author]
    if article.topics:
        item["tags"] = [t.name for t in article.topics]
    if article.image is not None:
        item["image"] = article.image.url
    extension: dict[str, Any] = {
        "about": "http://purl.org/net/feeds/1.0/",
        "version": "1.0",
        "type": article.kind,
    }
    if article.provider is not None:
        extension["provider"] = provider(article.provider)
        if "providers" in context.config.groupings:
            slug = slugify(article.provider.domain, domain=True)
            extension["provider"]["feed_url"] = context.provider_feed_url(slug, "feed.json")
    if article.topics:
        extension["topics"] = [topic(t) for t in article.topics]
    if article.image is not None:
        extension["image"] = image(article.image)
    if article.related:
        extension["related"] = [related(r) for r in article.related]
    item["_feeds"] = extension
    return item


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(ARTICLES, min_size=1, max_size=3), GROUPINGS)
def test_property_json_item_is_json_dumps_of_the_item(
    articles: list[Article], groupings: tuple[str, ...]
) -> None:
    # One context for several articles: the per-configuration URLs are reused.
    context = context_for(Site(), Config(groupings=groupings))
    for a in articles:
        expected = json.dumps(
            _reference_json_item(a, context), ensure_ascii=False, separators=(",", ":")
        )
        assert json_item(a, context) == expected


def test_entries_follow_a_new_configuration() -> None:
    a = Article(
        id="https://n.example.com/1",
        url="https://n.example.com/1",
        external_url=None,
        title="T",
        summary="",
        body="",
        published=datetime(2025, 1, 1, tzinfo=UTC),
        kind="article",
        category=None,
        provider=Provider(name="N", domain="n.example.com"),
        topics=(Topic(key="ai", name="AI"),),
        image=None,
        related=(),
        quality=None,
        heat=None,
        draft=False,
        removed=False,
        source="a.md",
    )
    # Each configuration's URLs, never those of the configuration rendered before.
    bases = ("https://one.example.com/", "https://two.example.com/", "https://one.example.com/")
    for base in bases:
        for groupings in ((), ("topics", "providers")):
            context = context_for(Site(), Config(base_url=base, groupings=groupings))
            grouped = bool(groupings)
            expected = {
                rss_item: {
                    f"{base}topics/ai/": True,
                    f"{base}providers/n.example.com/rss.xml": grouped,
                },
                atom_entry: {f"{base}topics/ai/": True},
                json_item: {
                    f"{base}topics/ai/feed.json": grouped,
                    f"{base}providers/n.example.com/feed.json": grouped,
                },
            }
            for entry, urls in expected.items():
                text = entry(a, context)
                assert {url: url in text for url in urls} == urls
                assert not any(other in text for other in bases if other != base)


@settings(max_examples=examples(500), deadline=None)
@given(st.text())
def test_property_xml_escaping_is_the_replace_chain(value: str) -> None:
    text = (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )
    assert xml.text(value) == text
    attr = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    assert xml.attr(value) == attr
    html = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert xml._html_text(value) == xml.text(html)


@settings(max_examples=examples(500), deadline=None)
@given(
    st.datetimes(
        timezones=st.one_of(
            st.none(),
            st.just(UTC),
            st.timezones(),
            st.integers(-86_399, 86_399).map(lambda s: timezone(timedelta(seconds=s))),
        )
    )
)
def test_property_rfc822_is_email_utils(when: datetime) -> None:
    assert rfc822(when) == format_datetime(when)
    if when.tzinfo is UTC:  # the OPML list's dates
        assert rfc822(when, usegmt=True) == format_datetime(when, usegmt=True)
    else:
        with pytest.raises(ValueError):
            format_datetime(when, usegmt=True)
        with pytest.raises(ValueError):
            rfc822(when, usegmt=True)


def _reference_json_document(feed: Feed, context: Context, items: list[str]) -> bytes:
    """The JSON Feed document as ``render_json`` wrote it with an indented ``json.dumps``."""
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": context.title(feed),
        "home_page_url": context.home_url(feed),
        "feed_url": context.file_url(feed, "feed.json"),
        "description": context.description(feed),
        "language": context.config.language,
        "authors": [{"name": context.config.title, "url": context.config.base_url}],
        "items": [],
    }
    head = json.dumps(doc, ensure_ascii=False, indent=2)
    body = ",\n".join(items)
    text = head[: -len("[]\n}")] + ("[\n" + body + "\n  ]\n}\n" if items else "[]\n}\n")
    return text.encode("utf-8")


@settings(max_examples=examples(300), deadline=None)
@given(
    st.sampled_from(FeedKind),
    SOME_TEXT,
    ANY_TEXT,
    SOME_TEXT,
    SOME_TEXT,
    st.lists(ANY_TEXT, max_size=3),
)
def test_property_json_document_is_the_indented_dump(
    kind: FeedKind, name: str, title: str, description: str, language: str, items: list[str]
) -> None:
    config = Config(title=title, description=description, language=language)
    context = context_for(Site(), config)
    slug = "" if kind is FeedKind.SITE else slugify(name)
    feed = Feed(kind=kind, key=name, name=name, slug=slug, total=0)
    assert render_json(feed, context, items) == _reference_json_document(feed, context, items)


def test_a_build_never_imports_feedgen_or_lxml(tmp_path: Path) -> None:
    """feedgen is the tests' reference for the feed heads, and lxml for the OPML list, not
    parts of a build (they take 39 and 15 ms to import)."""
    content = tmp_path / "content"
    content.mkdir()
    for n in range(3):
        (content / f"a{n}.md").write_text(article(n=n), encoding="utf-8")
    args = ["build", "--content", str(content), "--output", str(tmp_path / "out")]
    args += ["--cache", str(tmp_path / "cache"), "--jobs", "1", "--quiet"]
    assert modules_after_build(args, ("feedgen", "lxml")) == "0 False False"
    assert (tmp_path / "out" / "feeds.opml").is_file()
    (content / "a3.md").write_text(article(n=3), encoding="utf-8")  # the list written again
    assert modules_after_build(args, ("feedgen", "lxml")) == "0 False False"


@given(
    st.text(max_size=30),
    st.lists(st.text(min_size=1, max_size=40), max_size=8),
    st.sampled_from(["", ",\n", "\n"]),
)
def test_the_items_found_in_a_document_are_the_items_spliced_into_it(
    head: str, items: list[str], separator: str
) -> None:
    data = (head + separator.join(items) + "</end>").encode("utf-8")
    spans = feeds.render.spans_of(data, items)
    assert feeds.render.entries_in(data, spans) == items
    assert feeds.render.spans_of(data, [*items, "not in it \x00"]) == b""
    # Spans that do not fit the bytes (cut short) give all the items or none, never an
    # error or a part of an item.
    assert feeds.render.entries_in(data[: len(data) // 3], spans) in ([], items)
    if items:
        assert feeds.render.entries_in(data, spans[:-1]) == []
