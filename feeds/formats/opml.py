"""OPML 2.0 list of every feed, grouped into Topics and Providers, for one-click import.

Written to pass the W3C validator's OPML rules: RFC 822 dates in the head, ``text`` on
every outline, ``type="rss"`` with ``xmlUrl`` and ``title`` on every subscription, no
``title`` on the plain group outlines (a ``title`` without a ``type`` is flagged), and
no ``<docs>`` in the head: the spec has it, but the validator rejects it as undefined.
"""

from __future__ import annotations

from feeds.formats.common import EPOCH, Context, FormatInfo, rfc822
from feeds.formats.xml import attr, text
from feeds.model import Feed, FeedKind, Site

FILENAME = "feeds.opml"
MEDIA_TYPE = "text/x-opml"
GROUPS = ((FeedKind.TOPIC, "Topics"), (FeedKind.PROVIDER, "Providers"))


def subscription_format(context: Context) -> FormatInfo:
    """The format OPML subscribes to: RSS, else Atom, else JSON Feed.

    OPML's ``type="rss"`` names any feed a reader fetches; RSS is the one every reader
    speaks, and JSON Feed (when it is the only format written) is imported by the
    readers that support it.
    """
    by_name = {info.name: info for info in context.formats}
    return by_name.get("rss") or by_name.get("atom") or context.formats[0]


def _outline(feed: Feed, context: Context, info: FormatInfo, indent: str) -> str:
    title = attr(context.title(feed))
    return (
        f'{indent}<outline type="rss" text="{title}" title="{title}" '
        f'description="{attr(context.description(feed))}" '
        f'xmlUrl="{attr(context.file_url(feed, info.filename))}" '
        f'htmlUrl="{attr(context.home_url(feed))}"/>\n'
    )


def render_opml(site: Site, context: Context) -> dict[str, bytes]:
    """The list, written as text: byte for byte what lxml's ``tostring(pretty_print=True)``
    writes of the same tree (``tests/test_opml.py`` checks both on any names): 6-11 ms
    for the 852 groups of 100,000 articles, where lxml took 31 (15 of them to import)."""
    info = subscription_format(context)
    title = context.config.title
    updated = rfc822(site.site_feed.updated or EPOCH, usegmt=True)
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        '<opml version="2.0">\n',
        "  <head>\n",
        f"    <title>{text(f'{title}: all feeds')}</title>\n",
        f"    <dateCreated>{updated}</dateCreated>\n",
        f"    <dateModified>{updated}</dateModified>\n",
        f"    <ownerName>{text(title)}</ownerName>\n",
        "  </head>\n",
        "  <body>\n",
        _outline(site.site_feed, context, info, "    "),
    ]
    for kind, label in GROUPS:
        feeds = [f for f in site.feeds if f.kind is kind]
        if feeds:
            out.append(f'    <outline text="{label}">\n')
            out.extend(_outline(feed, context, info, "      ") for feed in feeds)
            out.append("    </outline>\n")
    out.append("  </body>\n</opml>\n")
    return {FILENAME: "".join(out).encode("utf-8")}
