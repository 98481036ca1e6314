"""Stage 3b: every feed's complete history, as RFC 5005 archived feeds (``archives: monthly``).

Which articles the archives hold: each group's published articles that its subscription
feed does not *write*, by the UTC month of their date. A feed holds the newest
``items_per_feed``; ``max_feed_bytes`` may make it write only the newest ``n`` of them
(see :func:`feeds.render.render_feed`), and the ones it leaves out are archived like any
older article. So the subscription feed and its archives hold every published article of
the group exactly once, and an article moves into the archive of its month when newer
ones push it out of the feed (or the cap does). A month with no archived article has no
archive document.

Pages: a month's archived articles, oldest first (the reverse of feed order: date, then
id), are cut into pages where the articles themselves say (:func:`page_ends`): a page ends
after an article whose id hashes to a multiple of ``items_per_feed`` (one article in
``items_per_feed``, so a page that is not its month's last holds a little fewer than that
on average: 42 at 50 on the benchmark corpus's site feed), or when it holds
:data:`MOST_PER_PAGE` times ``items_per_feed``. Page 1 is ``<feed folder>/archive/YYYY-MM/``,
page ``p`` is ``.../YYYY-MM/p/``. Where a page ends depends on the articles of that page
only (and, after a page cut for its size, on the ones before it back to the last cut by
id): an article added to or removed from a busy month changes its own page, not every page
after it, as pages of a fixed count would. An article that leaves the feed is the newest
of its month's archive and lands on the month's last page: the pages before it stay as
they are.
Inside a document, items are in feed order (newest first). Archive documents are never
capped: an archive page over ``max_feed_bytes`` keeps every item (with a warning), as
leaving one out would lose it from the history.

The chain: the subscription feed links ``prev-archive`` (JSON Feed: ``next_url``) to the
newest archive document, each archive document links ``prev-archive`` to the next older
one (the oldest links none) and ``next-archive`` to the next newer one (the newest links
none: its ``current`` link is the subscription feed). Walking back from any document
ends at the oldest page of the oldest month.

The feed's own link depends on how many items it writes, and how many fit depends on the
link's length: :meth:`Histories.links` gives the link for every count, the renderer picks
the count with the link that count gives, and the archives are then laid out from each
feed's count (:meth:`Histories.laid_out`). Everything here is a function of the briefs
and those counts, so an incremental build and a cold one lay out the same documents.

An archive document is planned and rendered like a feed (:class:`~feeds.model.Feed` with
a :class:`~feeds.model.History`), so the outputs tier's fingerprints (its articles' files,
its month, page and neighbours) decide whether it is rendered again; a subscription
feed's fingerprint covers what its link for every count depends on
(:attr:`~feeds.model.History.basis`), and the cache keeps the count it wrote. An
incremental build takes every brief from the choice tier's rows (one pass), with this
run's changes over them.

Two ways to the same layout, side by side like :mod:`feeds.group` and :mod:`feeds.update`:
a full choice makes it from every brief (:func:`archived`), and the cache stores it as
each group's archived articles by month (:func:`~feeds.archive_update.layout_rows`); a
run that updated the last choice updates the stored layout
(:func:`~feeds.archive_update.updated`, in its own module): it reads and rebuilds only the
(group, month) pairs of the changed articles' old and new shown copies and of articles
that left a feed for the archive or came back, and plans only their documents and the
documents beside them whose links change. The other documents are not built: the output
holds them as the last run wrote them. Which articles a feed holds is an input (the
feed's articles before and after, :class:`~feeds.archive_update.Moved`), and the archive
holds the rest.

The layout stored and updated is the one where every subscription feed writes every item
it holds, so a feed's articles are its newest ``items_per_feed``. A run in which a feed
writes fewer (``max_feed_bytes``) lays the archives out from every brief and each feed's
count (:class:`Histories`), and the cache then keeps no layout: the next run makes it
whole again (see :mod:`feeds.build`).
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from feeds.config import Config
from feeds.group import GroupKey, Selection, groups_of, replaces
from feeds.model import Brief, Feed, History, Site, from_micros, micros

Item = tuple[int, str, int]
"""A published article as the archives order it: (-date, id, source number)."""


def shown_members(
    briefs: Sequence[Brief | None], selection: Selection, groupings: tuple[str, ...]
) -> dict[GroupKey, list[Item]]:
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
    members: dict[GroupKey, list[Item]] = {}
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


MOST_PER_PAGE = 2
"""A page holds at most this many times ``items_per_feed`` articles: it ends there when
no article's id ended it before (at ``2``, one page in eight of the benchmark corpus's
site feed, a month's last aside; e^-2 for a large ``items_per_feed``)."""


def _cuts_after(article_id: str, page_size: int) -> bool:
    """Whether a page ends after the article ``article_id``: one in ``page_size``, by id."""
    return zlib.crc32(article_id.encode("utf-8", "surrogateescape")) % page_size == 0


def page_ends(ids: Iterable[str], page_size: int) -> list[int]:
    """Where the pages of a month end, given its archived articles' ids oldest first:
    each page's end (the position after its last article), in order. A page ends after
    an article :func:`_cuts_after` names, or when it holds ``MOST_PER_PAGE * page_size``;
    the last page ends with the month."""
    most = MOST_PER_PAGE * page_size
    ends: list[int] = []
    start = position = 0
    for position, article_id in enumerate(ids, 1):
        if position - start == most or _cuts_after(article_id, page_size):
            ends.append(position)
            start = position
    if position > start:
        ends.append(position)
    return ends


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


def month_of(published: int, known: dict[int, str] | None = None) -> str:
    """``YYYY-MM`` (UTC) of an article dated ``published`` (micros)."""
    return _month(-published, {} if known is None else known)


@dataclass(slots=True)
class Histories:
    """What every group's history is laid out from: its published articles in feed order
    (:func:`shown_members`), the page size and the brief of every source number. The
    layout is a function of these and of how many items each subscription feed wrote."""

    members: dict[GroupKey, list[Item]]
    page_size: int
    briefs: Sequence[Brief | None]
    _months: dict[int, str] = field(default_factory=dict)
    _links: dict[GroupKey, tuple[str | None, ...]] = field(default_factory=dict)

    def _id(self, index: int) -> str:
        brief = self.briefs[index]
        assert brief is not None, "a feed holds a source that gave no article"
        return brief.id

    def links(self, feed: Feed) -> tuple[str | None, ...]:
        """The folder of ``feed``'s newest archive document when the feed writes its
        newest ``n`` items, for every ``n`` from 0 to all its members (``None``: no
        archive document). An item the feed does not write is the newest archived one,
        so the link names its month and that month's last page."""
        group = (feed.kind, feed.key)
        known = self._links.get(group)
        if known is not None:
            return known
        items = self.members.get(group, [])
        months = self._months
        prefix = f"{feed.group_folder}/" if feed.group_folder else ""
        folders: dict[tuple[str, int], str] = {}
        pages_of: dict[tuple[str, int], int] = {}  # by (month, left): its archive's pages
        left: dict[str, int] = {}  # of those, how many the feed writes so far
        written: set[str] = set()
        position = 0
        links: list[str | None] = []
        for n in range(len(feed.members) + 1):
            if n:
                brief = self.briefs[feed.members[n - 1]]
                assert brief is not None, "a feed holds a source that gave no article"
                written.add(brief.id)
                month = _month(-brief.published, months)
                left[month] = left.get(month, 0) + 1
            while position < len(items) and items[position][1] in written:
                position += 1
            if position == len(items):
                links.append(None)
                continue
            month = _month(items[position][0], months)
            # The month's articles the feed does not write (as many as it writes of them
            # tell which, the feed's items growing with n) make its archive's pages.
            place = (month, left.get(month, 0))
            pages = pages_of.get(place)
            if pages is None:
                begin, end = _month_span(items, month)
                ids = (items[i][1] for i in range(end - 1, begin - 1, -1))
                archived = [i for i in ids if i not in written]
                pages = pages_of[place] = len(page_ends(archived, self.page_size))
            folder = folders.get((month, pages))
            if folder is None:
                folder = prefix + History(month=month, page=pages).folder
                folders[month, pages] = folder
            links.append(folder)
        result = self._links[group] = tuple(links)
        return result

    def linked(self, feed: Feed) -> Feed:
        """A subscription feed of the layout with its link for every count it may write
        (:attr:`~feeds.model.History.prevs`), to be rendered."""
        history = feed.history
        assert history is not None, "a feed of the layout"
        return replace(feed, history=replace(history, prevs=self.links(feed)))

    def laid_out(self, site: Site, written: Mapping[GroupKey, int]) -> Site:
        """``site`` with every feed's archive documents, and each feed linked to its
        newest, when each feed writes the newest ``written`` items of its members (all of
        them for a group not in ``written``).

        A group's archives hold its members whose ids are not among the items its feed
        writes: no article is in both, and none is in neither."""
        feeds: list[Feed] = []
        archives: list[Feed] = []
        for feed in site.feeds:
            group = (feed.kind, feed.key)
            members = feed.members
            every = len(members)
            count = min(written.get(group, every), every)
            items = self.members.get(group, [])
            basis: tuple[object, ...]
            if [item[2] for item in items[:every]] == list(members):
                # Its items are its group's newest (as the Selector chose them): an item
                # it leaves out is the newest of the archives, and its links depend on its
                # items' months and on the newest month its archives hold when it writes
                # every item, and how many of that month's articles they then hold.
                archived = items[count:]
                if len(items) == every:
                    basis = (None,)
                else:
                    month = _month(items[every][0], self._months)
                    basis = (month, _month_span(items, month)[1] - every)
            else:  # (never seen) by id, and fingerprinted by every link itself
                in_feed = {self._id(index) for index in members[:count]}
                archived = [item for item in items if item[1] not in in_feed]
                basis = self.links(feed)
            documents = _documents(feed, archived, self.page_size, self._months)
            newest = documents[0].folder if documents else None
            feeds.append(replace(feed, history=History(prev=newest, basis=basis)))
            archives.extend(documents)
        # Rendered month by month, every group's documents of a month together: an article's
        # entries are held from its first document to its last (site, topic, provider), so a
        # month's articles at a time, not every archived article (group by group, a cold
        # build of 100,000 held them all: 1.5 GB).
        archives.sort(key=by_month)
        return replace(site, feeds=tuple(feeds), archives=tuple(archives))


def _month_span(items: list[Item], month: str) -> tuple[int, int]:
    """Where the items dated in ``month`` (``YYYY-MM``, UTC) begin and end in ``items``
    (feed order: newest first, so a month's items are together)."""
    year, number = int(month[:4]), int(month[5:])
    start = micros(datetime(year, number, 1, tzinfo=UTC))
    after = micros(datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC))
    # Newest first: the month's items are those from -(its end) to -(its start).
    return bisect_left(items, (-after + 1,)), bisect_left(items, (-start + 1,))


def by_month(document: Feed) -> tuple[str, int]:
    """How archive documents are sorted: by month, then page."""
    history = document.history
    assert history is not None and history.month is not None
    return history.month, history.page


def _documents(
    feed: Feed, archived: list[Item], page_size: int, known: dict[int, str]
) -> list[Feed]:
    """The archive documents of one group, newest first, linked to each other."""
    months: dict[str, list[Item]] = {}
    for item in archived:  # feed order: newest first
        month = _month(item[0], known)
        held = months.get(month)
        if held is None:
            held = months[month] = []
        held.append(item)
    pages: list[tuple[str, int, list[Item]]] = []  # newest first
    for month, items in months.items():
        oldest_first = items[::-1]
        ends = page_ends((item[1] for item in oldest_first), page_size)
        chunks = [oldest_first[start:end] for start, end in zip([0, *ends], ends, strict=False)]
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


def histories(config: Config, selection: Selection, briefs: Sequence[Brief | None]) -> Histories:
    """The archive stage's inputs, from the brief of every source number (a full
    choice's, or the cache's after an update's changes)."""
    return Histories(
        shown_members(briefs, selection, config.groupings), config.items_per_feed, briefs
    )


def archived(
    site: Site, config: Config, selection: Selection, briefs: Sequence[Brief | None]
) -> Site:
    """``site`` with its archive documents when every feed writes every item it holds,
    from the brief of every source number (the layout
    :func:`~feeds.archive_update.updated` starts from): each feed linked to its newest
    archive document, as that links it."""
    laid = histories(config, selection, briefs).laid_out(site, {})
    feeds = tuple(
        replace(feed, history=History(prev=feed.history.prev if feed.history else None))
        for feed in laid.feeds
    )
    return replace(laid, feeds=feeds)
