"""``stylesheet: true``: feed.xsl, the <?xml-stylesheet?> instruction, and what it shows."""

from __future__ import annotations

from pathlib import Path

import feedparser
import lxml.html
from conftest import article, load_json, run_build, write_tree
from lxml import etree

from feeds.config import Config, load_config

BASE = "https://feeds.example.com/news/"
PI = b'<?xml-stylesheet type="text/xsl" href="%s"?>'


def files() -> dict[str, str | bytes]:
    return {
        "1.md": article(n=1, title="First <b>story</b>", excerpt="Shares of <MSFT.O> & co rose."),
        "2.md": article(n=2, title="<script>alert(2)</script>", topics=["AI", "Space"]),
    }


def transform(output: Path, rel: str) -> lxml.html.HtmlElement:
    xslt = etree.XSLT(etree.parse(str(output / "feed.xsl")))
    html = str(xslt(etree.parse(str(output / rel))))
    return lxml.html.fromstring(html)


def test_off_by_default(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files())
    assert not (output / "feed.xsl").exists()
    assert b"xml-stylesheet" not in (output / "rss.xml").read_bytes()


def test_instruction_follows_the_declaration_with_a_relative_href(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE, stylesheet=True))
    assert (output / "feed.xsl").is_file()
    for rel, href in [
        ("rss.xml", b"feed.xsl"),
        ("atom.xml", b"feed.xsl"),
        ("topics/ai/rss.xml", b"../../feed.xsl"),
        ("providers/news.example.com/atom.xml", b"../../feed.xsl"),
    ]:
        lines = (output / rel).read_bytes().split(b"\n")
        assert lines[0].startswith(b"<?xml version=")
        assert lines[1] == PI % href
    assert load_json(output / "feed.json")["version"].endswith("1.1")


def test_feeds_stay_valid_and_parse(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE, stylesheet=True))
    for rel in ("rss.xml", "atom.xml", "topics/ai/rss.xml"):
        parsed = feedparser.parse((output / rel).read_bytes())
        assert not parsed.bozo, (rel, parsed.get("bozo_exception"))
        assert len(parsed.entries) >= 1


def test_rss_renders_as_a_page_with_subscribe_note(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE, stylesheet=True))
    doc = transform(output, "topics/ai/rss.xml")
    assert doc.findtext(".//title") == "AI · feeds (web feed)"
    assert doc.findtext(".//h1") == "AI · feeds"
    subscribe = doc.get_element_by_id("subscribe-heading").getparent()
    assert "How to subscribe" in subscribe.text_content()
    assert subscribe.findtext(".//code") == BASE + "topics/ai/rss.xml"
    assert subscribe.xpath(".//a/@href") == [BASE + "topics/ai/"]
    items = doc.xpath("//article")
    assert [a.text_content() for a in doc.xpath("//article//h3/a")] == [
        "<script>alert(2)</script>",
        "First <b>story</b>",
    ]
    assert doc.xpath("//article//h3/a/@href") == [
        "https://news.example.com/2",
        "https://news.example.com/1",
    ]
    assert doc.xpath("//script | //b") == []
    # The escaped RSS description is shown as the text it stands for.
    assert "Shares of <MSFT.O> & co rose." in items[1].text_content()
    assert "Wed, 01 Jan 2025 01:00" in items[1].text_content()


def test_atom_renders_as_a_page(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, files(), Config(base_url=BASE, stylesheet=True))
    doc = transform(output, "atom.xml")
    assert doc.findtext(".//h1") == "feeds"
    assert doc.xpath("//code/text()") == [BASE + "atom.xml"]
    assert doc.xpath("//article//h3/a/@href") == [
        "https://news.example.com/2",
        "https://news.example.com/1",
    ]
    assert doc.xpath("//article//time/@datetime")[0] == "2025-01-01T02:00:00+00:00"
    assert "Shares of <MSFT.O> & co rose." in doc.xpath("//article")[1].text_content()
    assert doc.xpath("//script") == []


def test_turning_it_off_removes_the_stylesheet(tmp_path: Path) -> None:
    run_build(tmp_path, files(), Config(stylesheet=True))
    _, output = run_build(tmp_path, files(), Config(stylesheet=False))
    assert not (output / "feed.xsl").exists()
    assert b"xml-stylesheet" not in (output / "atom.xml").read_bytes()


def test_templates_folder_overrides_the_stylesheet(tmp_path: Path) -> None:
    xsl = '<?xml version="1.0"?>\n<!-- {{ config.title }} -->\n<x/>\n'
    write_tree(tmp_path / "site", {"templates/feed.xsl": xsl, "feeds.yaml": ""})
    (tmp_path / "site/feeds.yaml").write_text("stylesheet: true\ntemplates: templates\n")
    config = load_config(tmp_path / "site/feeds.yaml")
    _, output = run_build(tmp_path, files(), config)
    assert (output / "feed.xsl").read_text() == '<?xml version="1.0"?>\n<!-- feeds -->\n<x/>\n'


def test_atom_escaped_html_shows_its_text_once(tmp_path: Path) -> None:
    plain = "Use </b> for bold & mind 2 < 3"  # looks like markup: written as type="html"
    content = {"1.md": article(n=1, title="A </i> title & more", excerpt=plain)}
    _, output = run_build(tmp_path, content, Config(base_url=BASE, stylesheet=True))
    feed = (output / "atom.xml").read_text()
    assert '<summary type="html">' in feed and '<title type="html">' in feed
    doc = transform(output, "atom.xml")
    [entry] = doc.xpath("//article")
    assert entry.xpath("string(.//h3/a)") == "A </i> title & more"
    assert plain in entry.text_content()
    assert "&lt;" not in entry.text_content()
    assert doc.xpath("//article//b | //article//i | //script") == []
