"""RSS 2.0 and Atom 1.0, written as text.

Items are written once per article and format and spliced into every feed that holds
the article; the channel or feed head around them is written here too, element for
element and byte for byte as feedgen writes it (with our settings: ``updated`` and
``lastBuildDate`` are the feed's newest article, never now). ``tests/feedgen_reference.py``
keeps the all-feedgen renderer, and tests check that both give the same bytes for any
settings: feedgen is the reference, not a part of a build (with lxml and dateutil it took
39 ms to import, and 0.08-0.15 ms a head).
"""

from __future__ import annotations

from feeds.formats.common import (
    ATOM_NS,
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


_NAMESPACES = (
    f' xmlns:{EXTENSION_PREFIX}="{EXTENSION_NS}" xmlns:media="{MEDIA_NS}" xmlns:dc="{DC_NS}"'
)
"""The namespaces every document declares on its root (an RSS one with a refresh hint
declares the Syndication module's after them), in feedgen's order."""


def _prologue(feed: Feed, context: Context) -> str:
    """The XML declaration, and the stylesheet's processing instruction when it is on."""
    declaration = "<?xml version='1.0' encoding='UTF-8'?>\n"
    if not context.config.stylesheet:
        return declaration
    return declaration + processing_instruction(feed)


def _channel_extras(context: Context) -> str:
    """What RSS's channel carries after feedgen's elements: WebSub hub links (feedgen
    writes no ``atom:link`` but ``self``) and the Syndication module's refresh hint."""
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
    config = context.config
    title, home = text(context.title(feed)), text(context.home_url(feed))
    refresh = config.refresh_minutes
    sy = f' xmlns:sy="{SY_NS}"' if refresh is not None else ""
    out = [
        _prologue(feed, context),
        f'<rss{_NAMESPACES}{sy} xmlns:atom="{ATOM_NS}"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">\n',
        "  <channel>\n",
        f"    <title>{title}</title>\n",
        f"    <link>{home}</link>\n",
        f"    <description>{text(context.description(feed))}</description>\n",
        f'    <atom:link href="{attr(context.file_url(feed, "rss.xml"))}" rel="self"/>\n',
        "    <docs>https://www.rssboard.org/rss-specification</docs>\n",
        f"    <generator>{GENERATOR}</generator>\n",
    ]
    icon, _ = feed_icons(feed, context)
    if icon:  # its title and link must be the channel's own
        out.append(
            f"    <image>\n      <url>{text(icon)}</url>\n      <title>{title}</title>\n"
            f"      <link>{home}</link>\n    </image>\n"
        )
    if config.language:
        out.append(f"    <language>{text(config.language)}</language>\n")
    out.append(f"    <lastBuildDate>{rfc822(feed.updated or EPOCH)}</lastBuildDate>\n")
    if refresh:
        out.append(f"    <ttl>{refresh}</ttl>\n")
    out.append(_channel_extras(context))
    out.extend(_history(feed, context, "rss.xml", "    ", "atom:link"))
    out.extend(entries)
    out.append("  </channel>\n</rss>\n")
    return "".join(out).encode("utf-8")


def render_atom(feed: Feed, context: Context, entries: list[str]) -> bytes:
    config = context.config
    self_url = attr(context.file_url(feed, "atom.xml"))
    lang = f' xml:lang="{attr(config.language)}"' if config.language else ""
    out = [
        _prologue(feed, context),
        f'<feed{_NAMESPACES} xmlns="{ATOM_NS}"{lang}>\n',
        f"  <id>{text(context.file_url(feed, 'atom.xml'))}</id>\n",
        f"  <title>{text(context.title(feed))}</title>\n",
        f"  <updated>{(feed.updated or EPOCH).isoformat()}</updated>\n",
    ]
    if config.title:
        out.append(f"  <author>\n    <name>{text(config.title)}</name>\n")
        if config.base_url:
            out.append(f"    <uri>{text(config.base_url)}</uri>\n")
        out.append("  </author>\n")
    out.append(f'  <link href="{self_url}" rel="self"/>\n')
    out.append(f'  <link href="{attr(context.home_url(feed))}" rel="alternate"/>\n')
    out.extend(f'  <link href="{attr(hub)}" rel="hub"/>\n' for hub in config.hubs)
    out.append(
        f'  <generator uri="{GENERATOR_URI}" version="{attr(context.version)}">'
        f"{GENERATOR}</generator>\n"
    )
    icon, favicon = feed_icons(feed, context)
    if favicon:
        out.append(f"  <icon>{text(favicon)}</icon>\n")
    if icon:
        out.append(f"  <logo>{text(icon)}</logo>\n")
    description = context.description(feed)
    if description:
        out.append(f"  <subtitle>{text(description)}</subtitle>\n")
    out.extend(_history(feed, context, "atom.xml", "  ", "link"))
    out.extend(entries)
    out.append("</feed>\n")
    return "".join(out).encode("utf-8")


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
