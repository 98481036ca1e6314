"""The registry of output formats: one module each, one line here to add one.

*Feed formats* render one :class:`~feeds.model.Feed` into one file in the feed's
folder; the *group page* is rendered the same way (an entry per article, spliced into a
document), into ``index.html`` in the folder of every topic and provider feed. *Site
pages* render the whole :class:`~feeds.model.Site` into files at the top of the output
(the index page, the OPML list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from feeds.formats.common import Context, FormatInfo
from feeds.formats.icons import render_icons
from feeds.formats.index import render_index
from feeds.formats.jsonfeed import json_item, render_json
from feeds.formats.opml import render_opml
from feeds.formats.page import PAGE, page_entry, render_page
from feeds.formats.stylesheet import render_stylesheet
from feeds.formats.xml import atom_entry, render_atom, render_rss, rss_item
from feeds.model import Article, Feed, Site


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """A feed format: an entry is rendered once per article, then spliced into documents."""

    info: FormatInfo
    """``info.name`` is the name used in ``feeds.yaml``'s ``formats``."""
    entry: Callable[[Article, Context], str]
    document: Callable[[Feed, Context, list[str]], bytes]


FEED_FORMATS: dict[str, FeedFormat] = {
    f.info.name: f
    for f in (
        FeedFormat(
            FormatInfo("rss", "rss.xml", "application/rss+xml", "RSS"), rss_item, render_rss
        ),
        FeedFormat(
            FormatInfo("atom", "atom.xml", "application/atom+xml", "Atom"), atom_entry, render_atom
        ),
        FeedFormat(
            FormatInfo("json", "feed.json", "application/feed+json", "JSON Feed"),
            json_item,
            render_json,
        ),
    )
}

GROUP_PAGE = FeedFormat(PAGE, page_entry, render_page)
"""Written beside the feed files of every topic and provider (not the site feed, whose
page is the index), whatever ``formats`` says."""

SITE_PAGES: tuple[Callable[[Site, Context], dict[str, bytes]], ...] = (
    render_index,
    render_opml,
    render_stylesheet,
    render_icons,
)
"""Renderers of files at the top of the output, each returning {file name: bytes}
(``render_stylesheet`` returns nothing unless ``stylesheet: true``, ``render_icons``
nothing unless ``icon`` or ``favicon`` names a file)."""

MEDIA_TYPES: dict[str, str] = {
    ".xml": "application/xml",
    ".json": "application/json",
    ".opml": "text/x-opml",
    ".html": "text/html; charset=utf-8",
    ".xsl": "text/xsl",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
} | {f.info.filename: f.info.media_type for f in FEED_FORMATS.values()}
"""Media types by file name (feed files) or extension (everything else), for servers."""
