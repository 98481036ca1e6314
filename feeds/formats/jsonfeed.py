"""JSON Feed 1.1, written from the same model as RSS and Atom, with the ``_feeds`` extension."""

from __future__ import annotations

import json
from typing import Any

from feeds.formats.common import EXTENSION_NS, EXTENSION_VERSION, Context
from feeds.model import Article, Feed, Image, Provider, RelatedItem
from feeds.slugs import slugify

JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


def _provider(provider: Provider) -> dict[str, Any]:
    out: dict[str, Any] = {"name": provider.name, "domain": provider.domain}
    if provider.url:
        out["url"] = provider.url
    return out


def _image(image: Image) -> dict[str, Any]:
    out: dict[str, Any] = {"url": image.url}
    if image.width and image.height:
        out["width"] = image.width
        out["height"] = image.height
    if image.title:
        out["title"] = image.title
    return out


def _related(item: RelatedItem) -> dict[str, Any]:
    out: dict[str, Any] = {"url": item.url, "title": item.title}
    if item.summary:
        out["summary"] = item.summary
    if item.published is not None:
        out["date_published"] = item.published.isoformat()
    if item.kind:
        out["type"] = item.kind
    if item.provider is not None:
        out["provider"] = _provider(item.provider)
    if item.image is not None:
        out["image"] = _image(item.image)
    return out


def _item(article: Article, context: Context) -> dict[str, Any]:
    item: dict[str, Any] = {"id": article.id, "url": article.url}
    if article.external_url:
        item["external_url"] = article.external_url
    item["title"] = article.title
    if article.summary:
        item["summary"] = article.summary
    if article.content_html:
        item["content_html"] = article.content_html
    else:
        item["content_text"] = article.summary or article.title
    item["date_published"] = article.published.isoformat()
    if article.provider is not None:
        author: dict[str, Any] = {"name": article.provider.name}
        if article.provider.url:
            author["url"] = article.provider.url
        item["authors"] = [author]
    if article.topics:
        item["tags"] = [topic.name for topic in article.topics]
    if article.image is not None:
        item["image"] = article.image.url
    extension: dict[str, Any] = {
        "about": EXTENSION_NS,
        "version": EXTENSION_VERSION,
        "type": article.kind,
    }
    if article.provider is not None:
        extension["provider"] = _provider(article.provider)
    if article.topics:
        extension["topics"] = [
            {"name": topic.name, "url": context.topic_url(slugify(topic.key))}
            for topic in article.topics
        ]
    if article.image is not None:
        extension["image"] = _image(article.image)
    if article.related:
        extension["related"] = [_related(r) for r in article.related]
    item["_feeds"] = extension
    return item


def render_json(feed: Feed, context: Context) -> bytes:
    doc: dict[str, Any] = {
        "version": JSONFEED_VERSION,
        "title": context.title(feed),
        "home_page_url": context.home_url(feed),
        "feed_url": context.file_url(feed, "feed.json"),
        "description": context.description(feed),
        "language": context.config.language,
        "authors": [{"name": context.config.title, "url": context.config.base_url}],
        "items": [_item(article, context) for article in feed.articles],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
