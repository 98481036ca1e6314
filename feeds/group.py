"""Stage 3: keep the published articles and group them into feeds.

One site-wide feed, one feed per topic (spellings merged by :func:`~feeds.slugs.group_key`)
and one per provider (by domain). Each feed holds its newest ``items_per_feed``
articles, newest first, ties broken by id; only those are kept per feed, so memory
grows with the number of feeds, not with the corpus.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feeds.model import Article, Feed, FeedKind, Site
from feeds.slugs import slugify


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which articles count as published at ``now``."""

    now: datetime
    unpublished: bool = False
    """Include ``published: false`` articles (previews)."""
    future: bool = False
    """Include articles dated after ``now`` (previews)."""

    def admits(self, article: Article) -> bool:
        if article.removed:
            return False
        if article.draft and not self.unpublished:
            return False
        return self.future or article.published <= self.now

    def next_change(self, articles: Iterable[Article]) -> datetime | None:
        """When time alone would change what is admitted: the first future article's date."""
        if self.future:
            return None
        return min(
            (
                a.published
                for a in articles
                if a.published > self.now and not a.removed and (self.unpublished or not a.draft)
            ),
            default=None,
        )


def order_key(article: Article) -> tuple[float, str]:
    """Newest first, then by id: the order of every feed."""
    return (-article.published.timestamp(), article.id)


def _newest(articles: Iterable[Article], n: int) -> tuple[Article, ...]:
    return tuple(heapq.nsmallest(n, articles, key=order_key))


def _common_name(names: Counter[str]) -> str:
    """The most common spelling; ties go to the smallest string, so the choice is stable."""
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0]


class _Group:
    __slots__ = ("articles", "names")

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.names: Counter[str] = Counter()


def group_articles(
    articles: Iterable[Article],
    selection: Selection,
    *,
    site_title: str,
    items_per_feed: int,
    groupings: tuple[str, ...] = ("topics", "providers"),
) -> Site:
    """Build every feed from the published articles."""
    published: list[Article] = []
    topics: dict[str, _Group] = {}
    providers: dict[str, _Group] = {}
    for article in articles:
        if not selection.admits(article):
            continue
        published.append(article)
        for topic in article.topics:
            group = topics.setdefault(topic.key, _Group())
            group.articles.append(article)
            group.names[topic.name] += 1
        if article.provider is not None:
            group = providers.setdefault(article.provider.domain, _Group())
            group.articles.append(article)
            group.names[article.provider.name] += 1

    feeds = [
        Feed(
            kind=FeedKind.SITE,
            key="",
            name=site_title,
            slug="",
            articles=_newest(published, items_per_feed),
            total=len(published),
        )
    ]
    if "topics" in groupings:
        feeds.extend(_feeds(FeedKind.TOPIC, topics, items_per_feed))
    if "providers" in groupings:
        feeds.extend(_feeds(FeedKind.PROVIDER, providers, items_per_feed))
    return Site(feeds=tuple(feeds))


def _feeds(kind: FeedKind, groups: dict[str, _Group], n: int) -> list[Feed]:
    taken: set[str] = set()
    feeds: list[Feed] = []
    for key in sorted(groups):
        group = groups[key]
        slug = slugify(key, domain=kind is FeedKind.PROVIDER)
        if slug in taken:  # two keys, one slug: only on a hash collision; keep both apart
            slug = f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        taken.add(slug)
        feeds.append(
            Feed(
                kind=kind,
                key=key,
                name=_common_name(group.names),
                slug=slug,
                articles=_newest(group.articles, n),
                total=len(group.articles),
            )
        )
    feeds.sort(key=lambda f: f.slug)
    return feeds
