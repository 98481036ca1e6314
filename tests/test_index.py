"""The index page: every feed linked with its count, autodiscovery, escaping, templates."""

from __future__ import annotations

import io
import urllib.parse
from collections import Counter
from pathlib import Path

import lxml.html
import pytest
from conftest import NOW, article, run_build, write_tree

from feeds.cli import main
from feeds.config import Config, load_config
from feeds.errors import TemplateError

BASE = "https://feeds.example.com/news/"
HOSTILE = ["<script>alert(1)</script>", "\"'&<>", "AI"]
PROVIDERS = [
    {"name": "<img src=x onerror=alert(1)>", "domain": "evil.example.com"},
    {"name": "Example News", "domain": "news.example.com"},
    {"name": 'Quote "Daily" & Sons', "domain": "quote.example.org"},
]


def corpus(n: int = 14) -> tuple[dict[str, str | bytes], Counter[str], Counter[str]]:
    """``n`` articles over the hostile topics and providers, with the expected counts."""
    files: dict[str, str | bytes] = {}
    topics: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    for i in range(1, n + 1):
        names = [HOSTILE[i % 3]] + (["Space"] if i % 4 == 0 else [])
        provider = PROVIDERS[i % len(PROVIDERS)]
        files[f"{i}.md"] = article(n=i, topics=names, provider=provider)
        topics.update(names)
        providers[provider["name"]] += 1
    return files, topics, providers


def page(output: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((output / "index.html").read_bytes())


def rows(doc: lxml.html.HtmlElement, section: str) -> dict[str, lxml.html.HtmlElement]:
    """Rows of the Topics or Providers table, by the feed name they show."""
    return {
        row.find("th").text_content(): row for row in doc.xpath(f'//*[@id="{section}"]//tbody/tr')
    }


def test_every_feed_is_linked_with_its_count_and_newest_date(tmp_path: Path) -> None:
    files, topics, providers = corpus()
    config = Config(base_url=BASE, title="Example <b>News</b>")
    _, output = run_build(tmp_path, files, config)
    doc = page(output)
    links = set(doc.xpath("//a/@href"))
    feed_files = sorted(
        p.relative_to(output).as_posix()
        for p in output.rglob("*")
        if p.suffix in (".xml", ".json") and not p.name.startswith(".")
    )
    assert len(feed_files) == 3 * (1 + len(topics) + len(providers))
    for rel in feed_files:  # relative, so that the page works from disk and any host
        assert rel in links or _quoted(rel) in links, rel
    assert not [href for href in links if "://" in href or href.startswith("/")]

    for section, expected in (("topics", topics), ("providers", providers)):
        found = rows(doc, section)
        assert {name: int(row.find_class("num")[0].text) for name, row in found.items()} == dict(
            expected
        )
        for name, row in found.items():
            assert [a.text for a in row.xpath(".//a")] == [name, "RSS", "Atom", "JSON Feed"]
            page_href = row.find("th").find("a").get("href")  # the group's own page
            assert page_href.startswith(section + "/") and page_href.endswith("/index.html")
            assert (output / urllib.parse.unquote(page_href)).is_file()
            assert row.xpath(".//time/@datetime")[0].startswith("2025-01-01T")
    site = doc.get_element_by_id("site")
    assert f"{sum(providers.values())} articles" in site.text_content()
    assert doc.xpath('//a[@type="text/x-opml"]/@href')[0] == "feeds.opml"


def _quoted(rel: str) -> str:
    from urllib.parse import quote

    return "/".join(quote(part, safe="") for part in rel.split("/"))


def test_autodiscovery_links_name_the_site_feeds(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, {"a.md": article()}, Config(base_url=BASE))
    alternates = page(output).xpath('//head/link[@rel="alternate"]')
    assert [(link.get("type"), link.get("href")) for link in alternates] == [
        ("application/rss+xml", BASE + "rss.xml"),
        ("application/atom+xml", BASE + "atom.xml"),
        ("application/feed+json", BASE + "feed.json"),
    ]
    assert all(link.get("title") for link in alternates)


def test_only_configured_formats_are_linked(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, {"a.md": article()}, Config(formats=("atom",)))
    doc = page(output)
    assert doc.xpath('//head/link[@rel="alternate"]/@type') == ["application/atom+xml"]
    assert not [h for h in doc.xpath("//a/@href") if h.endswith(("rss.xml", "feed.json"))]


def test_hostile_names_and_titles_are_escaped(tmp_path: Path) -> None:
    files, _, _ = corpus()
    title = "</title><script>alert('t')</script>"
    description = '"><script>alert("d")</script>'
    _, output = run_build(tmp_path, files, Config(title=title, description=description))
    raw = (output / "index.html").read_text("utf-8")
    doc = page(output)
    assert doc.xpath("//script") == []
    assert doc.xpath("//img") == []
    assert doc.xpath("//@onerror") == []
    assert doc.find(".//title").text == title
    assert doc.xpath('//meta[@name="description"]/@content') == [description]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    names = set(rows(doc, "topics")) | set(rows(doc, "providers"))
    assert {"<script>alert(1)</script>", "\"'&<>", "<img src=x onerror=alert(1)>"} <= names
    # Hostile names in attributes stay inside their attribute.
    labels = doc.xpath("//a/@aria-label")
    assert "<script>alert(1)</script> (RSS)" in labels


def write_config(root: Path, text: str) -> Config:
    write_tree(root, {"feeds.yaml": text})
    return load_config(root / "feeds.yaml")


def test_templates_folder_overrides_the_page(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "site",
        {"templates/index.html": "<p>{{ config.title }}: {{ topics|length }} topics</p>\n"},
    )
    config = write_config(tmp_path / "site", "title: Mine & Yours\ntemplates: templates\n")
    _, output = run_build(tmp_path, {"a.md": article(topics=["A", "B"])}, config)
    assert (output / "index.html").read_text("utf-8") == "<p>Mine &amp; Yours: 2 topics</p>\n"


def test_a_template_may_look_feeds_up_by_attribute_or_by_key(tmp_path: Path) -> None:
    template = (
        "{% for feed in topics %}{{ feed.name }}={{ feed['name'] }} {{ feed.count }}"
        "={{ feed['count'] }}{% for link in feed.links %} {{ link['label'] }}:{{ link.href }}"
        "{% endfor %};{% endfor %}\n"
    )
    write_tree(tmp_path / "site", {"templates/index.html": template})
    config = write_config(tmp_path / "site", "templates: templates\nformats: [rss, json]\n")
    _, output = run_build(tmp_path, {"a.md": article(topics=["A"])}, config)
    assert (output / "index.html").read_text("utf-8") == (
        "A=A 1=1 RSS:topics/a/rss.xml JSON Feed:topics/a/feed.json;"
    )


def test_override_can_extend_the_builtin_page(tmp_path: Path) -> None:
    template = (
        '{% extends "builtin/index.html" %}\n'
        "{% block footer %}<footer>Ours</footer>{% endblock %}\n"
    )
    write_tree(tmp_path / "site", {"templates/index.html": template})
    config = write_config(tmp_path / "site", "templates: templates\n")
    _, output = run_build(tmp_path, {"a.md": article()}, config)
    doc = page(output)
    assert doc.find(".//footer").text_content() == "Ours"
    assert "AI" in rows(doc, "topics")


def test_missing_templates_folder_is_a_config_error(tmp_path: Path) -> None:
    err = io.StringIO()
    write_tree(tmp_path, {"feeds.yaml": "templates: nowhere\n", "content/a.md": article()})
    code = main(
        ["build", "--content", str(tmp_path / "content"), "--config", str(tmp_path / "feeds.yaml")],
        err=err,
        out=io.StringIO(),
    )
    assert code == 2
    assert "templates: no such folder" in err.getvalue()


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        ("<p>ok</p>\n<p>{{ nope }}</p>\n", 2, "'nope' is undefined"),
        ("<p>\n{{ site_feed.nope }}</p>\n", 2, "has no attribute 'nope'"),
        ("<p>\n\n{% if %}</p>\n", 3, "Expected an expression"),
    ],
)
def test_template_errors_name_the_file_and_line(
    tmp_path: Path, template: str, line: int, message: str
) -> None:
    write_tree(tmp_path / "site", {"templates/index.html": template})
    config = write_config(tmp_path / "site", "templates: templates\n")
    with pytest.raises(TemplateError) as caught:
        run_build(tmp_path, {"a.md": article()}, config)
    error = caught.value
    assert Path(error.path) == (tmp_path / "site/templates/index.html").resolve()
    assert error.line == line
    assert message in error.message


def test_template_error_reaches_the_user_as_one_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "templates/index.html": "{{ nope }}\n",
            "feeds.yaml": "templates: templates\n",
            "content/a.md": article(),
        },
    )
    err = io.StringIO()
    argv = [
        "build",
        "--content",
        str(tmp_path / "content"),
        "--output",
        str(tmp_path / "public"),
        "--config",
        str(tmp_path / "feeds.yaml"),
    ]
    assert main(argv, now=NOW, err=err, out=io.StringIO()) == 1
    assert err.getvalue().strip().endswith("index.html:1: template: 'nope' is undefined")
    assert "Traceback" not in err.getvalue()
    assert not (tmp_path / "public/index.html").exists()


def test_page_is_self_contained(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, {"a.md": article()}, Config(base_url=BASE))
    doc = page(output)
    assert doc.xpath("//script | //link[@rel='stylesheet'] | //img | //iframe") == []
    assert doc.get("lang") == "en"
    assert doc.xpath('//meta[@name="viewport"]')


def test_links_work_from_disk(tmp_path: Path) -> None:
    """The README's "open public/index.html": every link resolves to a file we wrote."""
    from urllib.parse import unquote, urljoin, urlsplit

    files, _, _ = corpus()
    files["moscow.md"] = article(n=40, topics=["Москва"], provider=PROVIDERS[1])
    _, output = run_build(tmp_path, files, Config(base_url=BASE))
    index = output / "index.html"
    page_url = index.as_uri()
    doc = page(output)
    hrefs = doc.xpath("//a/@href")
    assert len(hrefs) > 3 * 8
    ids = set(doc.xpath("//@id"))
    for href in hrefs:
        target = urlsplit(urljoin(page_url, href))
        assert target.scheme == "file", href
        path = Path(unquote(target.path))
        assert path.is_file() and path.is_relative_to(output), href
        if target.fragment:
            assert path == index and unquote(target.fragment) in ids, href
    assert "topics/%D0%BC%D0%BE%D1%81%D0%BA%D0%B2%D0%B0/rss.xml" in hrefs
    # Autodiscovery, the feeds and the OPML list keep absolute addresses.
    assert doc.xpath('//head/link[@rel="alternate"]/@href')[0] == BASE + "rss.xml"
    assert f'xmlUrl="{BASE}topics/' in (output / "feeds.opml").read_text("utf-8")
