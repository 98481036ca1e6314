"""What a reader shows: the item's content opens with the lead image and the excerpt.

Readers (newsboat, reader, NetNewsWire) show the content element when there is one and
never the summary, and several never show ``media:*`` or JSON Feed's ``image``. These
build small sites and read them with real clients; newsboat and Chromium tests skip,
saying why, where those programs are not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW, REPO, article, load_json, run_build
from lxml import etree

from feeds.cli import main
from feeds.formats.common import _compose, item_content
from feeds.markup import render_body
from feeds.model import Article, Image

NEWSBOAT = shutil.which("newsboat")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT = 90

EXCERPT = "Lawmakers agreed on the final text & the fines."
IMAGE = "https://news.example.com/img/lead.jpg?w=800&h=600"

# -- composing the content ---------------------------------------------------------------

_BASE = Article(
    id="https://news.example.com/1",
    url="https://news.example.com/1",
    external_url=None,
    title="The title",
    summary=EXCERPT,
    body="",
    published=datetime(2025, 1, 1, tzinfo=UTC),
    kind="article",
    category=None,
    provider=None,
    topics=(),
    image=Image(url=IMAGE, title='Chart "A" <1>'),
    related=(),
    quality=None,
    heat=None,
    draft=False,
    removed=False,
    source="a.md",
)
_LEAD = (
    '<p><img src="https://news.example.com/img/lead.jpg?w=800&amp;h=600"'
    ' alt="Chart &quot;A&quot; &lt;1&gt;"></p>'
)
_EXCERPT_HTML = "<p>Lawmakers agreed on the final text &amp; the fines.</p>"


def _with(**changes: Any) -> Article:
    return dataclasses.replace(_BASE, **changes)


def _content(body_html: str, **changes: Any) -> str | None:
    """The content of ``_BASE`` with ``changes`` whose body renders to ``body_html``."""
    article = _with(**changes)
    return _compose(article.image, article.summary, body_html)


def test_content_opens_with_the_image_and_the_excerpt() -> None:
    body = "<p>Short body.</p>"
    assert _content(body) == f"{_LEAD}\n{_EXCERPT_HTML}\n{body}"
    # The article holds its Markdown body; the content has it rendered.
    assert item_content(_with(body="Short body.\n")) == f"{_LEAD}\n{_EXCERPT_HTML}\n{body}"


def test_without_a_body_the_image_and_excerpt_are_the_content() -> None:
    assert item_content(_BASE) == f"{_LEAD}\n{_EXCERPT_HTML}"
    assert item_content(_with(image=None)) == _EXCERPT_HTML
    assert item_content(_with(summary="")) == _LEAD
    lead = '<p><img src="https://news.example.com/img/lead.jpg?w=800&amp;h=600" alt=""></p>'
    assert item_content(_with(summary="", image=Image(url=IMAGE))) == lead


def test_nothing_to_show_is_no_content() -> None:
    assert item_content(_with(summary="", image=None)) is None


@pytest.mark.parametrize(
    "body",
    [
        "<p>Lawmakers agreed on the final text &amp; the fines.</p>\n<p>More.</p>",
        # The text, not the markup, counts; white space is folded.
        "<h2>Lawmakers <em>agreed</em>\non the final</h2>\n<p>text &amp; the fines. And so on</p>",
        # Long bodies are read only as far as it takes.
        "<p>Lawmakers agreed on the final text &amp; the fines." + " More." * 5000 + "</p>",
        '<p><a href="https://e.org/' + "x" * 300 + '">Lawmakers</a> agreed on the final text '
        "&#38; the fines.</p>",
    ],
)
def test_an_excerpt_the_body_opens_with_is_not_repeated(body: str) -> None:
    assert _content(body, image=None) == body


@pytest.mark.parametrize(
    "body",
    [
        "<p>Lawmakers agreed on the final text.</p>",
        "<p>Before. Lawmakers agreed on the final text &amp; the fines.</p>",
        "<p>Lawmakers agreed on the final text &amp;amp; the fines.</p>",
    ],
)
def test_an_excerpt_the_body_does_not_open_with_is_shown(body: str) -> None:
    assert _content(body, image=None) == f"{_EXCERPT_HTML}\n{body}"


def test_an_image_the_body_shows_is_not_repeated() -> None:
    body = (
        '<p>Hello <img alt="a > b" src="https://news.example.com/img/lead.jpg?w=800&amp;h=600"></p>'
    )
    assert _content(body, summary="") == body
    other = '<p><img src="https://news.example.com/img/lead.jpg"></p>'
    assert _content(other, summary="") == f"{_LEAD}\n{other}"


# -- the formats ---------------------------------------------------------------------------

SHORT_BODY = "Read the [full text](/eu/act.pdf).\n"
FILES: dict[str, str | bytes] = {
    # A short body, an excerpt and an image: what readers lost.
    "short.md": article(
        n=1,
        title="Short body",
        excerpt=EXCERPT,
        images=[{"url": IMAGE, "width": 800, "height": 600}],
        body=SHORT_BODY,
    ),
    # No body: the image and the excerpt are the content.
    "nobody.md": article(n=2, title="No body", excerpt="Just the excerpt.", body=""),
    # Nothing but a title: no content, and the title stands for no excerpt.
    "bare.md": article(n=3, title="Only a title", excerpt="", images=None, body=""),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result, output = run_build(tmp_path_factory.mktemp("readers"), FILES)
    assert result.problems == ()
    return output


def _items(path: Path, tag: str) -> dict[str, Any]:
    root = etree.parse(str(path)).getroot()
    atom = "{http://www.w3.org/2005/Atom}"
    items = root.iter(tag if tag == "item" else atom + tag)
    title = "title" if tag == "item" else atom + "title"
    return {item.findtext(title): item for item in items}


def test_rss_content_and_description(site: Path) -> None:
    items = _items(site / "rss.xml", "item")
    encoded = "{http://purl.org/rss/1.0/modules/content/}encoded"
    short = items["Short body"].findtext(encoded)
    assert short.startswith('<p><img src="https://news.example.com/img/lead.jpg?w=800&amp;h=600"')
    assert "<p>Lawmakers agreed on the final text &amp; the fines.</p>" in short
    assert 'href="https://news.example.com/eu/act.pdf"' in short
    # The description is HTML, as ever: the excerpt escaped.
    assert items["Short body"].findtext("description") == EXCERPT.replace("&", "&amp;")
    assert "<p>Just the excerpt.</p>" in items["No body"].findtext(encoded)
    bare = items["Only a title"]
    assert bare.find("description") is None and bare.find(encoded) is None


def test_atom_content_and_summary(site: Path) -> None:
    atom = "{http://www.w3.org/2005/Atom}"
    entries = _items(site / "atom.xml", "entry")
    content = entries["Short body"].find(atom + "content")
    assert content.get("type") == "html" and "<p>Lawmakers agreed" in content.text
    assert entries["Short body"].findtext(atom + "summary") == EXCERPT
    assert "<p>Just the excerpt.</p>" in entries["No body"].findtext(atom + "content")
    bare = entries["Only a title"]
    assert bare.find(atom + "summary") is None and bare.find(atom + "content") is None


def test_json_feed_content_and_summary(site: Path) -> None:
    items = {i["title"]: i for i in load_json(site / "feed.json")["items"]}
    assert items["Short body"]["summary"] == EXCERPT
    assert "<p>Lawmakers agreed" in items["Short body"]["content_html"]
    assert "content_text" not in items["Short body"]
    assert items["No body"]["content_html"].endswith("<p>Just the excerpt.</p>")
    # JSON Feed needs content_html or content_text: an empty text, never the title.
    bare = items["Only a title"]
    assert "summary" not in bare and "content_html" not in bare
    assert bare["content_text"] == ""


def test_the_title_never_stands_for_an_empty_excerpt(site: Path) -> None:
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert (site / name).read_text("utf-8").count("Only a title") == 1, name


def _assert_shows_excerpt_and_image(html: str) -> None:
    assert "Lawmakers agreed on the final text &amp; the fines." in html
    assert 'src="https://news.example.com/img/lead.jpg?w=800&amp;h=600"' in html
    assert "https://news.example.com/eu/act.pdf" in html


def test_reader_shows_the_excerpt_and_the_image(site: Path, tmp_path: Path) -> None:
    from reader import make_reader

    reader = make_reader(str(tmp_path / "db.sqlite"), feed_root=str(site))
    try:
        for name in ("rss.xml", "atom.xml", "feed.json"):
            reader.add_feed(name)
        reader.update_feeds()
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert reader.get_feed(name).last_exception is None, name
            entries = {e.title: e for e in reader.get_entries(feed=name)}
            content = entries["Short body"].get_content()
            assert content is not None and content.is_html, name
            _assert_shows_excerpt_and_image(content.value)
    finally:
        reader.close()


@pytest.mark.skipif(
    NEWSBOAT is None,
    reason="newsboat is not installed (Debian: apt-get install newsboat; .ci/run does it)",
)
@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_newsboat_shows_the_excerpt_and_the_image(site: Path, tmp_path: Path, name: str) -> None:
    """newsboat stores what it shows of an item in its cache's ``rss_item.content``."""
    assert NEWSBOAT is not None
    (tmp_path / "urls").write_text((site / name).as_uri() + "\n")
    (tmp_path / "config").write_text("")
    cache = tmp_path / "cache.db"
    run = subprocess.run(
        [NEWSBOAT, "-u", "urls", "-c", str(cache), "-C", "config", "-x", "reload"],
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    with sqlite3.connect(cache) as db:
        rows = dict(db.execute("SELECT title, content FROM rss_item").fetchall())
    assert set(rows) == {"Short body", "No body", "Only a title"}
    _assert_shows_excerpt_and_image(rows["Short body"])
    assert "Just the excerpt." in rows["No body"]


# -- the bundled content, end to end -------------------------------------------------------

CODE_ARTICLE = "https://code.example.net/2026/06/csharp-15-preview-unions/"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("bundled") / "public"
    code = main(
        ["build", "--content", str(REPO / "content"), "--output", str(output), "--no-cache"],
        now=NOW,
    )
    assert code == 0
    return output


def _code_item(bundled: Path) -> dict[str, Any]:
    items = load_json(bundled / "feed.json")["items"]
    (item,) = [i for i in items if i["id"] == CODE_ARTICLE]
    return item  # type: ignore[no-any-return]


def test_bundled_fenced_code_is_a_code_block(bundled: Path) -> None:
    html = _code_item(bundled)["content_html"]
    assert html.startswith("<p>The latest preview of the .NET SDK")  # the excerpt comes first
    assert (
        '<pre><code class="language-csharp">'
        "public union Result { Ok(int Value); Error(string Message); }\n</code></pre>"
    ) in html


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)",
)
def test_chromium_shows_the_code_block(bundled: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "item.html"
    page.write_text(
        '<!doctype html><meta charset="utf-8"><title>item</title>'
        + _code_item(bundled)["content_html"]
        + (render_body("```python\ndef f():\n    return 1\n```\n", CODE_ARTICLE) or ""),
        "utf-8",
    )
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "readers-code-block.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests may run as root (CI containers)
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    for action in ([f"--screenshot={shot}", "--window-size=1000,800"], ["--dump-dom"]):
        run = subprocess.run(
            [*command, *action, page.as_uri()], capture_output=True, text=True, timeout=TIMEOUT
        )
        assert run.returncode == 0, run.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 5_000, "blank or missing screenshot"
    dom = etree.fromstring(run.stdout, etree.HTMLParser())
    csharp, python = dom.xpath("//pre/code")
    assert csharp.get("class") == "language-csharp"
    assert csharp.text.startswith("public union Result {")
    assert python.get("class") == "language-python"
    assert python.text == "def f():\n    return 1\n"
