"""Stage 3: keep the published articles and group them into feeds.

One site-wide feed, one feed per topic (spellings merged by :func:`~feeds.slugs.group_key`)
and one per provider (by domain). Each feed holds its newest ``items_per_feed``
articles, newest first, ties broken by id. :class:`Selector` streams articles in and
holds only each feed's newest candidates in full, so memory grows with the number of
feeds (and a small record per article), not with the size of the corpus.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from feeds.errors import Problem, Severity
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

    def admits(self, article: Article, *, at_any_time: bool = False) -> bool:
        """Whether ``article`` is published now (or, ``at_any_time``, once its time comes)."""
        if article.removed:
            return False
        if article.draft and not self.unpublished:
            return False
        return self.future or at_any_time or article.published <= self.now


def order_key(article: Article) -> tuple[float, str]:
    """Newest first, then by id: the order of every feed."""
    return (-article.published.timestamp(), article.id)


_Group = tuple[FeedKind, str]
"""A group's identity: its kind and key (``""`` for the site)."""
_SITE: _Group = (FeedKind.SITE, "")


class _Descending(str):
    """A string that sorts in reverse: in a heap keyed (date, id), the root is the oldest
    date and, among equal dates, the largest id, which is exactly what leaves a feed first."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return str.__gt__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        return str.__lt__(self, other)  # type: ignore[operator]


_Held = tuple[float, _Descending, Article]


class _Record:
    """What is remembered of every usable article: enough to dedupe, count and re-select."""

    __slots__ = ("admitted", "groups", "index", "pending", "ts", "url")

    def __init__(
        self,
        index: int,
        ts: float,
        admitted: bool,
        groups: tuple[tuple[_Group, str], ...],
        url: str | None,
        pending: bool = False,
    ) -> None:
        self.index = index
        self.ts = ts
        self.admitted = admitted
        self.pending = pending
        """Held back only because its time has not come yet."""
        self.groups = groups
        """Each group the article belongs to, with the name it gives the group."""
        self.url = url
        """Kept only for articles that are not admitted (their related mentions are hidden)."""


def _common_name(names: Counter[str]) -> str:
    """The most common spelling; ties go to the smallest string, so the choice is stable."""
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0]


class Selector:
    """Streams articles into feeds, holding only each feed's newest candidates in full.

    Feed :meth:`add` every usable article in source order, then call :meth:`finish`.
    Two articles with one id are one article: the newer wins (on a tie, the one added
    first). Memory holds a small record per article plus, per feed, at most
    ``items_per_feed`` full articles (a heap whose root is the oldest held); when a
    duplicate removes a held article, that feed is selected again exactly from the
    records and the missing articles are re-read.
    """

    def __init__(
        self,
        selection: Selection,
        *,
        items_per_feed: int,
        groupings: tuple[str, ...] = ("topics", "providers"),
        labels: Sequence[str] = (),
    ) -> None:
        self.selection = selection
        self.n = items_per_feed
        self.topics = "topics" in groupings
        self.providers = "providers" in groupings
        self.labels = labels
        self.records: dict[str, _Record] = {}
        self.held: dict[_Group, list[_Held]] = {_SITE: []}
        self.dirty: set[_Group] = set()
        self.problems: list[Problem] = []
        self.hidden: frozenset[str] = frozenset()
        """After :meth:`finish`: ids and links of the articles not published (see hide_related)."""
        self.next_change: datetime | None = None
        """After :meth:`finish`: when time alone will publish another article (``None``: never)."""

    @staticmethod
    def _intern(text: str) -> str:
        return sys.intern(text)

    def _groups(self, article: Article) -> tuple[tuple[_Group, str], ...]:
        groups: list[tuple[_Group, str]] = [(_SITE, "")]
        if self.topics:
            seen: set[str] = set()
            for topic in article.topics:
                if topic.key not in seen:
                    seen.add(topic.key)
                    key = self._intern(topic.key)
                    groups.append(((FeedKind.TOPIC, key), self._intern(topic.name)))
        if self.providers and article.provider is not None:
            domain = self._intern(article.provider.domain)
            groups.append(((FeedKind.PROVIDER, domain), self._intern(article.provider.name)))
        return tuple(groups)

    def _label(self, index: int) -> str:
        return self.labels[index] if index < len(self.labels) else f"file #{index}"

    def add(self, index: int, article: Article) -> None:
        """Take the usable article read from source number ``index``."""
        ts = article.published.timestamp()
        old = self.records.get(article.id)
        if old is not None:
            if ts > old.ts:
                loser, keeper = old.index, index
                self._drop(article.id, old)
            else:
                loser, keeper = index, old.index
            self.problems.append(
                Problem(
                    path=self._label(loser),
                    line=0,
                    field="id",
                    message=f"same article (URL {article.id}) as {self._label(keeper)}, "
                    "which is kept",
                    severity=Severity.WARNING,
                )
            )
            if loser == index:
                return
        admitted = self.selection.admits(article)
        groups = self._groups(article)
        url = None if admitted else article.url
        pending = not admitted and self.selection.admits(article, at_any_time=True)
        self.records[article.id] = _Record(index, ts, admitted, groups, url, pending)
        if not admitted:
            return
        n = self.n
        item = (ts, _Descending(article.id), article)
        for group, _name in groups:
            held = self.held.get(group)
            if held is None:
                held = self.held[group] = []
            if len(held) < n:
                heapq.heappush(held, item)
            elif item > held[0]:  # newer than the oldest held (ties: the smaller id)
                heapq.heapreplace(held, item)

    def _drop(self, article_id: str, record: _Record) -> None:
        if not record.admitted:
            return
        for group, _name in record.groups:
            held = self.held.get(group, [])
            for position, (_, _, candidate) in enumerate(held):
                if candidate.id == article_id:
                    del held[position]
                    heapq.heapify(held)
                    self.dirty.add(group)
                    break

    def finish(
        self, site_title: str, reread: Callable[[list[int]], list[Article]] | None = None
    ) -> Site:
        """The feeds. ``reread`` reads articles again by source index (rarely needed)."""
        totals: Counter[_Group] = Counter()
        names: dict[_Group, Counter[str]] = {}
        hidden: set[str] = set()
        members: dict[_Group, list[tuple[float, str, int]]] = {g: [] for g in self.dirty}
        pending: list[float] = []
        for article_id, record in self.records.items():
            if not record.admitted:
                hidden.add(article_id)
                if record.url:
                    hidden.add(record.url)
                if record.pending:
                    pending.append(record.ts)
                continue
            for group, name in record.groups:
                totals[group] += 1
                names.setdefault(group, Counter())[name] += 1
                if group in members:
                    members[group].append((-record.ts, article_id, record.index))
        self.hidden = frozenset(hidden)
        self.next_change = datetime.fromtimestamp(min(pending), UTC) if pending else None
        chosen = {group: self._newest(group) for group in self.held}
        if members:
            chosen.update(self._reselect(members, chosen, reread))
        feeds = [
            Feed(
                kind=FeedKind.SITE,
                key="",
                name=site_title,
                slug="",
                articles=_visible(chosen.get(_SITE, ()), hidden),
                total=totals[_SITE],
            )
        ]
        for kind in (FeedKind.TOPIC, FeedKind.PROVIDER):
            groups = sorted(g for g in chosen if g[0] is kind and totals[g])
            feeds.extend(_feeds(kind, groups, chosen, names, totals, hidden))
        return Site(feeds=tuple(feeds))

    def _newest(self, group: _Group) -> tuple[Article, ...]:
        return tuple(sorted((article for _, _, article in self.held[group]), key=order_key))

    def _reselect(
        self,
        members: dict[_Group, list[tuple[float, str, int]]],
        chosen: dict[_Group, tuple[Article, ...]],
        reread: Callable[[list[int]], list[Article]] | None,
    ) -> dict[_Group, tuple[Article, ...]]:
        have = {a.id: a for articles in chosen.values() for a in articles}
        for held in self.held.values():
            have.update((a.id, a) for _, _, a in held)
        wanted = {group: heapq.nsmallest(self.n, rows) for group, rows in members.items()}
        missing = sorted(
            {index for rows in wanted.values() for _, i, index in rows if i not in have}
        )
        if missing:
            if reread is None:
                raise AssertionError("articles must be read again, but no reader was given")
            have.update((a.id, a) for a in reread(missing))
        return {group: tuple(have[i] for _, i, _ in rows) for group, rows in wanted.items()}


def _visible(articles: Iterable[Article], hidden: Collection[str]) -> tuple[Article, ...]:
    return (
        tuple(_without_hidden_related(a, hidden) for a in articles) if hidden else tuple(articles)
    )


def group_articles(
    articles: Iterable[Article],
    selection: Selection,
    *,
    site_title: str,
    items_per_feed: int,
    groupings: tuple[str, ...] = ("topics", "providers"),
) -> Site:
    """Build every feed from already deduplicated articles (all in memory)."""
    kept = list(articles)
    selector = Selector(selection, items_per_feed=items_per_feed, groupings=groupings)
    for index, article in enumerate(kept):
        selector.add(index, article)
    return selector.finish(site_title, reread=lambda indexes: [kept[i] for i in indexes])


def hide_related(site: Site, hidden: frozenset[str]) -> Site:
    """``site`` with related items that would reveal an unpublished article left out.

    :meth:`Selector.finish` already does this; call it again after related items were
    attached later (the cache loads them only for the feeds it renders again).
    """
    if not hidden:
        return site
    return Site(feeds=tuple(replace(f, articles=_visible(f.articles, hidden)) for f in site.feeds))


def _without_hidden_related(article: Article, hidden: Collection[str]) -> Article:
    """An article's related items must not reveal an unpublished, removed or future article."""
    if not any(item.url in hidden for item in article.related):
        return article
    kept = tuple(item for item in article.related if item.url not in hidden)
    return replace(article, related=kept)


def _feeds(
    kind: FeedKind,
    groups: list[_Group],
    chosen: dict[_Group, tuple[Article, ...]],
    names: dict[_Group, Counter[str]],
    totals: Counter[_Group],
    hidden: set[str],
) -> list[Feed]:
    taken: set[str] = set()
    feeds: list[Feed] = []
    for group in groups:
        key = group[1]
        slug = slugify(key, domain=kind is FeedKind.PROVIDER)
        if slug in taken:  # two keys, one slug: only on a hash collision; keep both apart
            slug = f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
        taken.add(slug)
        feeds.append(
            Feed(
                kind=kind,
                key=key,
                name=_common_name(names[group]),
                slug=slug,
                articles=_visible(chosen[group], hidden),
                total=totals[group],
            )
        )
    feeds.sort(key=lambda f: f.slug)
    return feeds
