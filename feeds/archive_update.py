"""Stage 3b, updated: the archive layout as the cache stores it, and its update by a run
that changed a few files (``archives: monthly``).

:mod:`feeds.archive` says which articles the archives hold and how a month is cut into
pages, and makes the layout from every brief (:func:`~feeds.archive.archived`). Side by
side like :mod:`feeds.group` and :mod:`feeds.update`, this module keeps that layout
between runs: the cache stores each group's archived articles by month
(:func:`layout_rows`, a row per group and month, see :mod:`feeds.cache.choice`), and a run
that updates the last choice updates it (:func:`updated`), looking only at the months its
changes touch and at the documents beside them whose links change. The rules are
:mod:`feeds.archive`'s; an incremental build and a cold one lay out the same documents.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from feeds.archive import by_month, month_of, page_ends
from feeds.group import GroupKey, Selection, groups_of
from feeds.model import Brief, Feed, History, Site, from_micros

Row = tuple[int, str, str]
"""An archived article as the layout stores it: its date (micros), id and source file."""
GroupMonth = tuple[GroupKey, str]
MonthRow = tuple[int, list[Row]]
"""A (group, month) of the layout as stored: its number of pages, its articles (feed order)."""


_FOLDER = re.compile(r"(?:((?:topics|providers)/[^/]+)/)?archive/(\d{4}-\d{2})(?:/\d+)?/")


def document_place(folder: str) -> tuple[str, str] | None:
    """The group's folder (``""``: the site feed's) and the month of the archive document
    whose folder, relative to the output root, is ``folder`` (with its closing slash), or
    ``None``: not an archive document's folder."""
    m = _FOLDER.fullmatch(folder)
    return None if m is None else (m[1] or "", m[2])


def _order(item: Row) -> tuple[int, str]:
    """Feed order: newest first, then by id."""
    return -item[0], item[1]


def layout_rows(
    documents: Sequence[Feed], briefs: Sequence[Brief | None], rels: Sequence[str]
) -> dict[GroupMonth, MonthRow]:
    """The layout of ``documents`` (every archive document of a full choice): each group's
    months, with their pages and archived articles in feed order."""
    pages: dict[GroupMonth, list[tuple[int, Feed]]] = {}
    for document in documents:
        history = document.history
        assert history is not None and history.month is not None
        pages.setdefault(((document.kind, document.key), history.month), []).append(
            (history.page, document)
        )
    rows: dict[GroupMonth, MonthRow] = {}
    for place, held in pages.items():
        items: list[Row] = []
        for _, document in sorted(held, key=lambda pair: -pair[0]):  # newest page first
            for index in document.members:
                brief = briefs[index]
                assert brief is not None
                items.append((brief.published, brief.id, rels[index]))
        rows[place] = (len(held), items)
    return rows


class Stored(Protocol):
    """What the cache holds of the last layout (see :class:`~feeds.cache.choice_read.Previous`)."""

    def archive_pages(self, groups: Collection[GroupKey]) -> dict[GroupKey, dict[str, int]]:
        """Each group's months, with how many pages each has."""
        ...

    def archive_members(self, places: Collection[GroupMonth]) -> dict[GroupMonth, list[Row]]:
        """The archived articles of each (group, month), in feed order."""
        ...


@dataclass(frozen=True, slots=True)
class Moved:
    """What an updated choice changed, as the layout needs it."""

    shown: Sequence[tuple[str, Brief | None, Brief | None]]
    """Each changed id's shown copy before and after (file, brief, brief)."""
    files: Sequence[tuple[str, Brief | None, Brief | None]]
    """Each changed file's brief before and after (an edit that leaves the brief as it
    was still changes the documents that hold the article)."""
    feeds_before: Mapping[GroupKey, Sequence[Row]]
    """The articles each group's subscription feed held (the groups the changes touch)."""
    feeds_after: Mapping[GroupKey, Sequence[Row]]
    """What they hold now: of a group's articles, those not in its feed are archived."""
    renamed: Collection[GroupKey] = ()
    """Groups whose name changed: every one of their documents changes."""


@dataclass(frozen=True, slots=True)
class Update:
    """A layout update: the rows to store, the documents to plan, the subscription feeds."""

    site: Site
    """The site with each feed linked to its newest archive, and (as its ``archives``)
    only the documents this run plans: the others stand as the last run left them."""
    rows: dict[GroupMonth, MonthRow | None]
    """The (group, month) rows that changed (``None``: the month has no archive now)."""
    replanned: frozenset[str]
    """The folders of the documents of the last layout planned again (or gone)."""


def _pages_of(pages: Mapping[str, int]) -> list[tuple[str, int]]:
    """A group's documents, newest first, from how many pages each month has."""
    return [
        (month, page)
        for month in sorted(pages, reverse=True)
        for page in range(pages[month], 0, -1)
    ]


def _links(
    pages: list[tuple[str, int]], group: str, documents: Collection[tuple[str, int]]
) -> dict[tuple[str, int], History]:
    """The links of those of ``pages`` (a group's documents, newest first; ``group``: its
    folder) that are in ``documents``."""
    last = len(pages) - 1

    def folder(i: int) -> str | None:
        if not 0 <= i <= last:
            return None
        month, page = pages[i]
        name = History(month=month, page=page).folder
        return f"{group}/{name}" if group else name

    return {
        (month, page): History(month=month, page=page, prev=folder(i + 1), next=folder(i - 1))
        for i, (month, page) in enumerate(pages)
        if (month, page) in documents
    }


def _relinks(
    before: Mapping[str, int], after: Mapping[str, int], months: Collection[str], group: str
) -> tuple[dict[tuple[str, int], History], dict[tuple[str, int], History]]:
    """The links before and after of the documents whose links a change may alter, of a
    group whose pages by month were ``before`` and are ``after``, which differ in
    ``months`` only: those in ``months``, and those next to one of them in either layout
    (every other document has the same neighbours in both). A busy site feed has
    thousands of documents; a change touches a month or two."""
    old, new = _pages_of(before), _pages_of(after)
    near: set[tuple[str, int]] = set()
    for pages in (old, new):
        last = len(pages) - 1
        near.update(
            pages[j]
            for i, (month, _) in enumerate(pages)
            if month in months
            for j in (i - 1, i, i + 1)
            if 0 <= j <= last
        )
    return _links(old, group, near), _links(new, group, near)


def updated(
    site: Site,
    stored: Stored,
    moved: Moved,
    page_size: int,
    selection: Selection,
    groupings: tuple[str, ...],
    index_of: Mapping[str, int],
    folders_before: Mapping[GroupKey, str],
    newest_before: Mapping[GroupKey, str | None],
    broken: Mapping[GroupKey, Collection[str]],
) -> Update:
    """The layout after ``moved``: only the (group, month) pairs of the changed articles'
    old and new shown copies, of the files changed, of articles that left a feed for the
    archive or came back, and of ``broken`` (months whose files were found changed by
    hand) are read and rebuilt, with the documents beside them whose links change.
    ``folders_before`` and ``newest_before``: each group's folder and newest archive
    document's folder (its feed's link) in the last run."""
    topics, providers = "topics" in groupings, "providers" in groupings
    known: dict[int, str] = {}
    removed: dict[GroupKey, set[Row]] = {}
    added: dict[GroupKey, set[Row]] = {}
    touched: dict[GroupKey, set[str]] = {g: set(months) for g, months in broken.items()}

    def note(into: dict[GroupKey, set[Row]], group: GroupKey, item: Row) -> None:
        into.setdefault(group, set()).add(item)
        touched.setdefault(group, set()).add(month_of(item[0], known))

    folders = {(feed.kind, feed.key): feed for feed in site.feeds}
    kept_in = {
        group: set(before) & set(moved.feeds_after.get(group, ()))
        for group, before in moved.feeds_before.items()
    }

    def in_feed(group: GroupKey, row: Row) -> bool:
        """Whether the group's subscription feed holds ``row`` both before and after:
        then none of the group's archive documents does (an edit of the newest article
        touches no month). A group not chosen again kept its feed as it was."""
        if group in kept_in or group in moved.feeds_after:
            return row in kept_in.get(group, ())
        feed, index = folders.get(group), index_of.get(row[2])
        return feed is not None and index is not None and index in feed.members

    for rel, was, now in moved.files:
        for brief in (was, now):
            if brief is not None and selection.publishes(brief):
                month = month_of(brief.published, known)
                row = (brief.published, brief.id, rel)
                for group, _ in groups_of(brief, topics, providers):
                    if not in_feed(group, row):
                        touched.setdefault(group, set()).add(month)
    after_in: dict[GroupKey, set[Row]] = {}
    for rel, before, after in moved.shown:
        if before is not None:
            row = (before.published, before.id, rel)
            for group, _ in groups_of(before, topics, providers):
                if not in_feed(group, row):
                    note(removed, group, row)
        if after is not None:
            for group, _ in groups_of(after, topics, providers):
                after_in.setdefault(group, set()).add((after.published, after.id, rel))
    for group in moved.feeds_before.keys() | moved.feeds_after.keys() | after_in.keys():
        old = set(moved.feeds_before.get(group, ()))
        new = set(moved.feeds_after.get(group, ()))
        gone = removed.get(group, set())
        for item in old - new - gone:  # left the feed: archived
            note(added, group, item)
        for item in new - old:  # came into the feed: no longer archived
            note(removed, group, item)
        for item in after_in.get(group, set()) - new:
            note(added, group, item)
    stored_pages = stored.archive_pages(touched.keys() | set(moved.renamed))
    for group in moved.renamed:
        touched.setdefault(group, set()).update(stored_pages.get(group, {}))
    members = stored.archive_members(
        [(g, m) for g, months in touched.items() for m in months if m in stored_pages.get(g, {})]
    )
    rows: dict[GroupMonth, MonthRow | None] = {}
    documents: list[Feed] = []
    replanned: set[str] = set()
    newest: dict[GroupKey, str | None] = {}
    for group, months in touched.items():
        old_pages = stored_pages.get(group, {})  # by month, how many pages
        new_pages = dict(old_pages)
        held: dict[str, list[Row]] = {}
        ends: dict[str, list[int]] = {}
        for month in months:
            items = [
                item
                for item in members.get((group, month), ())
                if item not in removed.get(group, ())
            ]
            items.extend(i for i in added.get(group, ()) if month_of(i[0], known) == month)
            items.sort(key=_order)
            items = list(dict.fromkeys(items))
            held[month] = items
            ends[month] = page_ends((item[1] for item in reversed(items)), page_size)
            if (group, month) in members or items:
                rows[group, month] = (len(ends[month]), items) if items else None
            if items:
                new_pages[month] = len(ends[month])
            else:
                new_pages.pop(month, None)
        feed = folders.get(group)
        if feed is None and group not in folders_before:
            continue  # a group of an article no feed shows (a duplicate's), now or before
        prefix = feed.group_folder if feed is not None else folders_before[group]
        links_before, links_after = _relinks(old_pages, new_pages, months, prefix)
        for (month, page), history in links_before.items():
            if month in months or links_after.get((month, page)) != history:
                replanned.add(f"{prefix}/{history.folder}" if prefix else history.folder)
        months_newest_first = sorted(new_pages, reverse=True)
        newest[group] = None
        if months_newest_first:
            latest = months_newest_first[0]
            last = History(month=latest, page=new_pages[latest]).folder
            newest[group] = f"{prefix}/{last}" if prefix else last
        if feed is None:
            continue
        relinked = {
            month
            for (month, page), history in links_after.items()
            if month not in months and links_before.get((month, page)) != history
        }
        more = stored.archive_members([(group, m) for m in relinked])
        for month in relinked:
            held[month] = more.get((group, month), [])
            ends[month] = page_ends((item[1] for item in reversed(held[month])), page_size)
        for (month, page), history in links_after.items():
            if month in months or (
                month in relinked and links_before.get((month, page)) != history
            ):
                documents.append(_page(feed, held[month], page, ends[month], history, index_of))
    feeds = []
    for feed in site.feeds:
        group = (feed.kind, feed.key)
        prev = newest[group] if group in newest else newest_before.get(group)
        feeds.append(replace(feed, history=History(prev=prev)))
    documents.sort(key=by_month)
    return Update(
        site=replace(site, feeds=tuple(feeds), archives=tuple(documents)),
        rows=rows,
        replanned=frozenset(replanned),
    )


def _page(
    feed: Feed,
    items: list[Row],
    page: int,
    ends: list[int],
    history: History,
    index_of: Mapping[str, int],
) -> Feed:
    """One archive document: page ``page`` of a month's ``items`` (feed order), whose
    pages end at ``ends`` (:func:`page_ends`)."""
    oldest_first = items[::-1]
    chunk = oldest_first[ends[page - 2] if page > 1 else 0 : ends[page - 1]][::-1]
    return replace(
        feed,
        total=len(chunk),
        updated=from_micros(chunk[0][0]),
        members=tuple(index_of[rel] for _, _, rel in chunk),
        history=history,
    )
