"""RSS 2.0 and Atom 1.0.

The channel or feed head is written by feedgen, with its defaults overridden (they are
wrong for us: ``updated``/``lastBuildDate`` default to now, ``add_entry`` prepends).
Items are written here as text, once per article and format, and spliced into every
feed that holds the article: feedgen's per-entry cost (an lxml tree per entry per feed)
was most of a build's time. ``tests/feedgen_reference.py`` keeps the all-feedgen
renderer, and a test checks that both give the same bytes.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from feeds.formats.common import (
    DC_NS,
    EPOCH,
    EXTENSION_NS,
    EXTENSION_PREFIX,
    EXTENSION_VERSION,
    GENERATOR,
    GENERATOR_URI,
    HISTORY_NS,
    MEDIA_NS,
    SY_NS,
    Context,
    item_content,
    per_config,
    rfc822,
    update_period,
)
from feeds.formats.icons import feed_icons
from feeds.formats.stylesheet import processing_instruction
from feeds.model import Article, Feed, Image, Provider, RelatedItem
from feeds.slugs import slugify
from feeds.text import looks_like_markup

if TYPE_CHECKING:
    from feedgen.feed import FeedGenerator


@functools.cache
def _feedgen() -> tuple[type[FeedGenerator], type[Any], type[Any]]:
    """feedgen's generator and our two extensions of it, made when a feed is first
    rendered: feedgen, lxml and dateutil take 40 ms to import, which a run that renders
    no feed (a draft edited, nothing changed) does not spend."""
    from feedgen.ext.base import BaseExtension
    from feedgen.feed import FeedGenerator

    class Namespaces(BaseExtension):  # type: ignore[misc]
        """Declares our namespaces on the root element feedgen writes."""

        def extend_ns(self) -> dict[str, str]:
            return {EXTENSION_PREFIX: EXTENSION_NS, "media": MEDIA_NS, "dc": DC_NS}

    class Syndication(BaseExtension):  # type: ignore[misc]
        """Declares the RSS 1.0 Syndication module's namespace (with ``refresh_minutes``).

        feedgen's own syndication extension writes ``sy:UpdatePeriod`` (the module's
        elements begin in lower case) and an ``UpdateFrequency`` of ``None``: the elements
        are written here, by :func:`_channel_extras`."""

        def extend_ns(self) -> dict[str, str]:
            return {"sy": SY_NS}

    return FeedGenerator, Namespaces, Syndication


def text(value: str) -> str:
    """Escape character data (values are XML-safe already: see feeds.text.xml_safe)."""
    # Most values need nothing: four scans for a character are much faster than four
    # replacements (or one regex), and the entries are a cold build's largest cost.
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return (
            value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("\r", "&#13;")
        )
    return value


def attr(value: str) -> str:
    """Escape an attribute value for double quotes."""
    if '"' in value or "\n" in value or "\t" in value:
        return text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text(value)


def _html_text(value: str) -> str:
    """``text(_html_escape(value))`` in one pass: HTML escaped, then escaped as XML."""
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return (
            value.replace("&", "&amp;amp;")
            .replace("<", "&amp;lt;")
            .replace(">", "&amp;gt;")
            .replace("\r", "&#13;")
        )
    return value


class _Urls:
    """The escaped URLs entries link to, which depend on the configuration alone."""

    __slots__ = ("sources", "topics")

    def __init__(self, context: Context):
        self.topics: dict[str, str] = {}
        """Topic key -> its feed folder's URL, escaped for an attribute."""
        self.sources: dict[str, str] | None = (
            {} if "providers" in context.config.groupings else None
        )
        """Provider domain -> its RSS feed's URL, escaped; ``None``: no provider feeds."""

    def topic(self, context: Context, key: str) -> str:
        url = self.topics.get(key)
        if url is None:
            url = self.topics[key] = attr(context.topic_url(slugify(key)))
        return url

    def source(self, context: Context, sources: dict[str, str], domain: str) -> str:
        url = sources.get(domain)
        if url is None:
            slug = slugify(domain, domain=True)
            url = sources[domain] = attr(context.provider_feed_url(slug, "rss.xml"))
        return url


_urls = per_config(_Urls)


def _size(image: Image) -> str:
    """The ``width`` and ``height`` attributes, when both are known (integers: no escaping)."""
    if image.width and image.height:
        return f' width="{image.width}" height="{image.height}"'
    return ""


def _media(indent: str, image: Image | None) -> str:
    if image is None:
        return ""
    url = attr(image.url)
    size = _size(image)
    thumbnail = f'{indent}<media:thumbnail url="{url}"{size}/>\n'
    if image.title:
        return (
            f'{indent}<media:content url="{url}" medium="image"{size}>\n'
            f'{indent}  <media:title type="plain">{text(image.title)}</media:title>\n'
            f"{indent}</media:content>\n{thumbnail}"
        )
    return f'{indent}<media:content url="{url}" medium="image"{size}/>\n{thumbnail}'


def _provider(indent: str, provider: Provider) -> str:
    href = f' href="{attr(provider.url)}"' if provider.url else ""
    return (
        f'{indent}<feeds:provider domain="{attr(provider.domain)}"{href}>'
        f"{text(provider.name)}</feeds:provider>\n"
    )


def _related(indent: str, item: RelatedItem) -> str:
    inner = indent + "  "
    out = (
        f'{indent}<feeds:related href="{attr(item.url)}">\n'
        f"{inner}<feeds:title>{text(item.title)}</feeds:title>\n"
    )
    if item.summary:
        out += f"{inner}<feeds:summary>{text(item.summary)}</feeds:summary>\n"
    if item.published is not None:
        out += f"{inner}<feeds:published>{item.published.isoformat()}</feeds:published>\n"
    if item.kind:
        out += f"{inner}<feeds:type>{text(item.kind)}</feeds:type>\n"
    if item.provider is not None:
        out += _provider(inner, item.provider)
    if item.image is not None:
        out += f'{inner}<feeds:image url="{attr(item.image.url)}"{_size(item.image)}/>\n'
    return f"{out}{indent}</feeds:related>\n"


def _extension(indent: str, article: Article) -> str:
    out = "" if article.provider is None else _provider(indent, article.provider)
    if article.related:
        inner = indent + "  "
        out += (
            f'{indent}<feeds:relatedItems version="{EXTENSION_VERSION}">\n'
            + "".join([_related(inner, item) for item in article.related])
            + f"{indent}</feeds:relatedItems>\n"
        )
    return out


def _related_links(indent: str, name: str, article: Article) -> str:
    return "".join(
        [
            f'{indent}<{name} rel="related" href="{attr(r.url)}" title="{attr(r.title)}"/>\n'
            for r in article.related
        ]
    )


def rss_item(article: Article, context: Context) -> str:
    """One ``<item>``, indented for its place in the channel."""
    i = "      "
    out = [
        f"    <item>\n{i}<title>{text(article.title)}</title>\n"
        f"{i}<link>{text(article.url)}</link>\n"
    ]
    if article.summary:  # an item needs a title or a description: the title is always there
        out.append(f"{i}<description>{_html_text(article.summary)}</description>\n")
    content = item_content(article)
    if content:
        out.append(f"{i}<content:encoded><![CDATA[{_cdata(content)}]]></content:encoded>\n")
    permalink = "true" if article.id == article.url else "false"
    out.append(f'{i}<guid isPermaLink="{permalink}">{text(article.id)}</guid>\n')
    if article.topics:
        urls = _urls(context)
        for topic in article.topics:
            domain = urls.topic(context, topic.key)
            out.append(f'{i}<category domain="{domain}">{text(topic.name)}</category>\n')
    out.append(f"{i}<pubDate>{rfc822(article.published)}</pubDate>\n")
    provider = article.provider
    if provider is not None:
        name = text(provider.name)
        urls = _urls(context)
        if urls.sources is not None:
            url = urls.source(context, urls.sources, provider.domain)
            out.append(f'{i}<source url="{url}">{name}</source>\n')
        out.append(f"{i}<dc:creator>{name}</dc:creator>\n")
    if article.image is not None:
        out.append(_media(i, article.image))
    out.append(_extension(i, article))
    if article.related:
        out.append(_related_links(i, "atom:link", article))
    out.append("    </item>\n")
    return "".join(out)


def atom_entry(article: Article, context: Context) -> str:
    """One ``<entry>``, indented for its place in the feed."""
    i = "    "
    when = article.published.isoformat()
    out = [
        f"  <entry>\n{i}<id>{text(article.id)}</id>\n{_atom_text(i, 'title', article.title)}"
        f"{i}<updated>{when}</updated>\n"
    ]
    provider = article.provider
    if provider is not None:
        uri = f"{i}  <uri>{text(provider.url)}</uri>\n" if provider.url else ""
        out.append(f"{i}<author>\n{i}  <name>{text(provider.name)}</name>\n{uri}{i}</author>\n")
    content = item_content(article)
    if content:
        out.append(f'{i}<content type="html">{text(content)}</content>\n')
    out.append(f'{i}<link href="{attr(article.url)}"/>\n')
    if article.summary:
        out.append(_atom_text(i, "summary", article.summary))
    if article.topics:
        urls = _urls(context)
        for topic in article.topics:
            scheme = urls.topic(context, topic.key)
            out.append(f'{i}<category term="{attr(topic.name)}" scheme="{scheme}"/>\n')
    out.append(f"{i}<published>{when}</published>\n")
    if article.related:
        out.append(_related_links(i, "link", article))
    if article.image is not None:
        out.append(_media(i, article.image))
    out.append(_extension(i, article))
    out.append("  </entry>\n")
    return "".join(out)


def _atom_text(indent: str, name: str, value: str) -> str:
    """An Atom text construct. Plain text that looks like markup (``</b>``, ``&amp;``) is
    written as escaped HTML, so no reader or validator takes it for undeclared HTML."""
    if ("<" in value or "&" in value) and looks_like_markup(value):
        return f'{indent}<{name} type="html">{_html_text(value)}</{name}>\n'
    return f"{indent}<{name}>{text(value)}</{name}>\n"


def _cdata(value: str) -> str:
    return value.replace("]]>", "]]]]><![CDATA[>")


def _generator(feed: Feed, context: Context, filename: str) -> FeedGenerator:
    generator, namespaces, _ = _feedgen()
    fg = generator()
    fg.register_extension(EXTENSION_PREFIX, namespaces, None)
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
    if icon:  # RSS <image>: its title and link must be the channel's own
        fg.image(url=icon, title=context.title(feed), link=context.home_url(feed))  # and logo
    if favicon:
        fg.icon(favicon)
    return fg


def _splice(head: bytes, closing: bytes, entries: list[str]) -> bytes:
    """Put the entries before ``closing`` (the last line but one of feedgen's output)."""
    cut = head.rindex(closing)
    # One join: the entries are most of the document, and each ``+`` would copy them.
    return b"".join((head[:cut], "".join(entries).encode("utf-8"), head[cut:]))


def _channel_extras(context: Context) -> str:
    """What RSS's channel carries that feedgen does not write: WebSub hub links (feedgen
    drops every ``atom:link`` but ``self``) and the Syndication module's refresh hint."""
    config = context.config
    out = "".join([f'    <atom:link rel="hub" href="{attr(hub)}"/>\n' for hub in config.hubs])
    if config.refresh_minutes is not None:
        period, frequency = update_period(config.refresh_minutes)
        out += (
            f"    <sy:updatePeriod>{period}</sy:updatePeriod>\n"
            f"    <sy:updateFrequency>{frequency}</sy:updateFrequency>\n"
        )
    return out


def render_rss(feed: Feed, context: Context, entries: list[str]) -> bytes:
    fg = _generator(feed, context, "rss.xml")
    fg.docs("https://www.rssboard.org/rss-specification")
    if context.config.refresh_minutes is not None:
        fg.register_extension("sy", _feedgen()[2], None)
        fg.ttl(context.config.refresh_minutes)
    extras = _channel_extras(context)
    head = fg.rss_str(pretty=True)
    if extras:  # the channel's own elements come before its items
        head = _splice(head, b"  </channel>", [extras])
    entries = [*_history(feed, context, "rss.xml", "    ", "atom:link"), *entries]
    return _styled(_splice(head, b"  </channel>", entries), feed, context)


def render_atom(feed: Feed, context: Context, entries: list[str]) -> bytes:
    fg = _generator(feed, context, "atom.xml")
    fg.author({"name": context.config.title, "uri": context.config.base_url})
    for hub in context.config.hubs:  # WebSub: after self and alternate, which feedgen keeps
        fg.link(href=hub, rel="hub")
    entries = [*_history(feed, context, "atom.xml", "  ", "link"), *entries]
    return _styled(_splice(fg.atom_str(pretty=True), b"</feed>", entries), feed, context)


def _history(feed: Feed, context: Context, filename: str, indent: str, link: str) -> list[str]:
    """RFC 5005's links (``current``, ``prev-archive``, ``next-archive``) and, in an
    archive document, ``fh:archive``: written after the head, before the first entry."""
    history = feed.history
    if history is None:
        return []
    out = []
    if history.month is not None:
        current = attr(context.folder_url(feed.group_folder, filename))
        out.append(f'{indent}<{link} rel="current" href="{current}"/>\n')
    for rel, folder in (("prev-archive", history.prev), ("next-archive", history.next)):
        if folder is not None:
            href = attr(context.folder_url(folder, filename))
            out.append(f'{indent}<{link} rel="{rel}" href="{href}"/>\n')
    if history.month is not None:
        out.append(f'{indent}<fh:archive xmlns:fh="{HISTORY_NS}"/>\n')
    return out


def _styled(data: bytes, feed: Feed, context: Context) -> bytes:
    """Insert ``<?xml-stylesheet?>`` after the XML declaration when the stylesheet is on."""
    if not context.config.stylesheet:
        return data
    declaration, newline, rest = data.partition(b"\n")
    assert declaration.startswith(b"<?xml ") and newline, "feedgen writes a declaration line"
    return declaration + newline + processing_instruction(feed) + rest
