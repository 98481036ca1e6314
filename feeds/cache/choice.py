"""The choice tier: what each content file gave (its stamp, brief and problems), and the
feeds the last run chose from them (a row per group), so that a run that changed a few
files reads those few rows and updates the choice.

Tables ``choice`` (a row per content folder: the settings and moment of the choice, its
counts and hidden articles), ``files`` (a row per file, by folder and by article id),
``problems`` (a row per problem) and ``groups`` (a row per topic, provider and the site:
the state a later run updates, and the feed chosen). The published articles of a group
dated in a range are one indexed query away: ``files`` holds each brief's date and
topics, ``groups`` each group's newest candidates. With ``archives: monthly``,
``archives`` holds the archive layout (a row per group and month) and ``archive_head``
the output folder that holds every document of it as written, under which settings and
manifest: a run updates the rows its changes touch (see :func:`feeds.archive_update.updated`).

This module holds what a run records and saves it (:func:`save`); reading it back is
:mod:`feeds.cache.choice_read`.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from feeds.cache.db import (
    DUPLICATES,
    FILE_INDEX_NAMES,
    FILE_INDEXES,
    NEVER,
    canonical,
    problem_row,
    text,
    text_of,
    to_json,
)
from feeds.errors import Problem
from feeds.model import (
    DIGEST_SIZE,
    Brief,
    Counts,
    FeedKind,
    Stamp,
    Stamps,
    micros,
)

GroupKey = tuple[FeedKind, str]
"""A feed's group: its kind and key (``""`` for the site feed)."""
Record = tuple[str, int, int | None, tuple[str, ...]]
"""A chosen feed: its name, its total, its newest article's date (micros), and the
source files of its articles, newest first."""
GroupValues = tuple[tuple[tuple[str, int], ...], int, tuple[tuple[int, str, str], ...], bool]
"""A group's state as stored: its names with their counts, its total, its candidates
(date, id, source file) newest first, and whether those are all its articles."""
FolderDigests = dict[str, bytes]
_NO_DIGEST = bytes(DIGEST_SIZE)


def folder_of(rel: str) -> str:
    """The folder part of a relative path, as a scan's runs name it."""
    return rel[: rel.rfind("/") + 1]


def folder_digest(parts: list[tuple[tuple[str, ...], bytes]]) -> bytes:
    """A digest of one content folder's (relative paths, packed stamps) runs of sources."""
    return hashlib.sha256(canonical(parts)).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class FullFiles:
    """What every source gave a full choice, by source number."""

    briefs: Sequence[Brief | None]
    problems: Mapping[int, tuple[Problem, ...]]
    digests: bytes
    """A digest of the bytes of each file (all of them, :data:`DIGEST_SIZE` bytes each,
    by source number; zeros where none was taken): one string, where a mapping of 100,000
    digests held 15 MB more at the peak of a cold build."""
    shown: Mapping[int, bytes]
    """The packed stamp the feeds are fingerprinted with, where it is not the file's
    stamp now (a touched file keeps the stamp its bytes were first seen with)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileChange:
    """What one changed file gives now."""

    rel: str
    index: int | None
    """Its source number (``None``: gone)."""
    brief: Brief | None
    problems: tuple[Problem, ...]
    digest: bytes | None = None
    """A digest of its bytes (``None``: not taken)."""
    shown: bytes | None = None
    """The packed stamp its feeds are fingerprinted with, if not its stamp now."""


ArchiveItem = tuple[int, str, str]
"""An archived article: its date (micros), id and source file."""
GroupMonth = tuple[GroupKey, str]


class ArchiveHead(NamedTuple):
    """The output folder that holds every archive document of a stored layout as a run
    wrote them: only then does a run plan just the documents its changes touch."""

    output: str
    """Its resolved path."""
    settings: str
    """What its files were rendered under (:meth:`~feeds.cache.Look.output_settings`)."""
    manifest: str
    """A digest of its manifest's bytes as that run left them."""
    folders: dict[GroupKey, str]
    """Each group's folder."""
    newest: dict[GroupKey, str | None]
    """Each group's newest archive document's folder (its subscription feed's link)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveRecord:
    """The archive layout a run leaves (``archives: monthly``): every group's archived
    articles by month (``full``), or the (group, month) rows that changed."""

    full: bool
    rows: Mapping[GroupMonth, tuple[int, Sequence[ArchiveItem]] | None]
    """Each (group, month)'s number of pages and archived articles, newest first
    (``None``: none now)."""
    folders: Mapping[GroupKey, str]
    """Each group's folder in the output."""
    newest: Mapping[GroupKey, str | None]
    """Each group's newest archive document's folder (its subscription feed's link)."""
    head: tuple[str, str, str] | None = None
    """(output root, settings, manifest digest) when this run wrote every archive
    document of the layout there; ``None``: the next run plans them all again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceRecord:
    """What a run chose, to be saved: every file and group (``files`` a :class:`FullFiles`)
    or what changed since the last choice (``files`` the changes, ``groups`` the groups
    looked at)."""

    files: FullFiles | tuple[FileChange, ...]
    groups: Mapping[GroupKey, tuple[GroupValues, Record] | None]
    """Each group's state and chosen feed (``None``: the group is gone)."""
    hidden: frozenset[str]
    until: datetime | None
    duplicates: tuple[Problem, ...]
    articles: int
    counts: Counts


# -- saving ----------------------------------------------------------------------------------


_FILE_MARKS = ", ".join("?" * 16)
"""A row of ``files``: root, rel, folder, the stamp (4), the brief (7), digest, seen."""


class _Encoder:
    def __init__(self) -> None:
        self.topics: dict[tuple[tuple[str, str], ...], str] = {}
        self.providers: dict[tuple[str, str], str] = {}

    def row(
        self,
        root: str,
        rel: str,
        stamp: Stamp | None,
        brief: Brief | None,
        digest: bytes | None,
        seen: bytes | None,
    ) -> tuple[Any, ...]:
        size, mtime, ctime, inode = stamp if stamp is not None else (None, None, None, None)
        if brief is None:
            return (
                root, text(rel), text(folder_of(rel)), size, mtime, ctime, inode, *(None,) * 7,
                digest, seen,
            )  # fmt: skip
        topics = self.topics.get(brief.topics)
        if topics is None:
            topics = self.topics[brief.topics] = to_json(brief.topics)
        provider = None
        if brief.provider is not None:
            provider = self.providers.get(brief.provider)
            if provider is None:
                provider = self.providers[brief.provider] = to_json(brief.provider)
        return (
            root, text(rel), text(folder_of(rel)), size, mtime, ctime, inode, text(brief.id),
            None if brief.url == brief.id else text(brief.url), brief.published,
            int(brief.draft), int(brief.removed), topics, provider, digest, seen,
        )  # fmt: skip


def _problem_rows(root: str, rel: str, problems: Iterable[Problem]) -> Iterator[tuple[Any, ...]]:
    return ((root, text(rel), seq, *problem_row(p)) for seq, p in enumerate(problems))


def save(
    db: sqlite3.Connection,
    root: str,
    record: ChoiceRecord,
    *,
    head: tuple[str, str, str, int],
    rels: Sequence[str],
    stamps: Sequence[Stamp | None],
    scanned: Stamps,
    digests: FolderDigests,
    archives: ArchiveRecord | None = None,
) -> None:
    """Store ``record`` (and ``archives``, the archive layout: ``None`` when off);
    ``head``: the folder as given, the reading and choosing settings, and the moment of
    the choice; ``stamps``: as stored (a file to read again: ``None``),
    ``scanned`` as found;
    ``digests``: every folder's digest of those stamps."""
    encoder = _Encoder()
    files = record.files

    def seen(index: int, stored: Stamp | None, digest: bytes | None) -> bytes | None:
        """What to store as ``seen``: the stamp fingerprints used, when not ``stored``."""
        shown = shown_of(index)
        if shown is None and stored is None and digest is not None:
            shown = scanned.select((index,))  # changed just now: read again next time
        if shown is None or (stored is not None and shown == Stamps.pack([stored])):
            return None
        return shown

    if isinstance(files, FullFiles):
        taken = memoryview(files.digests)

        def digest(index: int) -> bytes | None:
            value = bytes(taken[DIGEST_SIZE * index : DIGEST_SIZE * (index + 1)])
            return None if value == _NO_DIGEST else value

        shown_of = files.shown.get
        for index in FILE_INDEX_NAMES:  # made again below, at once (see FILE_INDEXES)
            db.execute(f"DROP INDEX IF EXISTS {index}")
        for table in ("files", "problems", "groups", "folders"):
            db.execute(f"DELETE FROM {table} WHERE root = ?", (root,))
        db.executemany(
            f"INSERT INTO files VALUES ({_FILE_MARKS})",
            (
                encoder.row(
                    root, rel, stamp, brief, digest(index), seen(index, stamp, digest(index))
                )
                for index, (rel, stamp, brief) in enumerate(
                    zip(rels, stamps, files.briefs, strict=True)
                )
            ),
        )
        db.executemany(
            "INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row
                for index, problems in sorted(files.problems.items())
                for row in _problem_rows(root, rels[index], problems)
            ),
        )
        db.executemany(
            "INSERT INTO folders VALUES (?, ?, ?)", ((root, text(f), d) for f, d in digests.items())
        )
        for statement in FILE_INDEXES.split(";"):
            if statement.strip():
                db.execute(statement)
    else:
        shown = {c.index: c.shown for c in files if c.index is not None and c.shown}
        shown_of = shown.get
        for change in files:
            rel = text(change.rel)
            db.execute("DELETE FROM problems WHERE root = ? AND rel = ?", (root, rel))
            if change.index is None:
                db.execute(
                    "DELETE FROM files WHERE root = ? AND folder = ? AND rel = ?",
                    (root, text(folder_of(change.rel)), rel),
                )
                continue
            db.execute(
                f"INSERT OR REPLACE INTO files VALUES ({_FILE_MARKS})",
                encoder.row(
                    root,
                    change.rel,
                    stamps[change.index],
                    change.brief,
                    change.digest,
                    seen(change.index, stamps[change.index], change.digest),
                ),
            )
            db.executemany(
                "INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _problem_rows(root, change.rel, change.problems),
            )
        stored = dict(db.execute("SELECT folder, digest FROM folders WHERE root = ?", (root,)))
        now = {text(f): d for f, d in digests.items()}
        for folder in stored.keys() - now.keys():
            db.execute("DELETE FROM folders WHERE root = ? AND folder = ?", (root, folder))
        db.executemany(
            "INSERT OR REPLACE INTO folders VALUES (?, ?, ?)",
            ((root, f, d) for f, d in now.items() if stored.get(f) != d),
        )
        db.execute("DELETE FROM problems WHERE root = ? AND rel = ?", (root, DUPLICATES))
    db.executemany(
        "INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        _problem_rows(root, DUPLICATES, record.duplicates),
    )
    for (kind, key), values in record.groups.items():
        if values is None:
            db.execute(
                "DELETE FROM groups WHERE root = ? AND kind = ? AND key = ?",
                (root, kind.value, text(key)),
            )
            continue
        (names, total, candidates, complete), chosen = values
        db.execute(
            "INSERT OR REPLACE INTO groups VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (root, kind.value, text(key), to_json(chosen), total, int(complete), to_json(names),
             to_json(candidates)),
        )  # fmt: skip
    _save_archives(db, root, archives)
    given, reading, choosing, now_us = head
    until = micros(record.until) if record.until is not None else NEVER
    db.execute(
        "INSERT OR REPLACE INTO choice VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (root, given, reading, choosing, now_us, until, record.articles,
         text_of(record.counts), to_json(sorted(record.hidden))),
    )  # fmt: skip


def _save_archives(db: sqlite3.Connection, root: str, record: ArchiveRecord | None) -> None:
    db.execute("DELETE FROM archive_head WHERE root = ?", (root,))
    if record is None or record.full:
        db.execute("DELETE FROM archives WHERE root = ?", (root,))
    if record is None:
        return
    for ((kind, key), month), row in record.rows.items():
        if row is None:
            db.execute(
                "DELETE FROM archives WHERE root = ? AND kind = ? AND key = ? AND month = ?",
                (root, kind.value, text(key), month),
            )
        else:
            db.execute(
                "INSERT OR REPLACE INTO archives VALUES (?, ?, ?, ?, ?, ?)",
                (root, kind.value, text(key), month, row[0], to_json(row[1])),
            )
    if record.head is not None:
        output, settings, manifest = record.head
        groups = sorted(
            [kind.value, key, folder, record.newest.get((kind, key))]
            for (kind, key), folder in record.folders.items()
        )
        db.execute(
            "INSERT INTO archive_head VALUES (?, ?, ?, ?, ?)",
            (root, text(output), text(settings), text(manifest), to_json(groups)),
        )
