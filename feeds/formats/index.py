"""The index page: every feed with subscribe links, and autodiscovery for the site feeds.

The page's own links (``href``) are relative (``topics/ai/rss.xml``, ``feeds.opml``), so
the page works opened from disk and from any host; the feeds' addresses (``url``, the
autodiscovery links) stay absolute under ``base_url``, as in the feeds and the OPML list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from feeds.formats.common import EPOCH, Context
from feeds.formats.icons import favicon_href
from feeds.formats.opml import FILENAME as OPML_FILENAME
from feeds.formats.page import PAGE
from feeds.model import Feed, FeedKind, Site

FILENAME = "index.html"


@dataclass(frozen=True, slots=True)
class Link:
    """A link to one of a feed's files, as the template sees it."""

    label: str
    url: str
    href: str
    type: str


@dataclass(frozen=True, slots=True)
class Row:
    """A feed as the template sees it. Attributes, not a dict: Jinja looks ``feed.name``
    up as an attribute first, and failing that on 20,000 values of a big site's index
    doubled the time the page takes to render (``feed["name"]`` works too)."""

    name: str
    title: str
    description: str
    anchor: str
    page_href: str
    count: int
    newest: datetime | None
    links: tuple[Link, ...]
    archive_href: str | None


def _entry(feed: Feed, context: Context) -> Row:
    base_url = context.config.base_url
    archive = context.archive_url(feed)
    return Row(
        name=feed.name,
        title=context.title(feed),
        description=context.description(feed),
        anchor=context.anchor(feed),
        page_href=_relative(context.file_url(feed, PAGE.filename), base_url),
        count=feed.total,
        newest=feed.updated,
        links=tuple(
            Link(
                label=info.label,
                url=(url := context.file_url(feed, info.filename)),
                href=_relative(url, base_url),
                type=info.media_type,
            )
            for info in context.formats
        ),
        archive_href=_relative(archive, base_url) if archive else None,
    )


def _relative(url: str, base_url: str) -> str:
    """``url`` relative to the index page at ``base_url`` (already percent-encoded)."""
    return url[len(base_url) :] if url.startswith(base_url) else url


def render_index(site: Site, context: Context) -> dict[str, bytes]:
    """``index.html`` from the ``index.html`` template (overridable; see templating)."""
    from feeds.formats.templating import render_template  # Jinja: only when the page is made

    page = render_template(
        context.config.templates,
        context.compiled,
        FILENAME,
        config=context.config,
        site_feed=_entry(site.site_feed, context),
        topics=[_entry(f, context) for f in site.feeds if f.kind is FeedKind.TOPIC],
        providers=[_entry(f, context) for f in site.feeds if f.kind is FeedKind.PROVIDER],
        opml_url=context.config.base_url + OPML_FILENAME,
        opml_href=OPML_FILENAME,
        updated=site.site_feed.updated or EPOCH,
        favicon_href=favicon_href(context.config),
    )
    return {FILENAME: page}
