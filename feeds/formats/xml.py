"""RSS 2.0 and Atom 1.0.

The channel or feed head is written by feedgen, with its defaults overridden (they are
wrong for us: ``updated``/``lastBuildDate`` default to now, ``add_entry`` prepends).
Items are written here as text, once per article and format, and spliced into every
feed that holds the article: feedgen's per-entry cost (an lxml tree per entry per feed)
was most of a build's time. ``tests/feedgen_reference.py`` keeps the all-feedgen
renderer, and a test checks that both give the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator

from feeds.formats.common import (
    DC_NS,
    EPOCH,
    EXTENSION_NS,
    EXTENSION_PREFIX,
    EXTENSION_VERSION,
    GENERATOR,
    GENERATOR_URI,
    MEDIA_NS,
    Context,
)
from feeds.formats.stylesheet import processing_instruction
from feeds.model import Article, Feed, Image, Provider, RelatedItem
from feeds.slugs import slugify
from feeds.text import looks_like_markup


class _Namespaces(BaseExtension):  # type: ignore[misc]
    """Declares our namespaces on the root element feedgen writes."""

    def extend_ns(self) -> dict[str, str]:
        return {EXTENSION_PREFIX: EXTENSION_NS, "media": MEDIA_NS, "dc": DC_NS}


def text(value: str) -> str:
    """Escape character data (values are XML-safe already: see feeds.text.xml_safe)."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def attr(value: str) -> str:
    """Escape an attribute value for double quotes."""
    return text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def rfc822(when: datetime) -> str:
    return format_datetime(when)


def _element(indent: str, name: str, value: str, **attrs: str) -> str:
    attributes = "".join(f' {k}="{attr(v)}"' for k, v in attrs.items())
    return f"{indent}<{name}{attributes}>{text(value)}</{name}>\n"


def _empty(indent: str, name: str, attrs: list[tuple[str, str]]) -> str:
    attributes = "".join(f' {k}="{attr(v)}"' for k, v in attrs)
    return f"{indent}<{name}{attributes}/>\n"


def _media(indent: str, image: Image | None) -> str:
    if image is None:
        return ""
    size = (
        [("width", str(image.width)), ("height", str(image.height))]
        if (image.width and image.height)
        else []
    )
    out = []
    if image.title:
        out.append(
            f'{indent}<media:content url="{attr(image.url)}" medium="image"'
            + "".join(f' {k}="{v}"' for k, v in size)
            + ">\n"
        )
        out.append(_element(indent + "  ", "media:title", image.title, type="plain"))
        out.append(f"{indent}</media:content>\n")
    else:
        out.append(
            _empty(indent, "media:content", [("url", image.url), ("medium", "image"), *size])
        )
    out.append(_empty(indent, "media:thumbnail", [("url", image.url), *size]))
    return "".join(out)


def _provider(indent: str, provider: Provider) -> str:
    attrs = {"domain": provider.domain}
    if provider.url:
        attrs["href"] = provider.url
    return _element(indent, "feeds:provider", provider.name, **attrs)


def _related(indent: str, item: RelatedItem) -> str:
    inner = indent + "  "
    out = [
        f'{indent}<feeds:related href="{attr(item.url)}">\n',
        _element(inner, "feeds:title", item.title),
    ]
    if item.summary:
        out.append(_element(inner, "feeds:summary", item.summary))
    if item.published is not None:
        out.append(_element(inner, "feeds:published", item.published.isoformat()))
    if item.kind:
        out.append(_element(inner, "feeds:type", item.kind))
    if item.provider is not None:
        out.append(_provider(inner, item.provider))
    if item.image is not None:
        size = (
            [("width", str(item.image.width)), ("height", str(item.image.height))]
            if (item.image.width and item.image.height)
            else []
        )
        out.append(_empty(inner, "feeds:image", [("url", item.image.url), *size]))
    out.append(f"{indent}</feeds:related>\n")
    return "".join(out)


def _extension(indent: str, article: Article) -> str:
    out = []
    if article.provider is not None:
        out.append(_provider(indent, article.provider))
    if article.related:
        out.append(f'{indent}<feeds:relatedItems version="{EXTENSION_VERSION}">\n')
        out.extend(_related(indent + "  ", item) for item in article.related)
        out.append(f"{indent}</feeds:relatedItems>\n")
    return "".join(out)


def _related_links(indent: str, name: str, article: Article) -> str:
    return "".join(
        _empty(indent, name, [("rel", "related"), ("href", r.url), ("title", r.title)])
        for r in article.related
    )


def rss_item(article: Article, context: Context) -> str:
    """One ``<item>``, indented for its place in the channel."""
    i = "      "
    out = ["    <item>\n", _element(i, "title", article.title), _element(i, "link", article.url)]
    out.append(_element(i, "description", _html_escape(article.summary or article.title)))
    if article.content_html:
        out.append(
            f"{i}<content:encoded><![CDATA[{_cdata(article.content_html)}]]></content:encoded>\n"
        )
    out.append(
        _element(
            i, "guid", article.id, isPermaLink="true" if article.id == article.url else "false"
        )
    )
    for topic in article.topics:
        out.append(
            _element(i, "category", topic.name, domain=context.topic_url(slugify(topic.key)))
        )
    out.append(_element(i, "pubDate", rfc822(article.published)))
    if article.provider is not None:
        if "providers" in context.config.groupings:
            url = context.provider_feed_url(
                slugify(article.provider.domain, domain=True), "rss.xml"
            )
            out.append(_element(i, "source", article.provider.name, url=url))
        out.append(_element(i, "dc:creator", article.provider.name))
    out.append(_media(i, article.image))
    out.append(_extension(i, article))
    out.append(_related_links(i, "atom:link", article))
    out.append("    </item>\n")
    return "".join(out)


def atom_entry(article: Article, context: Context) -> str:
    """One ``<entry>``, indented for its place in the feed."""
    i = "    "
    when = article.published.isoformat()
    out = [
        "  <entry>\n",
        _element(i, "id", article.id),
        _atom_text(i, "title", article.title),
        _element(i, "updated", when),
    ]
    if article.provider is not None:
        out.append(f"{i}<author>\n")
        out.append(_element(i + "  ", "name", article.provider.name))
        if article.provider.url:
            out.append(_element(i + "  ", "uri", article.provider.url))
        out.append(f"{i}</author>\n")
    if article.content_html:
        out.append(_element(i, "content", article.content_html, type="html"))
    out.append(_empty(i, "link", [("href", article.url)]))
    # Neither summary nor content shows as an empty entry in many readers (and the W3C
    # validator says so): fall back to the title, as RSS and JSON Feed do.
    out.append(_atom_text(i, "summary", article.summary or article.title))
    for topic in article.topics:
        out.append(
            _empty(
                i,
                "category",
                [("term", topic.name), ("scheme", context.topic_url(slugify(topic.key)))],
            )
        )
    out.append(_element(i, "published", when))
    out.append(_related_links(i, "link", article))
    out.append(_media(i, article.image))
    out.append(_extension(i, article))
    out.append("  </entry>\n")
    return "".join(out)


def _atom_text(indent: str, name: str, value: str) -> str:
    """An Atom text construct. Plain text that looks like markup (``</b>``, ``&amp;``) is
    written as escaped HTML, so no reader or validator takes it for undeclared HTML."""
    if looks_like_markup(value):
        return _element(indent, name, _html_escape(value), type="html")
    return _element(indent, name, value)


def _html_escape(value: str) -> str:
    """RSS descriptions are HTML: plain text must not turn into markup (``<MSFT.O>``)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cdata(value: str) -> str:
    return value.replace("]]>", "]]]]><![CDATA[>")


def _generator(feed: Feed, context: Context, filename: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension(EXTENSION_PREFIX, _Namespaces, None)
    fg.id(context.file_url(feed, filename))
    fg.title(context.title(feed))
    fg.description(context.description(feed))
    fg.subtitle(context.description(feed))
    fg.language(context.config.language)
    fg.generator(GENERATOR, context.version, GENERATOR_URI)
    fg.updated(feed.updated or EPOCH)
    fg.link(href=context.file_url(feed, filename), rel="self")
    fg.link(href=context.home_url(feed), rel="alternate")
    return fg


def _splice(head: bytes, closing: bytes, entries: list[str]) -> bytes:
    """Put the entries before ``closing`` (the last line but one of feedgen's output)."""
    cut = head.rindex(closing)
    return head[:cut] + "".join(entries).encode("utf-8") + head[cut:]


def render_rss(feed: Feed, context: Context, entries: list[str]) -> bytes:
    fg = _generator(feed, context, "rss.xml")
    fg.docs("https://www.rssboard.org/rss-specification")
    return _styled(_splice(fg.rss_str(pretty=True), b"  </channel>", entries), feed, context)


def render_atom(feed: Feed, context: Context, entries: list[str]) -> bytes:
    fg = _generator(feed, context, "atom.xml")
    fg.author({"name": context.config.title, "uri": context.config.base_url})
    return _styled(_splice(fg.atom_str(pretty=True), b"</feed>", entries), feed, context)


def _styled(data: bytes, feed: Feed, context: Context) -> bytes:
    """Insert ``<?xml-stylesheet?>`` after the XML declaration when the stylesheet is on."""
    if not context.config.stylesheet:
        return data
    declaration, newline, rest = data.partition(b"\n")
    assert declaration.startswith(b"<?xml ") and newline, "feedgen writes a declaration line"
    return declaration + newline + processing_instruction(feed) + rest
