"""The page of each topic and provider: its articles, subscribe links, escaping, templates."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
import pytest
from conftest import NOW, article, published_files, run_build, write_tree

from feeds.cli import main
from feeds.config import Config, load_config
from feeds.errors import TemplateError

BASE = "https://feeds.example.com/news/"


def _page(output: Path, folder: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((output / folder / "index.html").read_bytes())


def test_group_page_lists_the_newest_articles_with_subscribe_links(tmp_path: Path) -> None:
    files = {
        "1.md": article(
            n=1,
            topics=["AI"],
            related=[{"webUrl": "https://other.example.org/r", "title": "A related story"}],
        ),
        "2.md": article(n=2, topics=["AI", "Space"], images=None, excerpt="Second excerpt."),
    }
    _, output = run_build(tmp_path, files, Config(base_url=BASE, title="Example News"))
    doc = _page(output, "topics/ai")
    assert doc.findtext(".//h1") == "AI"
    items = doc.xpath("//article")
    assert [a.xpath(".//h3/a")[0].text for a in items] == ["Article number 2", "Article number 1"]
    assert items[0].xpath(".//h3/a/@href") == ["https://news.example.com/2"]
    assert "Example News" in items[0].find_class("meta")[0].text_content()
    assert items[0].xpath(".//time/@datetime") == ["2025-01-01T02:00:00+00:00"]
    assert items[0].find_class("excerpt")[0].text == "Second excerpt."
    assert items[0].xpath(".//img") == []  # no image: none shown
    assert items[1].xpath(".//img/@src") == ["https://news.example.com/1.jpg"]
    assert items[1].xpath('.//ul[@class="related"]//a/@href') == ["https://other.example.org/r"]
    alternates = doc.xpath('//link[@rel="alternate"]')
    assert [(a.get("type"), a.get("href")) for a in alternates] == [
        ("application/rss+xml", BASE + "topics/ai/rss.xml"),
        ("application/atom+xml", BASE + "topics/ai/atom.xml"),
        ("application/feed+json", BASE + "topics/ai/feed.json"),
    ]
    subscribe = doc.find_class("links")[0].xpath(".//a/@href")
    assert subscribe == ["rss.xml", "atom.xml", "feed.json"]
    assert doc.xpath('//a[contains(., "Example News")]/@href')[0] == "../../index.html"
    provider = _page(output, "providers/news.example.com")
    assert provider.findtext(".//h1") == "Example News"
    assert len(provider.xpath("//article")) == 2
    assert not (output / "index.html").read_bytes().count(b"<article")


def test_a_group_page_counts_the_articles_it_lists(tmp_path: Path) -> None:
    files = {f"{n}.md": article(n=n, topics=["AI"]) for n in range(1, 8)}
    _, output = run_build(tmp_path, files, Config(base_url=BASE, items_per_feed=3))
    doc = _page(output, "topics/ai")
    assert len(doc.xpath("//article")) == 3
    meta = doc.find_class("meta")[0].text_content()
    assert meta == "3 articles below, newest 2025-01-01 07:00 UTC"
    index = lxml.html.fromstring((output / "index.html").read_bytes())
    assert "7" in index.xpath('//tr[@id="topic-ai"]//td[@class="num"]/text()')


def test_every_link_of_a_group_page_works_from_disk(tmp_path: Path) -> None:
    files = {f"{n}.md": article(n=n, topics=["C++", "Ünïcode topic"]) for n in range(1, 4)}
    _, output = run_build(tmp_path, files, Config(base_url=BASE))
    pages = sorted(output.glob("*/*/index.html"))
    assert len(pages) == 3  # two topics, one provider
    for path in pages:
        page_url = path.as_uri()
        doc = lxml.html.fromstring(path.read_bytes())
        for href in doc.xpath("//a/@href"):
            if href.startswith("https://news.example.com/"):
                continue  # the articles themselves
            assert "://" not in href and not href.startswith("/"), href
            target = Path(unquote(urlsplit(urljoin(page_url, href)).path))
            assert target.is_file(), (path, href)


@pytest.mark.parametrize(
    "hostile", ["<script>alert(1)</script>", "\"'&<>", '"><img src=x onerror=alert(1)>']
)
def test_hostile_titles_are_escaped_on_group_pages(tmp_path: Path, hostile: str) -> None:
    files = {
        "1.md": article(
            n=1,
            title=hostile,
            excerpt=hostile,
            topics=[hostile],
            provider={"name": hostile, "domain": "evil.example.com"},
            images=[{"url": "https://news.example.com/x.jpg", "title": hostile}],
            related=[{"webUrl": "https://x.example.org/", "title": hostile}],
        )
    }
    _, output = run_build(tmp_path, files, Config(base_url=BASE, title=hostile))
    for path in output.glob("*/*/index.html"):
        doc = lxml.html.fromstring(path.read_bytes())
        assert doc.xpath("//script | //*[@onerror]") == []
        assert all(img.get("src") == "https://news.example.com/x.jpg" for img in doc.iter("img"))
        assert doc.xpath("//article//h3/a")[0].text == hostile
        assert doc.xpath("//article//img/@alt") == [hostile]
        assert doc.find_class("excerpt")[0].text == hostile


def test_group_template_can_be_overridden_by_blocks(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "site",
        {
            "templates/group.html": '{% extends "builtin/group.html" %}'
            "{% block footer %}<footer>Custom {{ feed.name }}</footer>{% endblock %}\n"
        },
    )
    config = load_config(
        write_tree(tmp_path / "site", {"feeds.yaml": "templates: templates\n"}) / "feeds.yaml"
    )
    _, output = run_build(tmp_path, {"a.md": article()}, config)
    doc = _page(output, "topics/ai")
    assert doc.findtext(".//footer") == "Custom AI"
    assert doc.xpath("//article")


def test_undefined_variable_in_group_template_fails_with_one_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "templates/group.html": "<p>ok</p>\n<p>{{ feed.nope }}</p>\n",
            "feeds.yaml": "templates: templates\n",
            "content/a.md": article(),
        },
    )
    config = load_config(tmp_path / "feeds.yaml")
    with pytest.raises(TemplateError) as caught:
        run_build(tmp_path / "b", {"a.md": article()}, config)
    assert caught.value.line == 2 and "has no attribute 'nope'" in caught.value.message
    err = io.StringIO()
    argv = [
        "build",
        "--content", str(tmp_path / "content"),
        "--output", str(tmp_path / "public"),
        "--config", str(tmp_path / "feeds.yaml"),
    ]  # fmt: skip
    assert main(argv, now=NOW, err=err, out=io.StringIO()) == 1
    message = err.getvalue().strip()
    assert message.endswith("group.html:2: template: 'dict object' has no attribute 'nope'")
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert not (tmp_path / "public/topics").exists()  # nothing written


def test_editing_the_group_template_rewrites_the_group_pages(tmp_path: Path) -> None:
    import os

    template = tmp_path / "site/templates/group.html"
    write_tree(tmp_path / "site", {"templates/group.html": "<p>one {{ feed.name }}</p>\n"})
    config = load_config(
        write_tree(tmp_path / "site", {"feeds.yaml": "templates: templates\n"}) / "feeds.yaml"
    )
    cache = tmp_path / "cache"
    _, output = run_build(tmp_path, {"a.md": article()}, config, cache=cache)
    template.write_text("<p>two {{ feed.name }}</p>\n")
    os.utime(template, ns=(1, 10**18))  # a different stamp, whatever the clock's resolution
    result, _ = run_build(tmp_path, {"a.md": article()}, config, cache=cache)
    assert (output / "topics/ai/index.html").read_text() == "<p>two AI</p>\n"
    assert result.report is not None
    assert set(result.report.written) == {
        "topics/ai/index.html",
        "providers/news.example.com/index.html",
    }


def test_a_group_that_disappears_removes_its_page_and_stays_gone(tmp_path: Path) -> None:
    from feeds.manifest import read_old
    from feeds.write import GONE_NGINX

    config = Config(base_url="https://feeds.example.com/news/")
    both = {"a.md": article(n=1, topics=["Kept"]), "b.md": article(n=2, topics=["Old 京都"])}
    first, output = run_build(tmp_path, both, config)
    assert first.report is not None and first.report.gone == ()
    (tmp_path / "content/b.md").unlink()
    result, _ = run_build(tmp_path, {"a.md": both["a.md"]}, config)
    old = [f"topics/old-京都/{name}" for name in ("atom.xml", "feed.json", "index.html", "rss.xml")]
    assert result.report is not None and list(result.report.removed) == old
    assert not (output / "topics/old-京都").exists()
    assert read_old(output).gone == set(old) and list(result.report.gone) == old
    include = (output / GONE_NGINX).read_text("utf-8")
    assert 'location = "/news/topics/old-京都/rss.xml" { return 410; }' in include
    assert 'location = "/news/topics/old-京都/" { return 410; }' in include  # the page's folder
    # Remembered across runs; a run that changes nothing writes nothing, the include neither.
    before = {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()}
    again, _ = run_build(tmp_path, {"a.md": both["a.md"]}, config)
    assert again.report is not None and again.report.written == () and again.report.removed == ()
    assert {p: p.stat().st_mtime_ns for p in output.rglob("*") if p.is_file()} == before
    assert read_old(output).gone == set(old)
    # Produced again: no longer gone.
    back, _ = run_build(tmp_path, both, config)
    assert back.report is not None and back.report.gone == () and read_old(output).gone == set()
    assert "location" not in (output / GONE_NGINX).read_text("utf-8")


def test_compiled_templates_are_kept_beside_the_cache_and_never_fail_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jinja2

    files = {"a.md": article(n=1)}
    cache = tmp_path / "cache"
    run_build(tmp_path, files, cache=cache)
    kept = sorted((cache / "templates").iterdir())
    assert len(kept) == 2  # index.html and group.html

    compiled: list[str | None] = []
    compile_ = jinja2.Environment.compile

    def spy(self: jinja2.Environment, source: str, name: str | None = None, *a: object) -> object:
        compiled.append(name)
        return compile_(self, source, name, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", spy)
    files["b.md"] = article(n=2)  # every page written again
    result, output = run_build(tmp_path, files, cache=cache)
    assert compiled == []
    assert result.report is not None and "index.html" in result.report.written
    _, cold = run_build(tmp_path / "cold", files)
    assert published_files(output) == published_files(cold)

    def compiled_again(name: str, n: int) -> None:
        files[name] = article(n=n)
        compiled.clear()
        run_build(tmp_path, files, cache=cache)
        assert sorted(compiled) == ["group.html", "index.html"]
        _, cold = run_build(tmp_path / "cold", files)
        assert published_files(output) == published_files(cold)

    for path in kept:  # damaged: compiled again and written over
        path.write_bytes(path.read_bytes()[:40] + b"\x00garbage")
    compiled_again("c.md", 3)

    # Nowhere to keep them: only slower.
    for path in kept:
        path.unlink()
    (cache / "templates").rmdir()
    (cache / "templates").write_text("not a folder")
    compiled_again("d.md", 4)

    # A run that only checks keeps nothing.
    run_build(tmp_path / "check", files, cache=tmp_path / "check-cache", write=False)
    assert not (tmp_path / "check-cache" / "templates").exists()
