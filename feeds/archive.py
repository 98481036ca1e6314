"""Stage 3b: every feed's complete history, as RFC 5005 archived feeds (``archives: monthly``).

Which articles the archives hold: each group's published articles that its subscription
feed does not (the feed holds the newest ``items_per_feed``), by the UTC month of their
date. So the subscription feed and its archives hold every published article of the
group exactly once, and an article moves into the archive of its month when newer ones
push it out of the feed. A month with no archived article has no archive document.

Pages: a month's archived articles, oldest first (the reverse of feed order: date, then
id), fill pages of ``items_per_feed``; page 1 is ``<feed folder>/archive/YYYY-MM/``, page
``p`` is ``.../YYYY-MM/p/``. An article that leaves the feed is the newest of its month's
archive and lands on the month's last page: the full pages before it stay as they are.
Inside a document, items are in feed order (newest first).

The chain: the subscription feed links ``prev-archive`` (JSON Feed: ``next_url``) to the
newest archive document, each archive document links ``prev-archive`` to the next older
one (the oldest links none) and ``next-archive`` to the next newer one (the newest links
none: its ``current`` link is the subscription feed). Walking back from any document
ends at the oldest page of the oldest month.

An archive document is planned and rendered like a feed (:class:`~feeds.model.Feed` with
a :class:`~feeds.model.History`), so the outputs tier's fingerprints (its articles' files,
its month, page and neighbours) decide whether it is rendered again. An incremental build
takes every brief from the choice tier's rows (one pass), with this run's changes over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from feeds.config import Config
from feeds.group import GroupKey, Selection, groups_of, replaces
from feeds.model import Brief, Feed, History, Site, from_micros


def shown_members(
    briefs: Sequence[Brief | None], selection: Selection, groupings: tuple[str, ...]
) -> dict[GroupKey, list[tuple[int, str, int]]]:
    """Every published article of every group, as (-date, id, source number), in feed
    order: one copy per id, chosen by the Selector's rule (:func:`~feeds.group.replaces`:
    the newer copy; on a tie, the one first in source order)."""
    ids: dict[str, int] = {}
    for index, brief in enumerate(briefs):
        if brief is None or not selection.publishes(brief):
            continue
        kept = ids.get(brief.id)
        if kept is None:
            ids[brief.id] = index
            continue
        old = briefs[kept]
        assert old is not None
        if replaces(brief, old):
            ids[brief.id] = index
    topics, providers = "topics" in groupings, "providers" in groupings
    members: dict[GroupKey, list[tuple[int, str, int]]] = {}
    for article_id, index in ids.items():
        brief = briefs[index]
        assert brief is not None
        item = (-brief.published, article_id, index)
        for group, _ in groups_of(brief, topics, providers):
            held = members.get(group)
            if held is None:
                held = members[group] = []
            held.append(item)
    for held in members.values():
        held.sort()
    return members


_DAY = 86_400_000_000
"""A day in microseconds: months are looked up by day (a day is in one UTC month)."""


def _month(minus_published: int, known: dict[int, str]) -> str:
    """``YYYY-MM`` (UTC) of an article of date ``-minus_published`` (:func:`micros`)."""
    day = -minus_published // _DAY
    month = known.get(day)
    if month is None:
        when = from_micros(day * _DAY)
        month = known[day] = f"{when.year:04d}-{when.month:02d}"
    return month


def with_archives(
    site: Site,
    members: dict[GroupKey, list[tuple[int, str, int]]],
    page_size: int,
    id_of: Callable[[int], str],
) -> Site:
    """``site`` with every feed's archive documents, and each feed linked to its newest.

    A group's archives hold its ``members`` whose ids its feed does not hold (``id_of``
    names the article of a source number): no article is in both, by construction."""
    feeds: list[Feed] = []
    archives: list[Feed] = []
    months: dict[int, str] = {}
    for feed in site.feeds:
        in_feed = {id_of(index) for index in feed.members}
        archived = [
            item for item in members.get((feed.kind, feed.key), ()) if item[1] not in in_feed
        ]
        documents = _documents(feed, archived, page_size, months)
        newest = documents[0].folder if documents else None
        feeds.append(replace(feed, history=History(prev=newest)))
        archives.extend(documents)
    # Rendered month by month, every group's documents of a month together: an article's
    # entries are held from its first document to its last (site, topic, provider), so a
    # month's articles at a time, not every archived article (group by group, a cold
    # build of 100,000 held them all: 1.5 GB).
    archives.sort(key=_by_month)
    return replace(site, feeds=tuple(feeds), archives=tuple(archives))


def _by_month(document: Feed) -> tuple[str, int]:
    history = document.history
    assert history is not None and history.month is not None
    return history.month, history.page


def _documents(
    feed: Feed, archived: list[tuple[int, str, int]], page_size: int, known: dict[int, str]
) -> list[Feed]:
    """The archive documents of one group, newest first, linked to each other."""
    months: dict[str, list[tuple[int, str, int]]] = {}
    for item in archived:  # feed order: newest first
        month = _month(item[0], known)
        held = months.get(month)
        if held is None:
            held = months[month] = []
        held.append(item)
    pages: list[tuple[str, int, list[tuple[int, str, int]]]] = []  # newest first
    for month, items in months.items():
        oldest_first = items[::-1]
        chunks = [
            oldest_first[start : start + page_size]
            for start in range(0, len(oldest_first), page_size)
        ]
        for page in range(len(chunks), 0, -1):
            pages.append((month, page, chunks[page - 1][::-1]))
    folders = [History(month=month, page=page).folder for month, page, _ in pages]
    group = feed.group_folder

    def folder(position: int) -> str | None:
        if not 0 <= position < len(folders):
            return None
        return f"{group}/{folders[position]}" if group else folders[position]

    documents = []
    for position, (month, page, items) in enumerate(pages):
        history = History(
            month=month, page=page, prev=folder(position + 1), next=folder(position - 1)
        )
        documents.append(
            replace(
                feed,
                total=len(items),
                updated=from_micros(-items[0][0]),
                members=tuple(index for _, _, index in items),
                history=history,
            )
        )
    return documents


def archived(
    site: Site, config: Config, selection: Selection, briefs: Sequence[Brief | None]
) -> Site:
    """The archive stage: ``site`` with its archive documents, from the brief of every
    source number (a full choice's, or the cache's after an update's changes)."""
    members = shown_members(briefs, selection, config.groupings)

    def id_of(index: int) -> str:
        brief = briefs[index]
        assert brief is not None, "a feed holds a source that gave no article"
        return brief.id

    return with_archives(site, members, config.items_per_feed, id_of)
