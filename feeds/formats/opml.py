"""OPML 2.0 list of every feed, grouped into Topics and Providers, for one-click import.

Written to pass the W3C validator's OPML rules: RFC 822 dates in the head, ``text`` on
every outline, ``type="rss"`` with ``xmlUrl`` and ``title`` on every subscription, no
``title`` on the plain group outlines (a ``title`` without a ``type`` is flagged), and
no ``<docs>`` in the head: the spec has it, but the validator rejects it as undefined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feeds.formats.common import EPOCH, Context, FormatInfo, rfc822
from feeds.model import Feed, FeedKind, Site

FILENAME = "feeds.opml"
MEDIA_TYPE = "text/x-opml"
GROUPS = ((FeedKind.TOPIC, "Topics"), (FeedKind.PROVIDER, "Providers"))

if TYPE_CHECKING:
    from lxml import etree


def subscription_format(context: Context) -> FormatInfo:
    """The format OPML subscribes to: RSS, else Atom, else JSON Feed.

    OPML's ``type="rss"`` names any feed a reader fetches; RSS is the one every reader
    speaks, and JSON Feed (when it is the only format written) is imported by the
    readers that support it.
    """
    by_name = {info.name: info for info in context.formats}
    return by_name.get("rss") or by_name.get("atom") or context.formats[0]


def _outline(parent: etree._Element, feed: Feed, context: Context, info: FormatInfo) -> None:
    from lxml import etree

    etree.SubElement(
        parent,
        "outline",
        type="rss",
        text=context.title(feed),
        title=context.title(feed),
        description=context.description(feed),
        xmlUrl=context.file_url(feed, info.filename),
        htmlUrl=context.home_url(feed),
    )


def render_opml(site: Site, context: Context) -> dict[str, bytes]:
    from lxml import etree  # 15 ms to import: only when the list is made

    info = subscription_format(context)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{context.config.title}: all feeds"
    updated = rfc822(site.site_feed.updated or EPOCH, usegmt=True)
    etree.SubElement(head, "dateCreated").text = updated
    etree.SubElement(head, "dateModified").text = updated
    etree.SubElement(head, "ownerName").text = context.config.title
    body = etree.SubElement(root, "body")
    _outline(body, site.site_feed, context, info)
    for kind, label in GROUPS:
        feeds = [f for f in site.feeds if f.kind is kind]
        if feeds:
            group = etree.SubElement(body, "outline", text=label)
            for feed in feeds:
                _outline(group, feed, context, info)
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return {FILENAME: data}
