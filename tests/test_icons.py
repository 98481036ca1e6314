"""Icons: a provider's logo on its feeds, the configured icon and favicon on the others."""

from __future__ import annotations

from pathlib import Path

import feedparser
import lxml.html
import pytest
from conftest import article, load_json, run_build, write_tree
from lxml import etree

from feeds.config import Config, load_config
from feeds.errors import ConfigError

BASE = "https://feeds.example.com/news/"
LOGO = "https://news.example.com/logo.png"
ATOM = "{http://www.w3.org/2005/Atom}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _files() -> dict[str, str | bytes]:
    provider = {"name": "Example News", "domain": "news.example.com", "images": [{"url": LOGO}]}
    plain = {"name": "Plain Wire", "domain": "plain.example.org"}
    return {
        "1.md": article(n=1, topics=["AI"], provider=provider),
        "2.md": article(n=2, topics=["AI"], provider=plain),
    }


def _icons(output: Path, folder: str) -> dict[str, object]:
    """The icons each format of one feed carries."""
    prefix = f"{folder}/" if folder else ""
    rss = etree.parse(output / f"{prefix}rss.xml").getroot().find("channel")
    assert rss is not None
    atom = etree.parse(output / f"{prefix}atom.xml").getroot()
    json = load_json(output / f"{prefix}feed.json")
    image = rss.find("image")
    return {
        "rss": None
        if image is None
        else (image.findtext("url"), image.findtext("title"), image.findtext("link")),
        "rss channel": (rss.findtext("title"), rss.findtext("link")),
        "atom": (atom.findtext(f"{ATOM}icon"), atom.findtext(f"{ATOM}logo")),
        "json": (json.get("icon"), json.get("favicon")),
    }


def test_a_provider_feed_carries_its_logo_in_every_format(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, _files(), Config(base_url=BASE))
    icons = _icons(output, "providers/news.example.com")
    title, link = icons["rss channel"]  # type: ignore[misc]
    assert icons["rss"] == (LOGO, title, link)  # the image's title and link are the channel's
    assert link == BASE + "providers/news.example.com/"
    assert icons["atom"] == (LOGO, LOGO)
    assert icons["json"] == (LOGO, LOGO)
    for name in ("rss.xml", "atom.xml"):  # what a reader library sees
        parsed = feedparser.parse((output / "providers/news.example.com" / name).read_bytes())
        assert not parsed.bozo, (name, parsed.bozo_exception)
        if name == "rss.xml":
            assert parsed.feed.image.href == LOGO
        elif name == "atom.xml":
            assert parsed.feed.icon == LOGO and parsed.feed.logo == LOGO
    # No logo, nothing configured: no icon at all.
    assert _icons(output, "providers/plain.example.org")["rss"] is None
    assert _icons(output, "topics/ai")["json"] == (None, None)


def test_configured_icon_files_are_copied_and_linked(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "site",
        {
            "brand/icon.PNG": PNG,
            "favicon.ico": b"\0\0\1\0icon",
            "feeds.yaml": f"base_url: {BASE}\nicon: brand/icon.PNG\nfavicon: favicon.ico\n",
        },
    )
    config = load_config(tmp_path / "site/feeds.yaml")
    _, output = run_build(tmp_path, _files(), config)
    assert (output / "icon.png").read_bytes() == PNG
    assert (output / "favicon.ico").read_bytes() == b"\0\0\1\0icon"
    for folder in ("", "topics/ai", "providers/plain.example.org"):
        icons = _icons(output, folder)
        assert icons["json"] == (BASE + "icon.png", BASE + "favicon.ico"), folder
        assert icons["atom"] == (BASE + "favicon.ico", BASE + "icon.png"), folder
        title, link = icons["rss channel"]  # type: ignore[misc]
        assert icons["rss"] == (BASE + "icon.png", title, link), folder
    # The provider with a logo keeps its own.
    assert _icons(output, "providers/news.example.com")["json"] == (LOGO, LOGO)
    # The pages link the favicon relatively.
    index = lxml.html.fromstring((output / "index.html").read_bytes())
    assert index.xpath('//link[@rel="icon"]/@href') == ["favicon.ico"]
    group = lxml.html.fromstring((output / "topics/ai/index.html").read_bytes())
    assert group.xpath('//link[@rel="icon"]/@href') == ["../../favicon.ico"]


def test_icons_may_be_urls(tmp_path: Path) -> None:
    config = Config(base_url=BASE, icon="https://cdn.example.com/i.png", favicon=LOGO)
    _, output = run_build(tmp_path, _files(), config)
    assert _icons(output, "")["json"] == ("https://cdn.example.com/i.png", LOGO)
    assert not (output / "icon.png").exists()
    index = lxml.html.fromstring((output / "index.html").read_bytes())
    assert index.xpath('//link[@rel="icon"]/@href') == [LOGO]


def test_no_favicon_no_icon_link(tmp_path: Path) -> None:
    _, output = run_build(tmp_path, _files(), Config(base_url=BASE))
    for page in ("index.html", "topics/ai/index.html"):
        assert not lxml.html.fromstring((output / page).read_bytes()).xpath('//link[@rel="icon"]')


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("icon: missing.png", "icon: no such file: "),
        ("favicon: ftp://example.com/f.ico", "favicon: "),
        ("icon: 3", "icon: "),
    ],
)
def test_bad_icons_are_configuration_errors(tmp_path: Path, line: str, message: str) -> None:
    write_tree(tmp_path, {"feeds.yaml": line + "\n"})
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "feeds.yaml")
    assert message in str(caught.value)


def test_changing_the_icon_file_rewrites_its_copy(tmp_path: Path) -> None:
    import os

    write_tree(tmp_path / "site", {"icon.png": PNG, "feeds.yaml": "icon: icon.png\n"})
    config = load_config(tmp_path / "site/feeds.yaml")
    cache = tmp_path / "cache"
    _, output = run_build(tmp_path, _files(), config, cache=cache)
    icon = tmp_path / "site/icon.png"
    icon.write_bytes(PNG + b"new")
    os.utime(icon, ns=(1, 10**18))
    result, _ = run_build(tmp_path, _files(), config, cache=cache)
    assert (output / "icon.png").read_bytes() == PNG + b"new"
    assert result.report is not None and result.report.written == ("icon.png",)
