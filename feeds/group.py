"""Stage 3: keep the published articles and group them into feeds.

One site-wide feed, one feed per topic (spellings merged by :func:`~feeds.slugs.group_key`)
and one per provider (by domain). Each feed holds its newest ``items_per_feed``
articles, newest first, ties broken by id. :class:`Selector` streams article briefs in
and holds, per feed, only its newest candidates: memory grows with the number of feeds,
plus each article's brief and its id's source number (about 820 bytes per article at
1M articles, measured with the whole build), never with whole articles.

The rules are written here once, for a full choice and for the update of the last
choice from a few changed files (:mod:`feeds.update`) alike: :meth:`Selection.held_back`
(is an article published) and :func:`replaces` (which of two copies is shown).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from feeds.errors import Problem, Severity
from feeds.model import Article, Brief, Feed, FeedKind, Site, from_micros, micros
from feeds.slugs import slugify


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """Which articles count as published at ``now``: the one publish rule."""

    now: datetime
    unpublished: bool = False
    """Include ``published: false`` articles (previews)."""
    future: bool = False
    """Include articles dated after ``now`` (previews)."""
    _now: int = field(init=False, repr=False, compare=False)
    """:func:`micros` of ``now``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_now", micros(self.now))

    def held_back(self, brief: Brief) -> str | None:
        """Why the article of ``brief`` is not published in this build (``"removed"``,
        ``"draft"`` or ``"future"``), or ``None``: it is."""
        if brief.removed:
            return "removed"
        if brief.draft and not self.unpublished:
            return "draft"
        if brief.published > self._now and not self.future:
            return "future"
        return None

    def publishes(self, brief: Brief) -> bool:
        return self.held_back(brief) is None


def order_key(article: Article) -> tuple[int, str]:
    """Newest first, then by id: the order of every feed."""
    return (-micros(article.published), article.id)


GroupKey = tuple[FeedKind, str]
"""A feed's group: its kind and key (``""`` for the site feed)."""
_SITE: GroupKey = (FeedKind.SITE, "")
_SITE_PAIR: tuple[GroupKey, str] = (_SITE, "")


class _Descending(str):
    """A string that sorts in reverse: in a heap keyed (date, id), the root is the oldest
    date and, among equal dates, the largest id, which is exactly what leaves a feed first."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return str.__gt__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        return str.__lt__(self, other)  # type: ignore[operator]


class _Held(NamedTuple):
    """An article a feed holds, as the feed's heap orders it (as a tuple): the root is the
    article that leaves the feed first."""

    published: int
    """:func:`micros` of the article's date: the oldest is the root."""
    id: _Descending
    """The article's id, sorting in reverse: among equal dates, the largest id is the root."""
    number: int
    """The source number of the file holding the article."""


def groups_of(
    brief: Brief, topics: bool, providers: bool, intern: Callable[[str], str] = str
) -> tuple[tuple[GroupKey, str], ...]:
    """Each group an article belongs to (the site first), with the name it gives the group."""
    groups: list[tuple[GroupKey, str]] = [(_SITE, "")]
    if topics:
        seen: set[str] = set()
        for key, name in brief.topics:
            if key not in seen:
                seen.add(key)
                groups.append(((FeedKind.TOPIC, intern(key)), intern(name)))
    if providers and brief.provider is not None:
        domain, name = brief.provider
        groups.append(((FeedKind.PROVIDER, intern(domain)), intern(name)))
    return tuple(groups)


def _common_name(names: Counter[str]) -> str:
    """The most common spelling; ties go to the smallest string, so the choice is stable."""
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0]


def replaces(new: Brief, kept: Brief) -> bool:
    """The duplicate rule: of two copies of one article that a build may publish, whether
    ``new`` (found later in source order) is shown instead of ``kept``: the newer date
    wins; on a tie, the copy found first stays."""
    return new.published > kept.published


def same_article(loser: str, keeper: str, article_id: str) -> Problem:
    """The warning for a copy of an article that another, shown copy hides."""
    return Problem(
        path=loser,
        line=0,
        field="id",
        message=f"same article (URL {article_id}) as {keeper}, which is kept",
        severity=Severity.WARNING,
    )


def problem_order(problem: Problem) -> list[str]:
    """Duplicate warnings are listed in the order of the files they name (source order)."""
    return problem.path.split("/")


class Selector:
    """Streams article briefs into feeds, holding per feed only its newest candidates.

    Feed :meth:`add` the brief of every usable article in source order, then call
    :meth:`finish`. Two articles with one id are one article: among the copies this
    selection publishes, the newer wins (on a tie, the one added first); a draft, removed
    or future copy takes no part. Memory holds every brief (:attr:`briefs`, which the caller
    keeps for the cache too) and which source number holds each id, plus, per feed, a
    heap of at most ``MARGIN * items_per_feed`` (date, id, source number); when a
    duplicate removes a held article, that feed is selected again exactly from the briefs.
    """

    def __init__(
        self,
        selection: Selection,
        *,
        items_per_feed: int,
        groupings: tuple[str, ...] = ("topics", "providers"),
        label: Callable[[int], str] | None = None,
        rels: Sequence[str] = (),
        size: int = 0,
        related_published_only: bool = False,
    ) -> None:
        self.selection = selection
        self.related_published_only = related_published_only
        """Hide related items that name any article not published now, not only removed ones."""
        self.n = items_per_feed
        self.keep = MARGIN * items_per_feed
        """How many candidates each group holds: more than a feed shows (see GroupState)."""
        self.rels = rels
        self.topics = "topics" in groupings
        self.providers = "providers" in groupings
        self.label = label
        """How problems name a source number."""
        self.briefs: list[Brief | None] = [None] * size
        """Each source number's brief (``None``: no usable article), duplicates included."""
        self.ids: dict[str, int] = {}
        """The source number of each published id (of two published copies, the one kept)."""
        self.held: dict[GroupKey, list[_Held]] = {_SITE: []}
        self.dirty: set[GroupKey] = set()
        self.problems: list[Problem] = []
        self.hidden: frozenset[str] = frozenset()
        """After :meth:`finish`: ids and links that related items must not name (see
        :func:`hide_related`): removed articles with no published copy, or, with
        ``related_published_only``, every article with no published copy."""
        self.next_change: datetime | None = None
        """After :meth:`finish`: when time alone will publish another article (``None``: never)."""
        self.states: dict[GroupKey, GroupState] = {}
        """After :meth:`finish`: every group's state, for the cache (see
        :func:`~feeds.update.reselect`)."""
        self._names: dict[str, str] = {}
        self._shared: dict[tuple[GroupKey, str], tuple[GroupKey, str]] = {}
        self._topic_pairs: dict[tuple[str, str], tuple[GroupKey, str]] = {}
        self._provider_pairs: dict[tuple[str, str], tuple[GroupKey, str]] = {}
        self._counts: dict[tuple[GroupKey, str], int] = {}
        """How many admitted articles give each group each name, kept up as they come."""

    def _groups(self, brief: Brief) -> tuple[tuple[GroupKey, str], ...]:
        """:func:`groups_of`, taking one shared ``(group, name)`` pair per topic and
        provider spelling, looked up in one step each (``groups_of`` builds them anew)."""
        topics = brief.topics if self.topics else ()
        if len(topics) > 1 and len({key for key, _ in topics}) < len(topics):
            shared = self._shared  # one key twice: the first spelling names the group
            return tuple(
                shared.setdefault(pair, pair)
                for pair in groups_of(brief, self.topics, self.providers, self._intern)
            )
        pairs = self._topic_pairs
        groups = [_SITE_PAIR]
        for topic in topics:
            pair = pairs.get(topic)
            if pair is None:
                pair = pairs[topic] = self._pair(FeedKind.TOPIC, *topic)
            groups.append(pair)
        provider = brief.provider if self.providers else None
        if provider is not None:
            pair = self._provider_pairs.get(provider)
            if pair is None:
                pair = self._provider_pairs[provider] = self._pair(FeedKind.PROVIDER, *provider)
            groups.append(pair)
        return tuple(groups)

    def _pair(self, kind: FeedKind, key: str, name: str) -> tuple[GroupKey, str]:
        pair = ((kind, self._intern(key)), self._intern(name))
        return self._shared.setdefault(pair, pair)

    def _intern(self, text: str) -> str:
        return self._names.setdefault(text, text)

    def _label(self, index: int) -> str:
        return self.label(index) if self.label is not None else f"file #{index}"

    def add(self, index: int, brief: Brief) -> None:
        """Take the brief of the usable article read from source number ``index``.

        Only copies this build may publish take part in choosing: a draft, removed or
        future copy of an article does not exist for the build (as in Jekyll), so it
        neither hides a live copy nor draws a warning.
        """
        briefs = self.briefs
        if index >= len(briefs):
            briefs.extend([None] * (index + 1 - len(briefs)))
        briefs[index] = brief
        if not self.selection.publishes(brief):
            return
        old = self.ids.get(brief.id)
        if old is not None:
            kept = briefs[old]
            assert kept is not None
            if replaces(brief, kept):
                loser, keeper = old, index
                self._drop(old, kept)
            else:
                loser, keeper = index, old
            self.problems.append(same_article(self._label(loser), self._label(keeper), brief.id))
            if loser == index:
                return
        self.ids[brief.id] = index
        n = self.keep
        item = _Held(brief.published, _Descending(brief.id), index)
        held_by, counts = self.held, self._counts
        for pair in self._groups(brief):
            counts[pair] = counts.get(pair, 0) + 1
            group = pair[0]
            held = held_by.get(group)
            if held is None:
                held = held_by[group] = []
            if len(held) < n:
                heapq.heappush(held, item)
            elif item > held[0]:  # newer than the oldest held (ties: the smaller id)
                heapq.heapreplace(held, item)

    def _drop(self, index: int, brief: Brief) -> None:
        for pair in self._groups(brief):
            self._counts[pair] -= 1
            group = pair[0]
            held = self.held.get(group, [])
            for position, item in enumerate(held):
                if item.number == index:
                    del held[position]
                    heapq.heapify(held)
                    self.dirty.add(group)
                    break

    def finish(self, site_title: str) -> Site:
        """The feeds, each naming its articles by source number (``members``).

        Also sets :attr:`hidden`, :attr:`next_change` and :attr:`states`.
        """
        self.problems.sort(key=problem_order)
        hidden: set[str] = set()
        members: dict[GroupKey, list[tuple[int, str, int]]] = {g: [] for g in self.dirty}
        pending: list[int] = []
        briefs, selection, ids = self.briefs, self.selection, self.ids
        for brief in briefs:
            reason = selection.held_back(brief) if brief is not None else None
            if reason is None:
                continue
            assert brief is not None
            if reason == "future":
                pending.append(brief.published)  # held back only until its time
            if (brief.removed or self.related_published_only) and brief.id not in ids:
                hidden.add(brief.id)
                if brief.url:
                    hidden.add(brief.url)
        if members:
            for article_id, index in ids.items():
                brief = briefs[index]
                assert brief is not None
                for group, _ in self._groups(brief):
                    if group in members:
                        members[group].append((-brief.published, article_id, index))
        totals: Counter[GroupKey] = Counter()
        names: dict[GroupKey, Counter[str]] = {}
        for (group, name), count in self._counts.items():
            if count:
                totals[group] += count
                names.setdefault(group, Counter())[name] = count
        self.hidden = frozenset(hidden)
        self.next_change = from_micros(min(pending)) if pending else None
        rel = self.rels.__getitem__ if self.rels else str
        index_of: dict[str, int] = {}
        self.states = {}
        # One group at a time, each heap let go once read (their ids are copies: the
        # candidates take the briefs' own strings).
        for group in list(self.held):
            heap = self.held.pop(group)
            if group in members:
                rows = [
                    (-ts, i, index) for ts, i, index in heapq.nsmallest(self.keep, members[group])
                ]
            else:
                rows = [
                    (ts, _id_of(briefs, index), index)
                    for ts, _, index in sorted(heap, reverse=True)
                ]
            del heap
            if not totals[group]:
                continue
            candidates = []
            for ts, i, index in rows:
                name = rel(index)
                index_of[name] = index
                candidates.append(Candidate(ts, i, name))
            self.states[group] = GroupState(
                names=tuple(sorted(names[group].items())),
                total=totals[group],
                candidates=tuple(candidates),
                complete=totals[group] <= len(rows),
            )
        return site_of(
            {group: state.record(self.n) for group, state in self.states.items()},
            site_title,
            index_of,
        )


def _id_of(briefs: Sequence[Brief | None], index: int) -> str:
    brief = briefs[index]
    assert brief is not None
    return brief.id


class Record(NamedTuple):
    """A chosen feed, as the cache keeps it between runs (:meth:`GroupState.record`)."""

    name: str
    """The group's display name: its most common spelling."""
    total: int
    """How many published articles the group holds in all."""
    newest: int | None
    """:func:`micros` of its newest article's date (``None``: no article)."""
    rels: tuple[str, ...]
    """The source files of the feed's articles, newest first."""


class Candidate(NamedTuple):
    """One of a group's newest articles, as :class:`GroupState` remembers it."""

    published: int
    """:func:`micros` of the article's date."""
    id: str
    rel: str
    """The source file holding the article (of several copies, the one shown)."""


@dataclass(frozen=True, slots=True)
class GroupState:
    """What a later run needs of one group to update it without looking at every article.

    ``candidates`` are exactly the group's newest articles, more than a feed holds (see
    :data:`MARGIN`), so that articles can leave the feed and the next ones are known.
    """

    names: tuple[tuple[str, int], ...]
    """Each spelling of the group's name, with how many articles use it."""
    total: int
    candidates: tuple[Candidate, ...]
    """Newest first, ties by id."""
    complete: bool
    """``candidates`` are all the group's articles."""

    def record(self, n: int) -> Record:
        """The group's feed, of ``n`` (``items_per_feed``) articles."""
        name = _common_name(Counter(dict(self.names)))
        newest = self.candidates[0].published if self.candidates else None
        return Record(name, self.total, newest, tuple(c.rel for c in self.candidates[:n]))


MARGIN = 2
"""Groups keep ``MARGIN × items_per_feed`` candidates between runs."""


def site_of(
    records: Mapping[GroupKey, Record], site_title: str, index_of: Mapping[str, int]
) -> Site:
    """The feeds of chosen groups, in output order: the site feed, topics, providers."""

    index = index_of.__getitem__

    def feed(kind: FeedKind, key: str, name: str, slug: str, record: Record) -> Feed:
        newest, rels = record.newest, record.rels
        return Feed(
            kind=kind,
            key=key,
            name=name,
            slug=slug,
            total=record.total,
            members=tuple(map(index, rels)),
            updated=from_micros(newest) if newest is not None and rels else None,
        )

    site = records.get(_SITE, Record("", 0, None, ()))
    feeds = [feed(FeedKind.SITE, "", site_title, "", site)]
    for kind in (FeedKind.TOPIC, FeedKind.PROVIDER):
        groups = sorted(g for g in records if g[0] is kind and records[g].total)
        taken: set[str] = set()
        of_kind: list[Feed] = []
        for group in groups:
            key = group[1]
            slug = slugify(key, domain=kind is FeedKind.PROVIDER)
            if slug in taken:  # two keys, one slug: only on a hash collision; keep both apart
                slug = f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
            taken.add(slug)
            of_kind.append(feed(kind, key, records[group].name, slug, records[group]))
        of_kind.sort(key=lambda f: f.slug)
        feeds.extend(of_kind)
    return Site(feeds=tuple(feeds))


def hide_related(article: Article, hidden: Collection[str]) -> Article:
    """``article`` without the related items that name a taken-down article (or, with
    ``related_published_only``, any article not published now: see :attr:`Selector.hidden`)."""
    if not hidden or not any(item.url in hidden for item in article.related):
        return article
    kept = tuple(item for item in article.related if item.url not in hidden)
    return replace(article, related=kept)
