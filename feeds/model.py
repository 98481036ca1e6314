"""The immutable values handed between pipeline stages.

Every ``datetime`` in these classes is timezone-aware and in UTC. Every URL is an
absolute ``http``/``https`` URL, already percent-encoded. Every string is free of
characters that XML 1.0 cannot carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import NamedTuple


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """An image of an article, a related item or a provider."""

    url: str
    width: int | None = None
    height: int | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """Who published an article; identified by ``domain`` (lower case)."""

    name: str
    domain: str
    url: str | None = None
    """``https://<domain>/`` when the domain is a valid host name, else ``None``."""
    image: Image | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RelatedItem:
    """One entry of an article's ``related`` list, as carried by our feed extension."""

    url: str
    title: str
    summary: str = ""
    published: datetime | None = None
    provider: Provider | None = None
    image: Image | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Topic:
    """A topic as written in one article: the key merges spellings, ``name`` is the spelling."""

    key: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """One usable article file, whether or not it is published."""

    id: str
    """The canonical URL (``originalUrl``, else ``webUrl``), normalised: stable forever."""
    url: str
    """The link readers open: ``webUrl``, else ``originalUrl``."""
    external_url: str | None
    """``originalUrl`` when it differs from ``url``."""
    title: str
    summary: str
    """Plain text (entities decoded, no markup interpretation)."""
    content_html: str | None
    """The Markdown body rendered to sanitised HTML, when the file has one."""
    published: datetime
    kind: str
    category: str | None
    provider: Provider | None
    topics: tuple[Topic, ...]
    image: Image | None
    related: tuple[RelatedItem, ...]
    quality: int | None
    heat: int | None
    draft: bool
    """``published: false`` in the file."""
    removed: bool
    """``removed: true`` or ``deleted: true`` in the file."""
    source: str
    """The file's path relative to the content folder, with ``/`` separators."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A timezone-aware moment as whole microseconds since 1970 UTC (exact, unlike floats)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class Brief(NamedTuple):
    """What choosing the feeds needs of one usable article, and nothing more.

    A build keeps the brief of every file (and the cache stores them, as plain tuples)
    but reads whole articles only for the feeds it renders.
    """

    id: str
    url: str
    published: int
    """:func:`micros` of the article's date."""
    draft: bool
    removed: bool
    topics: tuple[tuple[str, str], ...]
    """(key, name) of each topic, in the article's order."""
    provider: tuple[str, str] | None
    """(domain, name)."""

    @classmethod
    def of(cls, article: Article) -> Brief:
        provider = article.provider
        return cls(
            article.id,
            article.id if article.url == article.id else article.url,  # one string, not two
            micros(article.published),
            article.draft,
            article.removed,
            tuple((t.key, t.name) for t in article.topics),
            (provider.domain, provider.name) if provider is not None else None,
        )


class Counts(NamedTuple):
    """How many articles a build published and held back, for the summary.

    ``published`` counts articles (one per id, as the site feed holds them); the others
    count usable files held back from every feed: ``drafts`` (``published: false``),
    ``future`` (dated after the build's ``now``) and ``removed`` (``removed``/``deleted``).
    A file that is both a draft and future counts as a draft; removed wins over both.
    """

    published: int = 0
    drafts: int = 0
    future: int = 0
    removed: int = 0


class FeedKind(Enum):
    SITE = "site"
    TOPIC = "topic"
    PROVIDER = "provider"

    # Members are singletons, equal only to themselves: the identity hash is right, and in
    # C. Enum's own ``__hash__`` is Python code, called for every (kind, key) group looked
    # up: 2.7 million calls, 0.74 s of a 100k build.
    __hash__ = object.__hash__


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed:
    """One group of articles, rendered once per output format."""

    kind: FeedKind
    key: str
    """What the group is keyed by: ``""`` for the site, the topic key, the provider domain."""
    name: str
    """Display name: the site title, the topic's most common spelling, the provider name."""
    slug: str
    """The folder under ``topics/`` or ``providers/`` (``""`` for the site feed)."""
    total: int
    """How many published articles the group holds in all."""
    members: tuple[int, ...] = ()
    """The source numbers of its newest ``items_per_feed`` published articles, newest
    first, ties by id: the renderer reads the articles it needs by these."""
    updated: datetime | None = None
    """The newest article's date (``None``: no article): feed-level dates never come
    from the clock."""
    icon: str | None = None
    """A provider feed's icon: its provider's logo (``Provider.image``) as the newest
    article that has one gives it; set by the renderer from the entries."""

    @property
    def folder(self) -> str:
        """The feed's folder relative to the output root, ``""`` for the site feed."""
        if self.kind is FeedKind.SITE:
            return ""
        return f"{self.kind.value}s/{self.slug}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Everything the renderers need: the feeds, site-wide first."""

    feeds: tuple[Feed, ...] = field(default_factory=tuple)

    @property
    def site_feed(self) -> Feed:
        return self.feeds[0]
