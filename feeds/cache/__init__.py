"""The incremental cache: re-read only the files that changed, re-render only the feeds that did.

A SQLite database, ``cache.sqlite3``, in the cache folder (default ``.feeds-cache/`` in the
working directory; ``--cache DIR`` moves it, ``--no-cache`` turns it off). Deleting the
folder is always safe: the next run is a cold build that fills it again. It sits at the
edge of the pipeline: it imports no stage, and the build hands it plain values. What it
remembers comes in three tiers, a module each:

* the run (:mod:`feeds.cache.runs`): when nothing changed since the last writing run, a
  run is answered from its record without loading any article;
* the choice (:mod:`feeds.cache.choice`, read back by :mod:`feeds.cache.choice_read`):
  each file's stamp, brief and problems, and the feeds chosen, a row per file and per
  group, so that a run that changed a few files reads those files and updates the last
  choice; with ``archives: monthly``, the archive layout too, a row per group and month,
  updated the same way;
* the outputs (:mod:`feeds.cache.outputs`): what each output file was rendered from, so
  that only the feeds whose inputs changed are rendered (and, with archives on, how many
  items each feed wrote: :meth:`Look.written_counts`).

One run uses it in one order, which its values enforce: :meth:`Cache.open` gives a
:class:`Cache`, :meth:`Cache.look` at a content folder gives a :class:`Look`, whose
lookups (:meth:`Look.last_run`, :meth:`Look.known`, :meth:`Look.previous` and its
:class:`~feeds.cache.choice_read.Previous`, :meth:`Look.plan_outputs`,
:meth:`Look.written_counts`) change nothing, and
:meth:`Look.save` writes one :class:`RunRecord` in one transaction, after the output is in
place.

A cache must never make a wrong feed, so it is trusted only this far:

* the whole database belongs to one version (feeds, this schema, Python and the libraries
  that read and render); any other version discards it;
* a file's brief is used only when its stamp, the way problems name it and the
  configuration values that affect reading all match; the last choice is updated only
  when the settings that choose are the same, no article came due and the clock did not
  go back;
* files changed less than :data:`RACY_SECONDS` before the run are not trusted next time:
  an edit in the same clock tick as our read would leave the stamp unchanged;
* anything unexpected (a corrupt database, rows that do not hold what their table says, a
  locked or unwritable file) discards the cache or skips it for this run, with a note;
  never a failure. Rows hold numbers and text (lists as JSON): reading them runs no code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from feeds.cache import choice, choice_read, outputs, runs
from feeds.cache.choice import (
    ArchiveItem,
    ArchiveRecord,
    ChoiceRecord,
    FileChange,
    FolderDigests,
    FullFiles,
    GroupKey,
    GroupValues,
    Record,
    folder_digest,
)
from feeds.cache.choice_read import Known, Previous
from feeds.cache.db import (
    DB_FILE,
    BadRow,
    Damaged,
    canonical,
    connect,
    connect_read_only,
    sha256,
    transaction,
    version,
)
from feeds.cache.outputs import FeedPlan, Items, Output
from feeds.cache.runs import LastRun, RunFacts
from feeds.model import Feed, Stamp, Stamps, micros

__all__ = [
    "DB_FILE",
    "DEFAULT_DIR",
    "RACY_SECONDS",
    "ArchiveItem",
    "ArchiveRecord",
    "Cache",
    "ChoiceRecord",
    "Damaged",
    "FeedPlan",
    "FileChange",
    "FullFiles",
    "GroupKey",
    "GroupValues",
    "Known",
    "LastRun",
    "Look",
    "Output",
    "Previous",
    "Record",
    "RunFacts",
    "RunRecord",
    "Settings",
    "Written",
]

DEFAULT_DIR = Path(".feeds-cache")
RACY_SECONDS = 3
"""Files modified this recently when a run starts are read but not trusted next time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What of the configuration the cache must tell apart, as the build words it."""

    everything: str
    """All of it: a recorded run or output stands only under the same."""
    reading: str
    """What changes what reading a file gives."""
    choosing: str
    """What changes which articles a feed holds."""
    templates: tuple[str, ...] = ()
    """The template files, which the pages are rendered from."""
    copied: tuple[str, ...] = ()
    """Local files copied beside the pages (icon, favicon)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """An output folder as a run left it."""

    root: str
    """Its resolved path."""
    plan: FeedPlan
    digests: Mapping[str, str]
    """The sha256 of each file it holds for us."""
    manifest_sha256: str
    """A digest of the manifest file's bytes after the run."""
    facts: RunFacts
    counts: Mapping[str, int] | None = None
    """With archives on: by subscription feed folder, how many items its documents hold
    (see :func:`~feeds.cache.outputs.written_counts`)."""
    items: Mapping[str, Items] = field(default_factory=dict)
    """By folder, what the feed documents rendered this run hold (see
    :data:`~feeds.cache.outputs.Items`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """Everything one run saves: its choice and (when it wrote) its output."""

    now: datetime
    choice: ChoiceRecord
    written: Written | None = None
    archives: ArchiveRecord | None = None
    """The archive layout (``archives: monthly``; ``None``: off)."""


def _stat(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(slots=True)
class Cache:
    """An open cache, or a disabled one (``db is None``) that caches nothing."""

    db: sqlite3.Connection | None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    """What went wrong with the cache this run (each one made the run colder, never wrong)."""
    read_only: bool = False
    """Read what is there, write nothing (see :meth:`open`)."""
    started_ns: int = field(default_factory=time.time_ns)

    @property
    def trusted_before(self) -> int:
        """Files changed at or after this time (ns) are not trusted next run (see
        :data:`RACY_SECONDS`): the scan finds them (:attr:`feeds.sources.Scan.recent`)."""
        return self.started_ns - RACY_SECONDS * 1_000_000_000

    @classmethod
    def open(cls, folder: Path | None, *, read_only: bool = False) -> Cache:
        """Open (creating if needed) the cache in ``folder``; ``None`` disables caching.

        ``read_only`` (``feeds check``) uses the cache only if it is there, and never
        creates, changes or discards anything in it.
        """
        if folder is None:
            return cls(None)
        path = folder / DB_FILE
        cache = cls(None, path, read_only=read_only)
        if read_only:
            with contextlib.suppress(OSError, sqlite3.Error):  # none (yet), or another version
                cache.db = connect_read_only(path)
            return cache
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            cache.db = connect(path)
        except (OSError, sqlite3.Error) as e:
            cache.discard(f"cannot open ({e})")
        return cache

    def discard(self, why: str) -> None:
        """Throw the whole database away and start an empty one (or none)."""
        if self.path is None:
            return
        if self.read_only:  # not ours to throw away: go on without it
            self.notes.append(f"{self.path}: {why}: not used")
            self.close()
            return
        self.notes.append(f"{self.path}: {why}: discarded, this run rebuilds from scratch")
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")
        try:
            self.db = connect(self.path)
        except (OSError, sqlite3.Error) as e:
            self.notes.append(f"{self.path}: cannot create ({e}): not used")
            self.db = None

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
            self.db = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def look(
        self,
        content: Path,
        settings: Settings,
        *,
        rels: tuple[str, ...],
        stamps: Stamps,
        runs: tuple[tuple[str, int, int], ...],
        recent: frozenset[int],
        notes: tuple[str, ...] = (),
    ) -> Look:
        """What the cache knows of ``content``, found with these ``rels``, ``stamps`` and
        ``runs`` of sources by folder, ``recent`` the sources gone or changed since
        :attr:`trusted_before` (``notes``: what finding them reported)."""
        look = Look(
            self, str(content.resolve()), str(content), settings, rels, stamps, runs, recent, notes
        )
        try:
            look.root.encode("utf-8")
            look.given.encode("utf-8")
        except UnicodeEncodeError:
            self.notes.append(f"{self.path}: the content folder's name is not UTF-8: not used")
            self.close()
        return look


class Look:
    """The cache's view of one content folder in one run: lookups, then one :meth:`save`."""

    def __init__(
        self,
        cache: Cache,
        root: str,
        given: str,
        settings: Settings,
        rels: tuple[str, ...],
        stamps: Stamps,
        runs: tuple[tuple[str, int, int], ...],
        recent: frozenset[int],
        notes: tuple[str, ...],
    ) -> None:
        self.cache = cache
        self.root = root
        self.given = given
        self.settings = settings
        self.rels = rels
        self.stamps = stamps
        self.notes = notes
        self.trusted_before = cache.trusted_before
        """Files changed at or after this time (ns) are not trusted next run."""
        self.spans: dict[str, list[tuple[int, int]]] = {}
        for folder, start, end in runs:
            self.spans.setdefault(folder, []).append((start, end))
        self.recent = recent
        """The source numbers of the files changed too recently to trust their stamps
        next time (or gone)."""
        self.fresh = bool(recent)
        """Whether any file is missing or too recent to be trusted next time."""
        self._digests: FolderDigests | None = None
        self._inputs: str | None = None

    # -- what is trusted ----------------------------------------------------------------

    def _racy(self, stamp: Stamp | None) -> bool:
        racy = self.trusted_before
        return stamp is None or stamp[1] >= racy or stamp[2] >= racy

    def digests(self) -> FolderDigests:
        """A digest of each folder's (relative path, stamp) pairs."""
        if self._digests is None:
            rels, stamps = self.rels, self.stamps
            self._digests = {
                folder: folder_digest([(rels[a:b], stamps.packed(a, b)) for a, b in parts])
                for folder, parts in self.spans.items()
            }
        return self._digests

    def _stored_stamps(self) -> Sequence[Stamp | None]:
        """The stamps as stored: a racy file's as ``None``, to be read again next run."""
        if not self.fresh:
            return self.stamps
        return _AsStored(self.stamps, self._racy)

    def _stored_digests(self) -> FolderDigests:
        """The folder digests of the stamps as stored: a racy file's folder then differs
        next run, and the file is read again."""
        digests = self.digests()
        if not self.fresh:
            return digests
        rels, stamps = self.rels, self.stamps
        stored = dict(digests)
        racy = sorted(self.recent)
        for folder, parts in self.spans.items():
            if any(bisect_left(racy, a) < bisect_left(racy, b) for a, b in parts):
                stored[folder] = folder_digest(
                    [
                        (rels[a:b], Stamps.pack(None if self._racy(s) else s for s in stamps[a:b]))
                        for a, b in parts
                    ]
                )
        return stored

    def _files_part(self, paths: Sequence[str], *, racy_empty: bool) -> str | None:
        """The stamps of ``paths``: ``None`` (with ``racy_empty``) when one changed just
        now, else each marked racy or not (so that the next run sees a change)."""
        parts: list[Any] = []
        for path in paths:
            stamp = _stat(path)
            racy = self._racy(stamp)
            if racy and racy_empty:
                return None
            parts.append((path, stamp, racy))
        return hashlib.sha256(canonical(parts)).hexdigest()

    def inputs(self) -> str | None:
        """A digest of every input of this run, or ``None`` when it cannot be trusted."""
        if self.fresh:
            return None
        if self._inputs is None:
            templates = self._files_part(self.settings.templates, racy_empty=True)
            if templates is None:
                return None
            self._inputs = sha256(
                version(),
                self.settings.everything,
                self.settings.choosing,
                self.given,
                self.root,
                canonical(sorted(self.digests().items())),
                *self.notes,
                templates,
            )
        return self._inputs

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except Exception as e:  # sqlite3 and bad rows
            self.cache.discard(f"unreadable ({type(e).__name__}: {e})")
            raise Damaged(self.cache.notes) from None

    # -- lookups ------------------------------------------------------------------------

    def last_run(self, output: Output, now: datetime) -> LastRun | None:
        """The previous run's result when nothing it depended on changed, else ``None``:
        its inputs the same and none of them racy, no article come due since, and the
        output as its manifest records it (:attr:`~feeds.cache.outputs.Output.whole`)."""
        db, inputs = self.cache.db, self.inputs()
        if db is None or inputs is None:
            return None
        try:
            found = runs.find(db, self.root, output.root, inputs, output.digest, now)
        except Exception as e:  # sqlite3 and bad rows
            self.cache.discard(f"unreadable ({type(e).__name__}: {e})")
            return None
        if found is None or not output.whole():
            return None
        return found

    def known(self) -> dict[int, Known]:
        """By source number: what the cache holds for the files that did not change."""
        db = self.cache.db
        if db is None:
            return {}
        try:
            if choice_read.state(db, self.root, self.given, self.settings.reading) is None:
                return {}
            return choice_read.known(db, self.root, self.rels, self.stamps)
        except Exception as e:  # sqlite3 and bad rows
            self.cache.discard(f"unreadable ({type(e).__name__}: {e})")
            return {}

    def previous(self, now: datetime) -> Previous | None:
        """The last run's choice, when this run can update it from the files that changed."""
        db = self.cache.db
        if db is None:
            return None
        try:
            row = choice_read.state(db, self.root, self.given, self.settings.reading)
            if row is None or row[2] != self.settings.choosing:
                return None
            return choice_read.previous(
                db,
                self.root,
                row,
                now,
                self.rels,
                self.stamps,
                self.spans,
                self.digests(),
                guard=self._reading,
            )
        except Exception as e:  # sqlite3 and bad rows
            self.cache.discard(f"unreadable ({type(e).__name__}: {e})")
            return None

    @property
    def keeping(self) -> bool:
        """Whether this run's record will be kept (a cache is open, and writable): what is
        only worth working out to be saved can be skipped otherwise."""
        return self.cache.db is not None and not self.cache.read_only

    def output_settings(self, extra: str = "") -> str:
        """What every output file is rendered from besides its feed: the settings, the
        version, ``extra`` and the templates' stamps."""
        templates = self._files_part(self.settings.templates, racy_empty=False)
        return sha256(self.settings.everything, version(), extra, templates or "")

    def plan_outputs(
        self,
        output: Output,
        feeds: Sequence[tuple[Feed, tuple[str, ...]]],
        extra: str = "",
        *,
        shown: Mapping[int, bytes] | None = None,
        digested: Collection[int] = (),
        looked: Collection[str] | None = None,
    ) -> FeedPlan:
        """Fingerprint every feed (with its output paths); keep the files of feeds whose
        inputs did not change. ``extra`` is any further input of every feed; ``shown``,
        by source number, the packed stamp to fingerprint a file with where it is not its
        stamp now (see :attr:`~feeds.cache.choice.FullFiles.shown`); ``digested``, the
        files whose digest was taken at their stamp this run (stable, even if changed
        just now); ``looked``: the only paths besides the feeds' whose recorded rows are
        read (``None``: every row; see :func:`~feeds.cache.outputs.plan`)."""
        db = self.cache.db
        if db is None:
            return FeedPlan(fingerprints={})
        settings = self.output_settings(extra)
        unstable = self.recent.difference(digested)
        substitutes = shown or {}
        pages_part = self._files_part(
            (*self.settings.templates, *self.settings.copied), racy_empty=True
        )
        pages = (
            ""
            if pages_part is None
            else outputs.pages_fingerprint(
                [f for f, _ in feeds if not f.is_archive], [settings, pages_part]
            )
        )
        rels, stamps = self.rels, self.stamps

        def fingerprint_of(feed: Feed) -> str | None:
            return outputs.fingerprint(feed, settings, rels, stamps, unstable, substitutes)

        try:
            return outputs.plan(db, output, feeds, fingerprint_of, pages, looked)
        except sqlite3.Error as e:
            self.cache.discard(f"unreadable ({e})")
            return FeedPlan(fingerprints={})

    def old_items(self, output: Output, folders: Collection[str]) -> dict[str, Items]:
        """What the last runs recorded of the feed documents in ``folders`` (see
        :data:`~feeds.cache.outputs.Items`; empty: nothing known)."""
        db = self.cache.db
        if db is None:
            return {}
        try:
            return outputs.items_of(db, output.root, folders)
        except (sqlite3.Error, BadRow) as e:
            self.cache.discard(f"unreadable ({e})")
            return {}

    def written_counts(self, output: Output) -> dict[str, int]:
        """By subscription feed folder, how many items the documents the last run left in
        ``output`` hold (see :func:`~feeds.cache.outputs.written_counts`; empty: unknown)."""
        db = self.cache.db
        if db is None:
            return {}
        try:
            return outputs.written_counts(db, output.root)
        except (sqlite3.Error, BadRow) as e:
            self.cache.discard(f"unreadable ({e})")
            return {}

    # -- saving -------------------------------------------------------------------------

    def save(self, record: RunRecord) -> None:
        """Store this run's choice and (when the output was written) what it wrote."""
        db = self.cache.db
        if db is None or self.cache.read_only:
            return
        try:
            with transaction(db):
                choice.save(
                    db,
                    self.root,
                    record.choice,
                    head=(self.given, self.settings.reading, self.settings.choosing,
                          micros(record.now)),
                    rels=self.rels,
                    stamps=self._stored_stamps(),
                    scanned=self.stamps,
                    digests=self._stored_digests(),
                    archives=record.archives,
                )  # fmt: skip
                written = record.written
                if written is not None:
                    outputs.save(db, written.root, written.plan, written.digests)
                    digests = written.digests
                    gone = {  # the folders of the files this run removed
                        path.rpartition("/")[0]
                        for path in written.plan.recorded or ()
                        if path not in digests
                    }
                    outputs.save_items(
                        db, written.root, written.items, gone.difference(written.items)
                    )
                    if written.counts is not None:
                        outputs.save_counts(db, written.root, written.counts)
                    runs.save(
                        db,
                        self.root,
                        written.root,
                        inputs=self.inputs(),
                        manifest=written.manifest_sha256,
                        now=record.now,
                        facts=written.facts,
                    )
        except sqlite3.OperationalError as e:
            self.cache.notes.append(
                f"{self.cache.path}: not updated ({e}); the next run reads more"
            )
        except sqlite3.Error as e:
            self.cache.discard(f"cannot be written ({e})")


class _AsStored(Sequence[Stamp | None]):
    """Stamps as stored: a racy one as ``None``. Each is looked at when asked for: a run
    that updates the last choice stores a few of 100,000 (a list of all of them took
    35 ms)."""

    def __init__(self, stamps: Stamps, racy: Callable[[Stamp | None], bool]) -> None:
        self.stamps = stamps
        self.racy = racy

    def __len__(self) -> int:
        return len(self.stamps)

    @overload
    def __getitem__(self, index: int) -> Stamp | None: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Stamp | None]: ...
    def __getitem__(self, index: int | slice) -> Stamp | Sequence[Stamp | None] | None:
        if isinstance(index, slice):
            return [None if self.racy(s) else s for s in self.stamps[index]]
        stamp = self.stamps[index]
        return None if self.racy(stamp) else stamp

    def __iter__(self) -> Iterator[Stamp | None]:
        racy = self.racy
        return (None if racy(s) else s for s in self.stamps)
