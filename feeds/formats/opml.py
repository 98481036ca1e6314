"""OPML 2.0 list of every feed, grouped into Topics and Providers, for one-click import."""

from __future__ import annotations

from email.utils import format_datetime

from lxml import etree

from feeds.formats.common import EPOCH, Context
from feeds.model import Feed, FeedKind, Site

FILENAME = "feeds.opml"
MEDIA_TYPE = "text/x-opml"


def _outline(parent: etree._Element, feed: Feed, context: Context) -> None:
    # One subscription per feed: the first XML format written (OPML's type="rss" names
    # XML feeds; readers that speak JSON Feed import those too).
    for info in context.formats:
        if info.name in ("rss", "atom"):
            etree.SubElement(
                parent,
                "outline",
                type="rss",
                text=context.title(feed),
                title=context.title(feed),
                xmlUrl=context.file_url(feed, info.filename),
                htmlUrl=context.home_url(feed),
            )
            return


def render_opml(site: Site, context: Context) -> dict[str, bytes]:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{context.config.title}: all feeds"
    updated = site.site_feed.updated or EPOCH
    etree.SubElement(head, "dateCreated").text = format_datetime(updated, usegmt=True)
    etree.SubElement(head, "dateModified").text = format_datetime(updated, usegmt=True)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    _outline(body, site.site_feed, context)
    for kind, label in ((FeedKind.TOPIC, "Topics"), (FeedKind.PROVIDER, "Providers")):
        feeds = [f for f in site.feeds if f.kind is kind]
        if not feeds:
            continue
        group = etree.SubElement(body, "outline", text=label, title=label)
        for feed in feeds:
            _outline(group, feed, context)
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return {FILENAME: data}
