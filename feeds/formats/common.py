"""What every renderer shares: feed URLs, titles and the feeds extension's names."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from feeds import __version__
from feeds.config import Config
from feeds.markup import render_body
from feeds.model import Article, Feed, FeedKind, Image, Site
from feeds.urls import join_url

EXTENSION_NS = "http://purl.org/net/feeds/1.0/"
"""Namespace (and JSON Feed ``about`` URL) of our extension; see docs/extension.md."""
EXTENSION_VERSION = "1.0"
EXTENSION_PREFIX = "feeds"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"
ATOM_NS = "http://www.w3.org/2005/Atom"
SY_NS = "http://purl.org/rss/1.0/modules/syndication/"
HISTORY_NS = "http://purl.org/syndication/history/1.0"
"""RFC 5005's namespace, of ``fh:archive`` in archive documents."""
GENERATOR = "feeds"
GENERATOR_URI = "https://pypi.org/project/feeds/"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The date of a feed with no items: fixed, so that output never depends on the clock."""


T = TypeVar("T")


class FormatInfo(NamedTuple):
    """What pages need to know of a feed format to link to its files."""

    name: str
    filename: str
    media_type: str
    label: str


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(when: datetime, *, usegmt: bool = False) -> str:
    """``email.utils.format_datetime(when, usegmt)``, without its time tuple and ``%``
    formatting, and without importing :mod:`email` (the OPML list's dates took it in)."""
    if when.tzinfo is UTC:
        zone = "GMT" if usegmt else "+0000"
    elif usegmt:
        raise ValueError("usegmt option requires a UTC datetime")
    elif when.tzinfo is None:
        zone = "-0000"
    else:
        zone = when.strftime("%z")
    return (
        f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}"
    )


@dataclass(frozen=True, slots=True)
class Context:
    """The configuration and site a renderer may consult, plus URL helpers."""

    config: Config
    site: Site
    formats: tuple[FormatInfo, ...]
    """Every feed format written, in registry order."""
    compiled: str | None = None
    """A folder where Jinja keeps the templates it compiled, for the next runs (in the
    cache; ``None``: none kept)."""

    @property
    def version(self) -> str:
        return __version__

    def file_url(self, feed: Feed, filename: str) -> str:
        return self.folder_url(feed.folder, filename)

    def folder_url(self, folder: str, filename: str) -> str:
        """The URL of ``filename`` in ``folder`` (relative to the output root)."""
        parts = folder.split("/") if folder else []
        return join_url(self.config.base_url, *parts, filename)

    def archive_url(self, feed: Feed) -> str | None:
        """The newest archive document of a subscription feed, in the first format
        (``None``: archives are off, or every article is in the feed)."""
        history = feed.history
        if history is None or history.prev is None:
            return None
        return self.folder_url(history.prev, self.formats[0].filename)

    def home_url(self, feed: Feed) -> str:
        """Where a person reads about the feed: the index page, or the group's own page
        (its folder, which serves ``index.html``); an archive document's is its group's."""
        if feed.kind is FeedKind.SITE:
            return self.config.base_url
        return join_url(self.config.base_url, *feed.group_folder.split("/")) + "/"

    def anchor(self, feed: Feed) -> str:
        """The ``id`` of the feed's section on the index page."""
        return f"{feed.kind.value}-{feed.slug}" if feed.kind is not FeedKind.SITE else "site"

    def topic_url(self, key_slug: str) -> str:
        return join_url(self.config.base_url, "topics", key_slug) + "/"

    def provider_feed_url(self, slug: str, filename: str) -> str:
        return join_url(self.config.base_url, "providers", slug, filename)

    def title(self, feed: Feed) -> str:
        title = (
            self.config.title
            if feed.kind is FeedKind.SITE
            else f"{feed.name} · {self.config.title}"
        )
        return title + _archive_suffix(feed)

    def description(self, feed: Feed) -> str:
        if feed.is_archive:
            return f"Archived articles of {self.title(feed)}"
        if feed.kind is FeedKind.SITE:
            return self.config.description
        if feed.kind is FeedKind.TOPIC:
            return f"The newest articles about {feed.name} on {self.config.title}"
        return f"The newest articles from {feed.name} on {self.config.title}"


def _archive_suffix(feed: Feed) -> str:
    """`` · archive 2024-05`` (page 2 and on: `` · archive 2024-05, page 2``), or ``""``."""
    history = feed.history
    if history is None or history.month is None:
        return ""
    page = f", page {history.page}" if history.page > 1 else ""
    return f" · archive {history.month}{page}"


def per_config(build: Callable[[Context], T]) -> Callable[[Context], T]:
    """``build(context)`` made once per configuration and reused for every entry.

    For values that depend on ``context.config`` alone (URL prefixes, URLs per topic).
    Only the latest configuration's value is kept, found by identity: a ``Config`` is
    immutable, comparing it is slower than building most values, and holding it (not the
    context, which holds the whole site) keeps no site alive after its build.
    """
    last: tuple[Config, T] | None = None

    def get(context: Context) -> T:
        nonlocal last
        held = last  # one read: another thread may replace it
        if held is not None and held[0] is context.config:
            return held[1]
        value = build(context)
        last = (context.config, value)
        return value

    return get


_PERIODS = (("hourly", 60), ("daily", 1440), ("weekly", 10_080), ("monthly", 43_200))


def update_period(minutes: int) -> tuple[str, int]:
    """``refresh_minutes`` as the Syndication module's period and frequency: the shortest
    period that is at least ``minutes`` long, updated as often as whole ``minutes`` fit in
    it (45 minutes: hourly, once; 20 minutes: hourly, 3 times). A month is 30 days."""
    for name, length in _PERIODS:
        if minutes <= length:
            return name, length // minutes
    return "yearly", max(1, 525_600 // minutes)


# -- what a reader shows of an item --------------------------------------------------------

_TAG = re.compile(r'<(?:[^>"]++|"[^"]*+")*+>')
_IMG_SRC = re.compile(r'<img\s(?:[^>"]|"[^"]*")*?\bsrc="([^"]*)"')

_last_content: tuple[Article, str | None] | None = None
"""The last article :func:`item_content` was asked for, and its answer: the formats ask for
the same article one after the other."""


def item_content(article: Article) -> str | None:
    """The item's HTML content: the lead image, the excerpt, then the body (its Markdown
    rendered here, for the items that are written).

    Readers show the content when there is one and never the summary, and several show no
    ``media:*`` or JSON ``image``: without this, an article with a short body would lose
    its excerpt and its image. The image is left out when the body shows it already, the
    excerpt when the body's text starts with it. ``None`` when there is none of the three.
    Every format writes this (RSS ``content:encoded``, Atom ``content``, JSON Feed
    ``content_html``).
    """
    global _last_content
    held = _last_content  # one read: another thread may replace it
    if held is not None and held[0] is article:
        return held[1]
    content = _compose(article.image, article.summary, render_body(article.body, article.url))
    _last_content = (article, content)
    return content


def _compose(image: Image | None, summary: str, body: str | None) -> str | None:
    parts: list[str] = []
    if image is not None and not (body and _shows_image(body, image.url)):
        alt = html.escape(image.title or "")
        parts.append(f'<p><img src="{html.escape(image.url)}" alt="{alt}"></p>')
    if summary and not (body and _starts_with_text(body, summary)):
        parts.append(f"<p>{html.escape(summary, quote=False)}</p>")
    if body:
        parts.append(body)
    return "\n".join(parts) or None


def _shows_image(body: str, url: str) -> bool:
    """Whether the (sanitised) HTML ``body`` holds an ``<img>`` of ``url``."""
    if "<img" not in body:
        return False
    return any(html.unescape(m.group(1)) == url for m in _IMG_SRC.finditer(body))


def _starts_with_text(body: str, text: str) -> bool:
    """Whether the text of the (sanitised) HTML ``body``, white space folded, starts with
    ``text``. Only the head of the body is read: as many characters as it takes."""
    want = " ".join(text.split()).removesuffix("…").rstrip()
    size = 2 * len(want) + 64
    while True:
        head = body[:size]
        whole = size >= len(body)
        if not whole:
            # A tag or a character reference cut in two is not text.
            if head.rfind("<") > head.rfind(">"):
                head = head[: head.rfind("<")]
            if head.rfind("&") > head.rfind(";"):
                head = head[: head.rfind("&")]
        got = " ".join(html.unescape(_TAG.sub("", head)).split())
        if whole or len(got) > len(want):
            return got.startswith(want)
        size *= 4
