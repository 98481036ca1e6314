"""Reading the choice tier back (:mod:`feeds.cache.choice` describes its tables and saves
them): what the cache holds for each file whose stamp is unchanged (:func:`known`, for a
full choice), and the last run's choice for a run that changed a few files to update
(:func:`previous`, whose :class:`Previous` reads only the rows a change touches). A row
that does not load raises :class:`~feeds.cache.db.BadRow`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds.cache.choice import (
    ArchiveHead,
    ArchiveItem,
    FolderDigests,
    GroupKey,
    GroupMonth,
    GroupValues,
    Record,
    folder_of,
)
from feeds.cache.db import (
    DUPLICATES,
    NEVER,
    BadRow,
    from_json,
    ints_of,
    problem_of,
    rows_in,
    text,
    untext,
)
from feeds.errors import Problem
from feeds.model import (
    STAMP_BYTES,
    Brief,
    Counts,
    FeedKind,
    Stamp,
    Stamps,
    from_micros,
    micros,
)


@dataclass(frozen=True, slots=True)
class Known:
    """What the cache holds for one file."""

    brief: Brief | None
    """``None``: the file gave no usable article."""
    problems: tuple[Problem, ...]
    digest: bytes | None = None
    """A digest of the bytes it was read from (``None``: none was taken)."""
    current: bool = True
    """Its stamp is the stored one: it did not change. Else it is known only if its
    bytes still have :attr:`digest` (it was touched, not changed)."""
    shown: bytes | None = None
    """The packed stamp its feeds were last fingerprinted with, when that is not its
    stamp now (``None``: it is, or it is not known)."""


class _Decoder:
    """Rows of ``files`` back into briefs, each distinct topics and provider text decoded
    (and checked) once."""

    def __init__(self) -> None:
        self.topics: dict[str, tuple[tuple[str, str], ...]] = {}
        self.providers: dict[str, tuple[str, str]] = {}

    def brief(self, row: Sequence[Any]) -> Brief | None:
        """``row``: id, url, published, draft, removed, topics, provider."""
        article_id, url, published, draft, removed, topics, provider = row
        if article_id is None:
            return None
        if not (
            isinstance(article_id, str)
            and (url is None or isinstance(url, str))
            and type(published) is int
            and draft in (0, 1)
            and removed in (0, 1)
        ):
            raise BadRow("files: not a brief")
        held = self.topics.get(topics)
        if held is None:
            held = self.topics[topics] = tuple(_pair(pair) for pair in _list(topics))
        if provider is not None:
            known = self.providers.get(provider)
            if known is None:
                known = self.providers[provider] = _pair(from_json(provider))
            provider = known
        article_id = untext(article_id)
        return Brief(
            article_id,
            article_id if url is None else untext(url),
            published,
            bool(draft),
            bool(removed),
            held,
            provider,
        )


def _list(text: object) -> list[Any]:
    value = from_json(text)
    if not isinstance(value, list):
        raise BadRow("not a list")
    return value


def _pair(value: object) -> tuple[str, str]:
    if not (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    ):
        raise BadRow("not a pair of strings")
    return (value[0], value[1])


_BRIEF_COLUMNS = "id, url, published, draft, removed, topics, provider"


def _stamp(row: Sequence[Any]) -> Stamp | None:
    size, mtime, ctime, inode = row
    if size is None:
        return None
    if not all(type(v) is int for v in row):
        raise BadRow("files: not a stamp")
    return (size, mtime, ctime, inode)


def state(db: sqlite3.Connection, root: str, given: str, reading: str) -> tuple[Any, ...] | None:
    """The last choice's row, if it was made of this folder with the same reading settings."""
    row = db.execute(
        "SELECT given, reading, choosing, now_us, until_us, articles, counts, hidden"
        " FROM choice WHERE root = ?",
        (root,),
    ).fetchone()
    if row is None or row[0] != given or row[1] != reading:
        return None
    return tuple(row)


def file_problems(db: sqlite3.Connection, root: str) -> dict[str, tuple[Problem, ...]]:
    """By relative path (:data:`DUPLICATES` for the choice's duplicates): the problems."""
    found: dict[str, list[Problem]] = {}
    for rel, *values in db.execute(
        "SELECT rel, path, line, field, message, severity FROM problems WHERE root = ?"
        " ORDER BY rel, seq",
        (root,),
    ):
        found.setdefault(untext(rel), []).append(problem_of(*values))
    return {rel: tuple(problems) for rel, problems in found.items()}


def known(
    db: sqlite3.Connection, root: str, rels: Sequence[str], stamps: Stamps
) -> dict[int, Known]:
    """By source number: what the cache holds for the files whose stamp is unchanged, or
    whose stamp changed but whose digest was taken (:attr:`Known.current` false)."""
    index_of = {rel: i for i, rel in enumerate(rels)}
    problems = file_problems(db, root)
    decoder = _Decoder()
    found: dict[int, Known] = {}
    for rel, size, mtime, ctime, inode, digest, seen, *brief in db.execute(
        f"SELECT rel, size, mtime, ctime, inode, digest, seen, {_BRIEF_COLUMNS} FROM files"
        " WHERE root = ?",
        (root,),
    ):
        index = index_of.get(untext(rel))
        if index is None:
            continue
        old = _stamp((size, mtime, ctime, inode))
        current = old is not None and stamps[index] == old
        if not current and digest is None:
            continue
        found[index] = _known(
            decoder.brief(brief), problems.get(rels[index], ()), digest, seen, old, current
        )
    return found


def _known(
    brief: Brief | None,
    problems: tuple[Problem, ...],
    digest: object,
    seen: object,
    old: Stamp | None,
    current: bool,
) -> Known:
    if not (digest is None or isinstance(digest, bytes)) or not (
        seen is None or (isinstance(seen, bytes) and len(seen) == STAMP_BYTES)
    ):
        raise BadRow("files: not a digest or stamp")
    if seen is None and not current and old is not None:
        seen = Stamps.pack([old])
    return Known(brief, problems, digest, current, seen)


@dataclass(frozen=True, slots=True)
class Previous:
    """The last run's choice of feeds, for a run that changed few files to update it; its
    lookups read the rows of the files and groups a change touches."""

    db: sqlite3.Connection
    root: str
    guard: Callable[[], AbstractContextManager[None]]
    """Around each lookup: a row that does not load discards the cache and raises
    :class:`~feeds.cache.db.Damaged` (the build starts over)."""
    changed: tuple[tuple[str, int | None], ...]
    """Files added, changed or removed since: (relative path, source number or ``None``)."""
    records: dict[GroupKey, Record]
    duplicates: tuple[Problem, ...]
    problems: dict[str, tuple[Problem, ...]]
    """By relative path, the problems of every file that had some."""
    shown: dict[str, bytes]
    """By relative path, the packed stamp the feeds were fingerprinted with, where it is
    not the file's stored stamp (see :attr:`FullFiles.shown`)."""
    hidden: frozenset[str]
    until: datetime | None
    articles: int
    counts: Counts

    def briefs_of(self, rels: Collection[str]) -> dict[str, Brief | None]:
        """The stored brief of each of ``rels`` (``None``: no article, or not stored)."""
        found: dict[str, Brief | None] = dict.fromkeys(rels)
        decoder = _Decoder()
        with self.guard():
            self._briefs(found, decoder)
        return found

    def every_brief(self, rels: Sequence[str]) -> list[Brief | None]:
        """The stored brief of every one of ``rels``, in their order (``None``: no
        article, or not stored): one pass over the content folder's rows."""
        index_of = {rel: i for i, rel in enumerate(rels)}
        found: list[Brief | None] = [None] * len(rels)
        decoder = _Decoder()
        with self.guard():
            for rel, *row in self.db.execute(
                f"SELECT rel, {_BRIEF_COLUMNS} FROM files WHERE root = ? AND id IS NOT NULL",
                (self.root,),
            ):
                index = index_of.get(untext(rel))
                if index is not None:
                    found[index] = decoder.brief(row)
        return found

    def _briefs(self, found: dict[str, Brief | None], decoder: _Decoder) -> None:
        for rel, row in self._rows(_BRIEF_COLUMNS, found):
            found[rel] = decoder.brief(row)

    def _rows(self, columns: str, rels: Collection[str]) -> Iterator[tuple[str, list[Any]]]:
        """The ``columns`` of the row of each of ``rels`` that has one (each by its key:
        a few files changed)."""
        for rel in sorted(rels):
            row = self.db.execute(
                f"SELECT {columns} FROM files WHERE root = ? AND folder = ? AND rel = ?",
                (self.root, text(folder_of(rel)), text(rel)),
            ).fetchone()
            if row is not None:
                yield rel, list(row)

    def digested(self, rels: Collection[str]) -> dict[str, Known]:
        """Of ``rels`` (files whose stamp changed), those whose digest was taken: what
        they gave, if their bytes still have that digest."""
        found: dict[str, Known] = {}
        decoder = _Decoder()
        columns = f"size, mtime, ctime, inode, digest, seen, {_BRIEF_COLUMNS}"
        with self.guard():
            for rel, (size, mtime, ctime, inode, digest, seen, *brief) in self._rows(columns, rels):
                if digest is None:
                    continue
                old = _stamp((size, mtime, ctime, inode))
                found[rel] = _known(
                    decoder.brief(brief), self.problems.get(rel, ()), digest, seen, old, False
                )
        return found

    def files_of(self, ids: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The files that had each of ``ids`` in the last run."""
        found: dict[str, list[str]] = {i: [] for i in ids}
        query = "SELECT id, rel FROM files WHERE root = ? AND id IN"
        with self.guard():
            for article_id, rel in rows_in(self.db, query, self.root, ids):
                found[untext(article_id)].append(untext(rel))
        return {i: tuple(rels) for i, rels in found.items()}

    def group_states(self, groups: Collection[GroupKey]) -> dict[GroupKey, GroupValues | None]:
        """The stored state of each of ``groups`` (``None``: no such group)."""
        found: dict[GroupKey, GroupValues | None] = {}
        with self.guard():
            for kind, key in groups:
                row = self.db.execute(
                    "SELECT names, total, candidates, complete FROM groups"
                    " WHERE root = ? AND kind = ? AND key = ?",
                    (self.root, kind.value, text(key)),
                ).fetchone()
                found[kind, key] = None if row is None else _group_values(*row)
        return found

    # -- the archive layout (archives: monthly) ---------------------------------------------

    def archive_head(self) -> ArchiveHead | None:
        """The output folder that holds every archive document of the stored layout as
        written, or ``None``."""
        with self.guard():
            row = self.db.execute(
                "SELECT output, settings, manifest, folders FROM archive_head WHERE root = ?",
                (self.root,),
            ).fetchone()
            if row is None:
                return None
            output, settings, manifest, groups = row
            folders: dict[GroupKey, str] = {}
            newest: dict[GroupKey, str | None] = {}
            for entry in _list(groups):
                if not (
                    isinstance(entry, list)
                    and len(entry) == 4
                    and all(isinstance(v, str) for v in entry[:3])
                    and (entry[3] is None or isinstance(entry[3], str))
                ):
                    raise BadRow("archive_head: not a group")
                group = _group(entry[0], entry[1])
                folders[group], newest[group] = entry[2], entry[3]
            return ArchiveHead(untext(output), untext(settings), untext(manifest), folders, newest)

    def archive_pages(self, groups: Collection[GroupKey]) -> dict[GroupKey, dict[str, int]]:
        """Each of ``groups``' archive months, with how many pages each has."""
        found: dict[GroupKey, dict[str, int]] = {}
        with self.guard():
            for kind, key in groups:
                months = found[kind, key] = {}
                for month, pages in self.db.execute(
                    "SELECT month, pages FROM archives WHERE root = ? AND kind = ? AND key = ?",
                    (self.root, kind.value, text(key)),
                ):
                    if not (isinstance(month, str) and type(pages) is int and pages > 0):
                        raise BadRow("archives: not a month")
                    months[month] = pages
        return found

    def archive_members(
        self, places: Collection[GroupMonth]
    ) -> dict[GroupMonth, list[ArchiveItem]]:
        """The archived articles of each (group, month) of ``places`` that has some."""
        found: dict[GroupMonth, list[ArchiveItem]] = {}
        with self.guard():
            for (kind, key), month in places:
                row = self.db.execute(
                    "SELECT members FROM archives"
                    " WHERE root = ? AND kind = ? AND key = ? AND month = ?",
                    (self.root, kind.value, text(key), month),
                ).fetchone()
                if row is not None:
                    found[(kind, key), month] = _items(row[0])
        return found


def _group(kind: object, key: str) -> GroupKey:
    try:
        return (FeedKind(kind), key)
    except ValueError:
        raise BadRow(f"no kind {kind!r}") from None


def _is_triple(value: object) -> bool:
    """Whether a stored value is ``[int, str, str]`` (a candidate, an archived article)."""
    return (
        isinstance(value, list)
        and len(value) == 3
        and type(value[0]) is int
        and isinstance(value[1], str)
        and isinstance(value[2], str)
    )


def _items(members: object) -> list[ArchiveItem]:
    items = _list(members)
    if not all(map(_is_triple, items)):
        raise BadRow("archives: not a list of articles")
    return [(i[0], i[1], i[2]) for i in items]


def _group_values(
    names: object, total: object, candidates: object, complete: object
) -> GroupValues:
    pairs = _list(names)
    items = _list(candidates)
    if not (
        type(total) is int
        and complete in (0, 1)
        and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and type(p[1]) is int
            for p in pairs
        )
        and all(map(_is_triple, items))
    ):
        raise BadRow("groups: not a group")
    return (
        tuple((p[0], p[1]) for p in pairs),
        total,
        tuple((c[0], c[1], c[2]) for c in items),
        bool(complete),
    )


def _record(text: object) -> Record:
    value = _list(text)
    if not (
        len(value) == 4
        and isinstance(value[0], str)
        and type(value[1]) is int
        and (value[2] is None or type(value[2]) is int)
        and isinstance(value[3], list)
    ):
        raise BadRow("groups: not a record")
    try:
        "".join(value[3])  # every one a string (quicker than asking each)
    except TypeError:
        raise BadRow("groups: not a record") from None
    return (value[0], value[1], value[2], tuple(value[3]))


def previous(
    db: sqlite3.Connection,
    root: str,
    row: tuple[Any, ...],
    now: datetime,
    rels: Sequence[str],
    stamps: Stamps,
    spans: Mapping[str, list[tuple[int, int]]],
    digests: FolderDigests,
    *,
    guard: Callable[[], AbstractContextManager[None]],
) -> Previous | None:
    """The last choice (``row``, of :func:`state`), or ``None`` when the clock went back, an
    article came due, or so much changed that choosing from every brief is as quick."""
    now_us, until_us, articles, counts, hidden = row[3], row[4], row[5], row[6], row[7]
    if not now_us <= micros(now) < until_us:
        return None
    stored = {
        untext(folder): digest
        for folder, digest in db.execute(
            "SELECT folder, digest FROM folders WHERE root = ?", (root,)
        )
    }
    differ = sorted(f for f in digests.keys() | stored.keys() if digests.get(f) != stored.get(f))
    changed: list[tuple[str, int | None]] = []
    for folder in differ:
        old = {
            untext(rel): _stamp(stamp)
            for rel, *stamp in db.execute(
                "SELECT rel, size, mtime, ctime, inode FROM files WHERE root = ? AND folder = ?",
                (root, text(folder)),
            )
        }
        for start, end in spans.get(folder, ()):
            for index in range(start, end):
                rel, stamp = rels[index], stamps[index]
                if stamp is None or old.pop(rel, None) != stamp:
                    changed.append((rel, index))
                    old.pop(rel, None)
        changed.extend((rel, None) for rel in old)
        if len(changed) > max(100, len(rels) // 10):
            return None
    changed.sort(key=lambda change: (change[1] is None, change[1] or 0, change[0]))
    problems = file_problems(db, root)
    duplicates = problems.pop(DUPLICATES, ())
    records: dict[GroupKey, Record] = {}
    for kind, key, record in db.execute(
        "SELECT kind, key, record FROM groups WHERE root = ?", (root,)
    ):
        try:
            group = (FeedKind(kind), untext(key))
        except ValueError:
            raise BadRow(f"groups: no kind {kind!r}") from None
        records[group] = _record(record)
    shown: dict[str, bytes] = {}
    # Named: without statistics SQLite takes the primary key's range of the root, every
    # file's row (17 ms at 100,000 files), over the index of the few that have one.
    for rel, seen in db.execute(
        "SELECT rel, seen FROM files INDEXED BY files_seen WHERE root = ? AND seen IS NOT NULL",
        (root,),
    ):
        if not (isinstance(seen, bytes) and len(seen) == STAMP_BYTES):
            raise BadRow("files: not a stamp")
        shown[untext(rel)] = seen
    hidden_ids = _list(hidden)
    if not all(isinstance(i, str) for i in hidden_ids):
        raise BadRow("choice: hidden is not a list of ids")
    return Previous(
        db=db,
        root=root,
        guard=guard,
        changed=tuple(changed),
        records=records,
        duplicates=duplicates,
        problems=problems,
        shown=shown,
        hidden=frozenset(hidden_ids),
        until=from_micros(until_us) if until_us < NEVER else None,
        articles=articles,
        counts=Counts(*ints_of(counts, len(Counts._fields))),
    )
