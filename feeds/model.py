"""The immutable values handed between pipeline stages.

Every ``datetime`` in these classes is timezone-aware and in UTC. Every URL is an
absolute ``http``/``https`` URL, already percent-encoded. Every string is free of
characters that XML 1.0 cannot carry.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import NamedTuple, overload


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
    body: str
    """The Markdown body, as the file has it after the front matter: rendered to sanitised
    HTML only for the items of the feeds being written (:func:`feeds.markup.render_body`),
    not for every file read."""
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
class History:
    """A feed document's place in its group's history (RFC 5005 archived feeds).

    The chain runs from the subscription feed through the archive documents, newest
    first; ``prev`` and ``next`` are folders relative to the output root (see
    :mod:`feeds.archive`).
    """

    month: str | None = None
    """``YYYY-MM`` of an archive document; ``None``: the subscription feed."""
    page: int = 1
    """Which page of its month (1 holds the month's oldest archived articles)."""
    prev: str | None = None
    """The folder of the next older archive document (``None``: this is the oldest)."""
    next: str | None = None
    """The folder of the next newer archive document (``None``: the newest archive, or
    the subscription feed)."""
    prevs: tuple[str | None, ...] = ()
    """A subscription feed's ``prev`` for every count of items it may write: index ``n``
    is the folder of the newest archive document when the feed writes its newest ``n``
    items (the rest go to the archives; see :mod:`feeds.archive`). The renderer picks
    ``n`` under ``max_feed_bytes`` and sets ``prev`` from it. Filled only for a feed to be
    rendered (see :meth:`feeds.archive.Histories.linked`)."""
    basis: tuple[object, ...] = ()
    """What a subscription feed's :attr:`prevs` depend on besides its own items, to
    fingerprint it by (see :meth:`feeds.archive.Histories.laid_out`); empty for archive
    documents."""

    @property
    def folder(self) -> str:
        """This archive document's folder below its group's folder (``""``: subscription)."""
        if self.month is None:
            return ""
        return f"archive/{self.month}" + (f"/{self.page}" if self.page > 1 else "")


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
    history: History | None = None
    """With ``archives`` on: the subscription feed's link to its newest archive, or an
    archive document's month, page and neighbours (see :mod:`feeds.archive`)."""

    @property
    def group_folder(self) -> str:
        """The group's folder relative to the output root, ``""`` for the site feed."""
        if self.kind is FeedKind.SITE:
            return ""
        return f"{self.kind.value}s/{self.slug}"

    @property
    def folder(self) -> str:
        """The folder of this feed document's files, relative to the output root: the
        group's folder, or an archive document's folder inside it."""
        group = self.group_folder
        if self.history is None or self.history.month is None:
            return group
        return f"{group}/{self.history.folder}" if group else self.history.folder

    @property
    def is_archive(self) -> bool:
        return self.history is not None and self.history.month is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Everything the renderers need: the feeds, site-wide first."""

    feeds: tuple[Feed, ...] = field(default_factory=tuple)
    archives: tuple[Feed, ...] = ()
    """With ``archives`` on: the archive documents of every feed this run plans (see
    :mod:`feeds.archive`: all of them, or those an update of the layout touched), rendered
    like feeds but listed nowhere else (OPML and the pages list ``feeds``)."""

    @property
    def site_feed(self) -> Feed:
        return self.feeds[0]


Stamp = tuple[int, int, int, int]
"""What ``stat`` says of a file (size, mtime_ns, ctime_ns, inode): any change means an edit."""

_LOWEST, _HIGHEST = -(2**63), 2**63 - 1
_GONE = (-1, _LOWEST, _LOWEST, 0)
"""A missing stamp as :class:`Stamps` packs it (no file has a negative size)."""
STAMP_BYTES = 32
"""The bytes of one packed stamp: four 64-bit numbers."""


class Stamps(Sequence["Stamp | None"]):
    """Every source's stamp, four 64-bit numbers each in one array: a tuple of four ints
    per file cost about 170 bytes per file for the whole build, and the folder digests of
    a run that finds nothing changed hash the packed bytes (:meth:`packed`) directly."""

    __slots__ = ("data",)

    def __init__(self, data: bytes = b"") -> None:
        self.data = array("q")
        self.data.frombytes(data)

    def __len__(self) -> int:
        return len(self.data) // 4

    @overload
    def __getitem__(self, index: int) -> Stamp | None: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Stamp | None, ...]: ...

    def __getitem__(self, index: int | slice) -> Stamp | tuple[Stamp | None, ...] | None:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("stamp index out of range")
        data, at = self.data, 4 * index
        if data[at] < 0:
            return None
        return (data[at], data[at + 1], data[at + 2], data[at + 3])

    def __iter__(self) -> Iterator[Stamp | None]:
        values = iter(self.data)
        for stamp in zip(values, values, values, values, strict=True):
            yield None if stamp[0] < 0 else stamp

    @staticmethod
    def pack(stamps: Iterable[Stamp | None]) -> bytes:
        """``stamps`` packed as :meth:`packed` gives them."""
        data = array("q")
        for stamp in stamps:
            data.extend(_GONE if stamp is None else stamp)
        return data.tobytes()

    def select(self, indexes: Iterable[int]) -> bytes:
        """The packed stamps of sources ``indexes`` (about 0.2 µs each, where making each
        stamp's tuple takes 0.7)."""
        raw = memoryview(self.data).cast("B")
        size = STAMP_BYTES
        return b"".join([raw[size * i : size * (i + 1)] for i in indexes])

    def packed(self, start: int, end: int) -> bytes:
        """The stamps of sources ``start`` to ``end``, as bytes."""
        return self.data[4 * start : 4 * end].tobytes()

    def span(self, start: int, end: int) -> Stamps:
        """The stamps of sources ``start`` to ``end``, still packed."""
        part = Stamps()
        part.data = self.data[4 * start : 4 * end]
        return part


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file of the output as the write manifest records it."""

    sha256: str
    size: int
    mtime_ns: int


DIGEST_SIZE = 16
"""Bytes in the digest of a content file's bytes that tells a touched file from a changed
one (see :func:`feeds.sources.digest_of`)."""
