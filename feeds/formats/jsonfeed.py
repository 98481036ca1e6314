"""JSON Feed 1.1, written from the same model as RSS and Atom, with the ``_feeds`` extension."""

from __future__ import annotations

from json.encoder import encode_basestring

from feeds.formats.common import (
    EXTENSION_NS,
    EXTENSION_VERSION,
    Context,
    item_content,
    per_config,
)
from feeds.formats.icons import feed_icons
from feeds.model import Article, Feed, Image, Provider, RelatedItem, Topic
from feeds.slugs import slugify

JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


# Items are written as text with the encoder's own string escaper: json.dumps of a dict
# per item was most of an item's cost. The bytes are what
# ``json.dumps(item, ensure_ascii=False, separators=(",", ":"))`` gives (the tests compare).
_string = encode_basestring
"""A JSON string literal, as ``json.dumps(..., ensure_ascii=False)`` writes it."""
_ABOUT = _string(EXTENSION_NS)
_VERSION = _string(EXTENSION_VERSION)


def _provider(provider: Provider, feed_url: str = "") -> str:
    url = f',"url":{_string(provider.url)}' if provider.url else ""
    return f'{{"name":{_string(provider.name)},"domain":{_string(provider.domain)}{url}{feed_url}}}'


def _image(image: Image) -> str:
    size = f',"width":{image.width},"height":{image.height}' if image.width and image.height else ""
    title = f',"title":{_string(image.title)}' if image.title else ""
    return f'{{"url":{_string(image.url)}{size}{title}}}'


def _related(item: RelatedItem) -> str:
    out = f'{{"url":{_string(item.url)},"title":{_string(item.title)}'
    if item.summary:
        out += f',"summary":{_string(item.summary)}'
    if item.published is not None:
        out += f',"date_published":"{item.published.isoformat()}"'
    if item.kind:
        out += f',"type":{_string(item.kind)}'
    if item.provider is not None:
        out += f',"provider":{_provider(item.provider)}'
    if item.image is not None:
        out += f',"image":{_image(item.image)}'
    return out + "}"


class _Urls:
    """The JSON Feed URLs items link to, which depend on the configuration alone."""

    __slots__ = ("providers", "topics")

    def __init__(self, context: Context):
        groupings = context.config.groupings
        self.topics: dict[str, str] | None = {} if "topics" in groupings else None
        """Topic key -> ``,"feed_url":...`` of its feed; ``None``: no topic feeds."""
        self.providers: dict[str, str] | None = {} if "providers" in groupings else None
        """Provider domain -> ``,"feed_url":...`` of its feed; ``None``: no provider feeds."""


_urls = per_config(_Urls)


def _topic(topic: Topic, context: Context, urls: _Urls) -> str:
    feed_url = ""
    if urls.topics is not None:
        held = urls.topics.get(topic.key)
        if held is None:
            url = context.topic_url(slugify(topic.key)) + "feed.json"
            held = urls.topics[topic.key] = f',"feed_url":{_string(url)}'
        feed_url = held
    return f'{{"name":{_string(topic.name)},"key":{_string(topic.key)}{feed_url}}}'


def _provider_feed_url(provider: Provider, context: Context, urls: _Urls) -> str:
    if urls.providers is None:
        return ""
    feed_url = urls.providers.get(provider.domain)
    if feed_url is None:
        slug = slugify(provider.domain, domain=True)
        url = context.provider_feed_url(slug, "feed.json")
        feed_url = urls.providers[provider.domain] = f',"feed_url":{_string(url)}'
    return feed_url


def json_item(article: Article, context: Context) -> str:
    """One item as compact JSON, on one line."""
    out = [f'{{"id":{_string(article.id)},"url":{_string(article.url)}']
    if article.external_url:
        out.append(f',"external_url":{_string(article.external_url)}')
    out.append(f',"title":{_string(article.title)}')
    if article.summary:
        out.append(f',"summary":{_string(article.summary)}')
    content = item_content(article)
    if content:
        out.append(f',"content_html":{_string(content)}')
    else:  # an item needs one of the two: there is nothing to show
        out.append(',"content_text":""')
    out.append(f',"date_published":"{article.published.isoformat()}"')
    provider = article.provider
    if provider is not None:
        url = f',"url":{_string(provider.url)}' if provider.url else ""
        out.append(f',"authors":[{{"name":{_string(provider.name)}{url}}}]')
    if article.topics:
        out.append(f',"tags":[{",".join([_string(topic.name) for topic in article.topics])}]')
    if article.image is not None:
        out.append(f',"image":{_string(article.image.url)}')
    out.append(f',"_feeds":{{"about":{_ABOUT},"version":{_VERSION},"type":{_string(article.kind)}')
    urls = _urls(context)
    if provider is not None:
        feed_url = _provider_feed_url(provider, context, urls)
        out.append(f',"provider":{_provider(provider, feed_url)}')
    if article.topics:
        topics = ",".join([_topic(topic, context, urls) for topic in article.topics])
        out.append(f',"topics":[{topics}]')
    if article.image is not None:
        out.append(f',"image":{_image(article.image)}')
    if article.related:
        out.append(f',"related":[{",".join([_related(r) for r in article.related])}]')
    out.append("}}")
    return "".join(out)


def _next_url(feed: Feed, context: Context) -> str:
    """``next_url``: the next older document of the feed's history (RFC 5005's
    ``prev-archive``), or ``""``: none (archives off, or the oldest archive document)."""
    history = feed.history
    if history is None or history.prev is None:
        return ""
    return f'  "next_url": {_string(context.folder_url(history.prev, "feed.json"))},\n'


def _archive(feed: Feed, context: Context) -> str:
    """The feed-level ``_feeds`` object of an archive document: which month and page it
    holds and its subscription feed (``""`` for any other document)."""
    history = feed.history
    if history is None or history.month is None:
        return ""
    current = _string(context.folder_url(feed.group_folder, "feed.json"))
    return (
        f'  "_feeds": {{\n    "about": {_ABOUT},\n    "version": {_VERSION},\n'
        f'    "archive": {_string(history.month)},\n    "page": {history.page},\n'
        f'    "current": {current}\n  }},\n'
    )


def render_json(feed: Feed, context: Context, items: list[str]) -> bytes:
    """The feed document, one item per line.

    The head is what ``json.dumps(head, ensure_ascii=False, indent=2)`` writes (the
    indented dump is Python code, and slower than this whole function).
    """
    config = context.config
    icon, favicon = feed_icons(feed, context)
    icons = (f'  "icon": {_string(icon)},\n' if icon else "") + (
        f'  "favicon": {_string(favicon)},\n' if favicon else ""
    )
    hubs = ""
    if config.hubs:  # WebSub: the hubs that push this feed's changes
        listed = ",\n".join(
            [
                f'    {{\n      "type": "WebSub",\n      "url": {_string(h)}\n    }}'
                for h in config.hubs
            ]
        )
        hubs = f'  "hubs": [\n{listed}\n  ],\n'
    head = (
        f'{{\n  "version": {_string(JSONFEED_VERSION)},\n'
        f'  "title": {_string(context.title(feed))},\n'
        f'  "home_page_url": {_string(context.home_url(feed))},\n'
        f'  "feed_url": {_string(context.file_url(feed, "feed.json"))},\n'
        f"{_next_url(feed, context)}"
        f'  "description": {_string(context.description(feed))},\n'
        f"{icons}"
        f'  "language": {_string(config.language)},\n'
        f'  "authors": [\n    {{\n      "name": {_string(config.title)},\n'
        f'      "url": {_string(config.base_url)}\n    }}\n  ],\n'
        f"{hubs}"
        f"{_archive(feed, context)}"
        '  "items": '
    )
    if not items:
        return (head + "[]\n}\n").encode("utf-8")
    # Encoded apart and joined once: the items are most of the document, and each ``+``
    # of the text would copy them.
    return b"".join(
        ((head + "[\n").encode("utf-8"), ",\n".join(items).encode("utf-8"), b"\n  ]\n}\n")
    )
