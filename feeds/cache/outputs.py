"""The outputs tier: per output file, a fingerprint of everything its feed was rendered
from and the sha256 of the bytes written, so that a run renders only the feeds whose
inputs changed.

Table ``outputs``. A feed is not rendered again only when its fingerprint is the
recorded one, the recorded sha256 is the write manifest's, and the file on disk is the
one the manifest recorded; the site pages (index, OPML) only when the settings, templates
and every feed's name, place, count and date are the recorded ones.

Table ``items``: per feed document written (by its folder), where each of its members'
items is in each of its files, so that a run rendering it again takes the items of the
members that did not change from the file instead of reading and rendering them again
(see :data:`Items`).

Table ``written`` (with archives on): per subscription feed, how many items its documents
hold (``max_feed_bytes`` may have left out its oldest), which the archives of a feed not
rendered again are laid out from.

A run that updates the archive layout (:mod:`feeds.archive`) plans only the archive
documents its changes touch: it reads the rows of those, of the feeds and of the other
files outside archives (:func:`plan`'s ``looked``), and saving changes only rows it read.
The other archive documents' rows stay as they are, as do their files.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from feeds.cache.db import BadRow, canonical, rows_in, text, untext
from feeds.model import Feed, ManifestEntry, Stamps


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """Which feed files to render, and what each was rendered from."""

    fingerprints: Mapping[str, str]
    """By output path: the fingerprint of its feed's inputs."""
    keep: frozenset[str] = frozenset()
    """Output paths known to be current: not rendered, left in place."""
    kept_feeds: int = 0
    pages: str = ""
    """The fingerprint of the site pages' inputs (the settings, templates and every feed's
    name, place, count and date; ``""``: a template changed just now)."""
    pages_kept: bool = False
    """The site pages are current (their paths are in ``keep``): not rendered."""
    recorded: Mapping[str, str] | None = None
    """The rows the plan was made against, by path (``"fingerprint sha256"``), so that
    saving changes only the rows that differ (``None``: not read, all are rewritten)."""

    def with_pages(self, paths: Collection[str]) -> FeedPlan:
        """This plan, with ``paths`` (the site pages, rendered this run) recorded as made
        from :attr:`pages`."""
        fingerprints = {**self.fingerprints, **dict.fromkeys(paths, self.pages)}
        return FeedPlan(
            fingerprints, self.keep, self.kept_feeds, self.pages, self.pages_kept, self.recorded
        )


@dataclass(frozen=True, slots=True)
class Output:
    """An output folder as this run found it, before writing."""

    root: str
    """Its resolved path."""
    manifest: Mapping[str, ManifestEntry]
    """What the write manifest records of its files."""
    intact: Callable[[str, ManifestEntry], bool]
    """Whether a file is still the one the manifest recorded."""
    digest: str = ""
    """A digest of the manifest file's bytes (the same entries give the same bytes)."""
    whole: Callable[[], bool] = lambda: False
    """Whether the output is as the manifest records it, as far as a run that changes
    nothing checks (see :meth:`feeds.manifest.Manifest.intact`)."""


def fingerprint(
    feed: Feed,
    settings: str,
    rels: Sequence[str],
    stamps: Stamps,
    unstable: frozenset[int],
    shown: Mapping[int, bytes],
) -> str | None:
    """Everything a feed file is rendered from, or ``None`` when an input is not stable
    (changed too recently to trust its stamp, and no digest of its bytes taken). Each
    article file counts by its stamp, or by the one in ``shown``: a file touched but not
    changed keeps the stamp its bytes were first seen with, and the fingerprint with it."""
    members = feed.members
    # Not the group's total: no feed file shows it (the index page does, from
    # pages_fingerprint), so an article added to a group's past renders none.
    identity: tuple[Any, ...] = (settings, feed.kind.value, feed.key, feed.name, feed.slug)
    if feed.history is not None:  # archives on: its place in the history (feeds.archive)
        identity = (*identity, _history(feed))
    if members:
        if unstable and not unstable.isdisjoint(members):
            return None
        pick = itemgetter(*members, members[0])  # always a tuple, even for one member
        if shown and not shown.keys().isdisjoint(members):
            select = stamps.select
            contents = b"".join(
                [s if (s := shown.get(m)) is not None else select((m,)) for m in members]
            )
        else:
            contents = stamps.select(members)
        identity = (*identity, pick(rels), contents)
    return hashlib.sha256(canonical(identity)).hexdigest()


def pages_fingerprint(site_feeds: Sequence[Feed], parts: list[Any]) -> str:
    """What the site pages are rendered from: ``parts`` (settings, template and copied
    files' stamps) and every feed's name, place, count, date and link to its newest
    archive."""
    parts = [
        *parts,
        *(
            (f.kind.value, f.key, f.name, f.slug, f.total, str(f.updated), _history(f), _prev(f))
            for f in site_feeds
        ),
    ]
    return hashlib.sha256(canonical(parts)).hexdigest()


def _history(feed: Feed) -> tuple[Any, ...] | None:
    """A feed document's place in its history (archive month, page and links), to
    fingerprint (``None``: archives off). A subscription feed counts by what its link
    for every count of items it may write depends on (which of them it carries depends
    on the sizes of its items, which its files' stamps stand for): the same before it is
    rendered and after, whatever count the layout was made with."""
    h = feed.history
    if h is None:
        return None
    if h.basis:
        return (h.basis,)
    return (h.month, h.page, h.prev, h.next)


def _prev(feed: Feed) -> str | None:
    """The link to the newest archive document a feed carries (``None``: none)."""
    return None if feed.history is None else feed.history.prev


def plan(
    db: sqlite3.Connection,
    output: Output,
    feeds: Sequence[tuple[Feed, tuple[str, ...]]],
    fingerprint_of: Callable[[Feed], str | None],
    pages: str,
    looked: Collection[str] | None = None,
) -> FeedPlan:
    """Fingerprint every feed (with its output paths); keep the files of those whose
    inputs did not change. ``looked``: besides the feeds' paths, the only paths whose rows
    are read (and so the only ones saving may delete; ``None``: every row). The site
    pages' rows are among them."""
    root = text(output.root)
    if looked is None:
        recorded = {
            untext(path): value
            for path, value in db.execute(
                "SELECT path, fingerprint || ' ' || sha256 FROM outputs WHERE root = ?", (root,)
            )
        }
    else:
        recorded = {
            untext(path): value
            for path, value in rows_in(
                db,
                "SELECT path, fingerprint || ' ' || sha256 FROM outputs WHERE root = ? AND path IN",
                root,
                [*looked, *(path for _, paths in feeds for path in paths)],
            )
        }
    manifest, intact = output.manifest, output.intact

    def current(path: str, value: str) -> bool:
        entry = manifest.get(path)
        return (
            entry is not None
            and recorded.get(path) == f"{value} {entry.sha256}"
            and intact(path, entry)
        )

    fingerprints: dict[str, str] = {}
    keep: set[str] = set()
    kept_feeds = 0
    for feed, paths in feeds:
        value = fingerprint_of(feed)
        if value is None:
            continue
        fingerprints.update(dict.fromkeys(paths, value))
        if all(current(path, value) for path in paths):
            keep.update(paths)
            kept_feeds += 1
    kept_pages = [
        path
        for path, value in recorded.items()
        if pages and value.partition(" ")[0] == pages and path not in fingerprints
    ]
    pages_kept = bool(kept_pages) and all(current(path, pages) for path in kept_pages)
    if pages_kept:
        keep.update(kept_pages)
        fingerprints.update(dict.fromkeys(kept_pages, pages))
    return FeedPlan(
        fingerprints=fingerprints,
        keep=frozenset(keep),
        kept_feeds=kept_feeds,
        pages=pages,
        pages_kept=pages_kept,
        recorded=recorded,
    )


def save(db: sqlite3.Connection, root: str, plan: FeedPlan, digests: Mapping[str, str]) -> None:
    """Record what each file written (``digests``: the sha256 of each) was made from:
    the rows that differ from those the plan was made against (a one-edit run changes a
    few of 100,000), or all of them when the plan read none."""
    root_text = text(root)
    rows = {
        path: (value, digests[path]) for path, value in plan.fingerprints.items() if path in digests
    }
    recorded = plan.recorded
    if recorded is None:
        db.execute("DELETE FROM outputs WHERE root = ?", (root_text,))
        changed = rows
    else:
        db.executemany(
            "DELETE FROM outputs WHERE root = ? AND path = ?",
            [(root_text, text(path)) for path in recorded.keys() - rows.keys()],
        )
        changed = {
            path: row for path, row in rows.items() if recorded.get(path) != f"{row[0]} {row[1]}"
        }
    db.executemany(
        "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?)",
        [(root_text, text(path), value, sha) for path, (value, sha) in changed.items()],
    )


def written_counts(db: sqlite3.Connection, root: str) -> dict[str, int]:
    """By subscription feed folder (``""``: the site feed), how many items its documents
    in the output folder ``root`` hold, as the run that rendered them recorded (with
    archives on: the archives are laid out from it)."""
    return {
        untext(folder): count
        for folder, count in db.execute(
            "SELECT folder, written FROM written WHERE root = ?", (text(root),)
        )
    }


def save_counts(db: sqlite3.Connection, root: str, counts: Mapping[str, int]) -> None:
    """Record ``counts`` (see :func:`written_counts`) as the output folder's: the rows
    that differ."""
    root_text = text(root)
    before = written_counts(db, root)
    db.executemany(
        "DELETE FROM written WHERE root = ? AND folder = ?",
        [(root_text, text(folder)) for folder in before.keys() - counts.keys()],
    )
    db.executemany(
        "INSERT OR REPLACE INTO written VALUES (?, ?, ?)",
        [
            (root_text, text(folder), count)
            for folder, count in counts.items()
            if before.get(folder) != count
        ],
    )


Items = tuple[bytes, tuple[tuple[str, bytes, bytes], ...], tuple[str, ...]]
"""What a run records of a feed document it wrote (table ``items``): a key per member
(:data:`KEY_SIZE` bytes each, see :func:`feeds.reuse.item_keys`); for each of its
files the name (in the document's folder), the sha256 of the bytes written (32 bytes) and
where each member's item is in them (see :attr:`feeds.render.FeedFiles.spans`); and each
member's provider logo (an empty tuple: none has one)."""

KEY_SIZE = 16
"""Bytes of an item's key: a digest of what the item is rendered from."""


def items_of(db: sqlite3.Connection, root: str, folders: Collection[str]) -> dict[str, Items]:
    """What the runs that wrote the feed documents in ``folders`` of the output folder
    ``root`` recorded of their items (see :data:`Items`)."""
    query = "SELECT folder, record FROM items WHERE root = ? AND folder IN"
    return {
        untext(folder): _items(record) for folder, record in rows_in(db, query, text(root), folders)
    }


def _items(record: object) -> Items:
    """The :data:`Items` of a stored record, checked."""
    try:
        loaded = marshal.loads(record) if isinstance(record, bytes) else None
        keys, files, logos = loaded  # type: ignore[misc]
    except (TypeError, ValueError, EOFError):
        raise BadRow("not an items record") from None
    if not (
        isinstance(keys, bytes)
        and len(keys) % KEY_SIZE == 0
        and isinstance(files, tuple)
        and all(
            isinstance(f, tuple)
            and len(f) == 3
            and isinstance(f[0], str)
            and isinstance(f[1], bytes)
            and isinstance(f[2], bytes)
            for f in files
        )
        and isinstance(logos, tuple)
        and len(logos) in (0, len(keys) // KEY_SIZE)
        and all(isinstance(logo, str) for logo in logos)
    ):
        raise BadRow("not an items record")
    return keys, files, logos


def save_items(
    db: sqlite3.Connection, root: str, records: Mapping[str, Items], gone: Collection[str]
) -> None:
    """Record ``records`` (by feed document folder) for the output folder ``root``, and
    forget the documents in ``gone``."""
    root_text = text(root)
    db.executemany(
        "DELETE FROM items WHERE root = ? AND folder = ?",
        [(root_text, text(folder)) for folder in gone],
    )
    db.executemany(
        "INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
        [(root_text, text(folder), marshal.dumps(record)) for folder, record in records.items()],
    )
