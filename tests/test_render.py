"""Stage 4: every fact of DESIGN.md's mapping table, in every format, read by real clients."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from conftest import SCHEMAS, article, load_json, run_build
from lxml import etree

from feeds.config import Config

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
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = SCHEMAS / "jsonfeed-1.1.schema.json"
    if not schema_path.exists():
        pytest.skip(f"JSON Feed schema not found at {schema_path} (../shared/schemas is absent)")
    schema = json.loads(schema_path.read_text())
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
    rng = SCHEMAS / "atom.rng"
    if not rng.exists():
        pytest.skip(f"Atom RELAX NG schema not found at {rng} (../shared/schemas is absent)")
    schema = etree.RelaxNG(etree.parse(str(rng)))
    for path in all_feeds(site):
        if path.name == "atom.xml":
            doc = etree.parse(str(path))
            assert schema.validate(doc), (path, schema.error_log)
