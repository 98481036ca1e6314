"""Reference renderer: RSS 2.0 and Atom 1.0 entirely through feedgen (tests only).

feedgen's defaults are wrong for us: ``updated``/``lastBuildDate`` default to now,
``add_entry`` prepends, Atom entry links lose ``rel``/``title`` (feedgen #135) and RSS
keeps one link per item (#122). We set every date from the items, append in order, and
write media, provider, related links and our extension in a feedgen extension.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.formats import xml
from feeds.formats.common import (
    ATOM_NS,
    DC_NS,
    EPOCH,
    EXTENSION_NS,
    EXTENSION_PREFIX,
    EXTENSION_VERSION,
    GENERATOR,
    GENERATOR_URI,
    MEDIA_NS,
    SY_NS,
    Context,
    item_content,
)
from feeds.formats.icons import feed_icons
from feeds.formats.stylesheet import processing_instruction
from feeds.model import Article, Feed, FeedKind, Image, Provider, RelatedItem
from feeds.slugs import slugify
from feeds.text import looks_like_markup

_X = f"{{{EXTENSION_NS}}}"
_M = f"{{{MEDIA_NS}}}"
_ATOM_LINK = f"{{{ATOM_NS}}}link"


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    def __init__(self) -> None:
        self.rss = True

    def extend_ns(self) -> dict[str, str]:
        return {EXTENSION_PREFIX: EXTENSION_NS, "media": MEDIA_NS, "dc": DC_NS}


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Writes what feedgen cannot: media, provider, related items."""

    def __init__(self) -> None:
        self.article: Article | None = None
        self.context: Context | None = None

    def extend_rss(self, item: Any) -> Any:
        assert self.article is not None and self.context is not None
        article = self.article
        description = item.find("description")
        if description is not None and not article.summary:
            # feedgen writes the content as the description when there is none; ours is
            # always content:encoded (the item's title is there: it needs no description).
            description.tag = "{http://purl.org/rss/1.0/modules/content/}encoded"
        if article.provider is not None:
            creator = etree.SubElement(item, f"{{{DC_NS}}}creator")
            creator.text = article.provider.name
        _media(item, article.image)
        _extension(item, article)
        for related in article.related:
            link = etree.SubElement(item, _ATOM_LINK, rel="related", href=related.url)
            link.set("title", related.title)
        return item

    def extend_atom(self, entry: Any) -> Any:
        assert self.article is not None
        article = self.article
        # Text that looks like markup is written as escaped HTML (feeds.formats.xml).
        for element in (entry.find("title"), entry.find("summary")):
            if element is not None and looks_like_markup(element.text):
                element.text = html.escape(element.text, quote=False)
                element.set("type", "html")
        # feedgen drops rel/type/title of entry links (#135): write the related ones here.
        # feedgen builds Atom elements without a namespace (the root carries a literal
        # xmlns attribute), so ours must be unqualified too to land in the Atom namespace.
        for related in article.related:
            link = etree.SubElement(entry, "link", rel="related", href=related.url)
            link.set("title", related.title)
        _media(entry, article.image)
        _extension(entry, article)
        return entry


def _media(parent: Any, image: Image | None) -> None:
    if image is None:
        return
    content = etree.SubElement(parent, _M + "content", url=image.url, medium="image")
    thumbnail = etree.SubElement(parent, _M + "thumbnail", url=image.url)
    for element in (content, thumbnail):
        if image.width and image.height:
            element.set("width", str(image.width))
            element.set("height", str(image.height))
    if image.title:
        title = etree.SubElement(content, _M + "title", type="plain")
        title.text = image.title


def _provider(parent: Any, provider: Provider) -> None:
    element = etree.SubElement(parent, _X + "provider", domain=provider.domain)
    if provider.url:
        element.set("href", provider.url)
    element.text = provider.name


def _image(parent: Any, image: Image) -> None:
    element = etree.SubElement(parent, _X + "image", url=image.url)
    if image.width and image.height:
        element.set("width", str(image.width))
        element.set("height", str(image.height))


def _related(parent: Any, item: RelatedItem) -> None:
    element = etree.SubElement(parent, _X + "related", href=item.url)
    etree.SubElement(element, _X + "title").text = item.title
    if item.summary:
        etree.SubElement(element, _X + "summary").text = item.summary
    if item.published is not None:
        etree.SubElement(element, _X + "published").text = item.published.isoformat()
    if item.kind:
        etree.SubElement(element, _X + "type").text = item.kind
    if item.provider is not None:
        _provider(element, item.provider)
    if item.image is not None:
        _image(element, item.image)


def _extension(parent: Any, article: Article) -> None:
    if article.provider is None and not article.related:
        return
    if article.provider is not None:
        _provider(parent, article.provider)
    if article.related:
        group = etree.SubElement(parent, _X + "relatedItems", version=EXTENSION_VERSION)
        for item in article.related:
            _related(group, item)


def _generator(
    feed: Feed, articles: Sequence[Article], context: Context, filename: str
) -> FeedGenerator:
    if feed.kind is FeedKind.PROVIDER:  # the provider's logo, from its newest article
        logos = [a.provider.image.url for a in articles if a.provider and a.provider.image]
        feed = replace(feed, icon=logos[0] if logos else None)
    return _head(feed, context, filename, _EntryExtension)


def _entry(fg: FeedGenerator, article: Article, context: Context, *, atom: bool) -> FeedEntry:
    fe = fg.add_entry(order="append")
    ext = getattr(fe, EXTENSION_PREFIX)
    ext.article = article
    ext.context = context
    fe.id(article.id)
    fe.guid(article.id, permalink=article.id == article.url)
    fe.title(article.title)
    fe.link(href=article.url)
    fe.published(article.published)
    fe.updated(article.published)
    fe.pubDate(article.published)
    categories = [
        {"term": topic.name, "scheme": context.topic_url(slugify(topic.key))}
        for topic in article.topics
    ]
    if categories:
        fe.category(categories)
    content = item_content(article)
    if atom:
        if article.summary:
            fe.summary(article.summary)
        if content:
            fe.content(content, type="html")
        if article.provider is not None:
            author = {"name": article.provider.name}
            if article.provider.url:
                author["uri"] = article.provider.url
            fe.author(author)
    else:
        if article.summary:
            fe.description(html.escape(article.summary, quote=False))
        if content:
            fe.content(content, type="CDATA")
        if article.provider is not None and "providers" in context.config.groupings:
            fe.source(
                url=context.provider_feed_url(
                    slugify(article.provider.domain, domain=True), "rss.xml"
                ),
                title=article.provider.name,
            )
    return fe


def render_rss(feed: Feed, articles: Sequence[Article], context: Context) -> bytes:
    fg = _generator(feed, articles, context, "rss.xml")
    for article in articles:
        _entry(fg, article, context, atom=False)
    fg.docs("https://www.rssboard.org/rss-specification")
    return fg.rss_str(pretty=True)  # type: ignore[no-any-return]


def render_atom(feed: Feed, articles: Sequence[Article], context: Context) -> bytes:
    fg = _generator(feed, articles, context, "atom.xml")
    fg.author({"name": context.config.title, "uri": context.config.base_url})
    for article in articles:
        _entry(fg, article, context, atom=True)
    return fg.atom_str(pretty=True)  # type: ignore[no-any-return]


# -- the head of a feed, as the product wrote it through feedgen until it wrote it itself --


class _Syndication(BaseExtension):  # type: ignore[misc]
    """The RSS 1.0 Syndication module's namespace (with ``refresh_minutes``)."""

    def extend_ns(self) -> dict[str, str]:
        return {"sy": SY_NS}


def _head(
    feed: Feed, context: Context, filename: str, entries: type[Any] | None = None
) -> FeedGenerator:
    """The head of a feed, with ``entries`` the extension of its entries (if any)."""
    fg = FeedGenerator()
    fg.register_extension(EXTENSION_PREFIX, _FeedExtension, entries)
    fg.id(context.file_url(feed, filename))
    fg.title(context.title(feed))
    fg.description(context.description(feed))
    fg.subtitle(context.description(feed))
    fg.language(context.config.language)
    fg.generator(GENERATOR, context.version, GENERATOR_URI)
    fg.updated(feed.updated or EPOCH)
    fg.link(href=context.file_url(feed, filename), rel="self")
    fg.link(href=context.home_url(feed), rel="alternate")
    icon, favicon = feed_icons(feed, context)
    if icon:
        fg.image(url=icon, title=context.title(feed), link=context.home_url(feed))
    if favicon:
        fg.icon(favicon)
    return fg


def _splice(head: bytes, closing: bytes, entries: list[str]) -> bytes:
    cut = head.rindex(closing)
    return b"".join((head[:cut], "".join(entries).encode("utf-8"), head[cut:]))


def _styled(data: bytes, feed: Feed, context: Context) -> bytes:
    """The stylesheet's processing instruction after feedgen's declaration line."""
    if not context.config.stylesheet:
        return data
    declaration, newline, rest = data.partition(b"\n")
    return declaration + newline + processing_instruction(feed).encode() + rest


def head_rss(feed: Feed, context: Context, entries: list[str]) -> bytes:
    """:func:`feeds.formats.xml.render_rss`, its channel written by feedgen."""
    fg = _head(feed, context, "rss.xml")
    fg.docs("https://www.rssboard.org/rss-specification")
    if context.config.refresh_minutes is not None:
        fg.register_extension("sy", _Syndication, None)
        fg.ttl(context.config.refresh_minutes)
    extras = xml._channel_extras(context)
    head = fg.rss_str(pretty=True)
    if extras:
        head = _splice(head, b"  </channel>", [extras])
    entries = [*xml._history(feed, context, "rss.xml", "    ", "atom:link"), *entries]
    return _styled(_splice(head, b"  </channel>", entries), feed, context)


def head_atom(feed: Feed, context: Context, entries: list[str]) -> bytes:
    """:func:`feeds.formats.xml.render_atom`, its head written by feedgen."""
    fg = _head(feed, context, "atom.xml")
    fg.author({"name": context.config.title, "uri": context.config.base_url})
    for hub in context.config.hubs:
        fg.link(href=hub, rel="hub")
    entries = [*xml._history(feed, context, "atom.xml", "  ", "link"), *entries]
    return _styled(_splice(fg.atom_str(pretty=True), b"</feed>", entries), feed, context)
