"""The incremental cache: re-read only the files that changed, re-render only the feeds that did.

A SQLite database, ``cache.sqlite3``, in the cache folder (default ``.feeds-cache/`` in the
working directory; ``--cache DIR`` moves it, ``--no-cache`` turns it off). Deleting the
folder is always safe: the next run is a cold build that fills it again. Tables:

``state``
    per content folder, the last run's choice of feeds: the settings it was made with, its
    time and until when time alone would not change it, the problems of every file (so
    that a bad file is reported on every run until it is fixed), the hidden articles, and
    a digest of each content folder's (file, stamp) pairs.
``store``
    dictionaries kept in :data:`BUCKETS` rows each, by a hash of the key, so that a run
    that changed a few files reads and writes a few rows: ``stamps`` (per content file,
    the stat stamp taken before it was read: size, mtime, ctime, inode; rows by folder),
    ``briefs`` (per file, its :class:`~feeds.model.Brief`: what choosing the feeds needs),
    ``ids`` (per article id, its files: duplicates), ``groups`` (per topic, provider and
    the site, a :class:`~feeds.group.GroupState`: the counts and more candidates than
    the feed shows) and ``records`` (per group, its chosen feed). Whole articles are not
    stored: a run reads again only the articles of the feeds it renders, whose stamps it
    checks (and starts over if one changed while it ran).
``outputs``
    per output file: a fingerprint of everything its feed was rendered from (the stamps
    of its articles' files, its name, the settings), and the sha256 of the bytes written.
``runs``
    per content and output folder, the last writing run: a digest of all its inputs
    (every source's stamp, the settings, the templates), until when time alone would not
    change its selection, the manifest it left, and its problems. When nothing changed
    since, a run is answered from this record without loading any article
    (:meth:`Cache.last_run`).

A cache must never make a wrong feed, so it is trusted only this far:

* the whole database belongs to one :data:`VERSION` (feeds, this schema, Python and the
  libraries that read and render); any other version discards it;
* a file's brief is used only when its stamp, the way problems name it and the
  configuration values that affect reading all match; the last choice is updated only
  when the settings that choose are the same, no article came due and the clock did not
  go back, and no change involves a duplicate or an unpublished article (those choose
  again from every brief); every row must match its digest;
* files changed less than :data:`RACY_SECONDS` before the run are not trusted next time:
  an edit in the same clock tick as our read would leave the stamp unchanged;
* the site pages (index, OPML) are not re-rendered only when the settings, templates and
  every feed's name, place, count and date are the recorded ones;
* a feed is not re-rendered only when its fingerprint is the recorded one, the recorded
  sha256 is the write manifest's, and the file on disk is the one the manifest recorded;
* anything unexpected (a corrupt database, rows that do not load, a locked or
  unwritable file) discards the cache or skips it for this run, with a note; never a failure.

The database is written once per run, in one transaction, after the output is in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import pickle
import re
import sqlite3
import sys
import time
import zlib
from array import array
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds import __version__
from feeds.config import Config
from feeds.errors import Problem
from feeds.group import MARGIN, Candidate, GroupKey, GroupState, Record, Selection
from feeds.model import Brief, Counts, Feed, FeedKind, Site, from_micros
from feeds.sources import Scan, Stamp, Stamps, template_files
from feeds.write import ManifestEntry, WriteReport, is_intact, read_manifest

if TYPE_CHECKING:
    from feeds.formats.common import Context

DEFAULT_DIR = Path(".feeds-cache")
DB_FILE = "cache.sqlite3"
SCHEMA = 6
"""Raised whenever what is stored changes shape or meaning, or the same inputs render to
other output (a recorded output is current only under the version it was written by). 6:
duplicates chosen among publishable copies, topic keys treating hyphens and underscores as
spaces, run counts stored, bodies rendered as CommonMark + GFM."""
RACY_SECONDS = 3
"""Files modified this recently when a run starts are read but not trusted next time."""
BUSY_SECONDS = 10.0
"""How long a run waits for another run's cache transaction before skipping its own."""
_LIBRARIES = (
    "feedgen",
    "lxml",
    "PyYAML",
    "python-dateutil",
    "markdown-it-py",
    "linkify-it-py",
    "nh3",
    "Jinja2",
)


def _library_versions() -> dict[str, str]:
    """The installed version of each of :data:`_LIBRARIES`, from the names of the
    ``.dist-info`` folders on ``sys.path`` (``PyYAML-6.0.1.dist-info``): asking
    ``importlib.metadata`` took 23-33 ms a run, most of it importing it. Every such folder
    of a library counts, so that any change among them is seen; a library with none is
    asked of ``importlib.metadata`` after all (an egg, say)."""
    wanted = {_normalized(name): name for name in _LIBRARIES}
    found: dict[str, list[str]] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                name, _, version = folder[: -len(".dist-info")].partition("-")
                library = wanted.get(_normalized(name))
                if library is not None:
                    found.setdefault(library, []).append(version)
    return {
        name: "|".join(found[name]) if name in found else _library_version(name)
        for name in _LIBRARIES
    }


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _library_version(name: str) -> str:
    from importlib import metadata  # 20 ms of imports: only when a cache is opened

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def _version() -> str:
    """Rows written under any other version are never used."""
    return ";".join(
        [
            f"feeds {__version__}",
            f"schema {SCHEMA}",
            f"python {sys.version_info.major}.{sys.version_info.minor}",
            *(f"{name} {version}" for name, version in _library_versions().items()),
        ]
    )


VERSION = ""
"""Set by the first :meth:`Cache.open` (see :func:`_version`)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (
    root TEXT PRIMARY KEY, given TEXT NOT NULL, reading TEXT NOT NULL, choosing TEXT NOT NULL,
    now_us INTEGER NOT NULL, until_us INTEGER NOT NULL, articles INTEGER NOT NULL,
    counts TEXT NOT NULL, problems BLOB NOT NULL, hidden BLOB NOT NULL, digests BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store (
    root TEXT NOT NULL, name TEXT NOT NULL, bucket INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (root, name, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    root TEXT NOT NULL, output TEXT NOT NULL, inputs TEXT NOT NULL, manifest TEXT NOT NULL,
    now_us INTEGER NOT NULL, until_us INTEGER NOT NULL, problems BLOB NOT NULL,
    articles INTEGER NOT NULL, counts TEXT NOT NULL, feeds INTEGER NOT NULL,
    PRIMARY KEY (root, output)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outputs (
    root TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (root, path)
) WITHOUT ROWID;
"""

BUCKETS = 64
"""Per-file records (stamps, briefs, ids) and per-group ones are stored in this many rows
each, by a hash of the key, so that a run that changed a few files reads and writes a few
rows, not the whole corpus."""


def _bucket(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % BUCKETS


def _folder(rel: str) -> str:
    """The folder part of a relative path, as :data:`~feeds.sources.Runs` names it."""
    return rel[: rel.rfind("/") + 1]


class _Store:
    """One dictionary kept in the ``store`` table, in :data:`BUCKETS` rows by key hash."""

    def __init__(self, name: str, by: Callable[[str], str] | None = None) -> None:
        self.name = name
        self.by = by
        """What of a key picks its row (default: all of it)."""
        self.rows: dict[int, dict[Any, Any]] = {}
        self.dirty: set[int] = set()

    def bucket(self, key: Any) -> int:
        text = key if isinstance(key, str) else repr(key)
        return _bucket(self.by(text) if self.by is not None else text)

    def load(self, db: sqlite3.Connection, root: str, buckets: Collection[int] | None) -> None:
        """Load the rows of ``buckets`` (``None``: all) that are not loaded yet."""
        wanted = sorted(set(range(BUCKETS) if buckets is None else buckets) - set(self.rows))
        if not wanted:
            return
        if len(wanted) == BUCKETS:
            found = db.execute(
                "SELECT bucket, data FROM store WHERE root = ? AND name = ?", (root, self.name)
            )
        else:
            marks = ",".join("?" * len(wanted))
            found = db.execute(
                f"SELECT bucket, data FROM store WHERE root = ? AND name = ?"
                f" AND bucket IN ({marks})",
                (root, self.name, *wanted),
            )
        for bucket, data in found:
            rows = _unseal(data)
            if not isinstance(rows, dict):
                raise TypeError(f"{self.name}: not a mapping")
            self.rows[bucket] = rows
        for bucket in wanted:
            self.rows.setdefault(bucket, {})

    def get(self, key: Any) -> Any:
        return self.rows[self.bucket(key)].get(key)

    def items(self) -> Iterator[tuple[Any, Any]]:
        for rows in self.rows.values():
            yield from rows.items()

    def set(self, key: Any, value: Any) -> None:
        bucket = self.bucket(key)
        self.rows[bucket][key] = value  # a row is loaded before it is changed
        self.dirty.add(bucket)

    def pop(self, key: Any) -> None:
        bucket = self.bucket(key)
        if key in self.rows[bucket]:
            del self.rows[bucket][key]
            self.dirty.add(bucket)

    def fresh(self) -> None:
        """Start empty: :meth:`save` with ``full`` then replaces every row."""
        self.rows = {bucket: {} for bucket in range(BUCKETS)}
        self.dirty = set(range(BUCKETS))

    def save(self, db: sqlite3.Connection, root: str) -> None:
        # One row sealed at a time (a list of all 64 held every row's blob at once).
        db.executemany(
            "INSERT OR REPLACE INTO store VALUES (?, ?, ?, ?)",
            ((root, self.name, b, _seal(_plain(self.rows[b]))) for b in sorted(self.dirty)),
        )
        self.dirty.clear()


def _canonical(value: Any) -> bytes:
    """``value`` as bytes to hash: the same for equal values. (marshal's default format
    writes a second occurrence of one object as a reference to the first, so equal values
    made of shared or of separate strings gave different bytes, and a feed whose inputs
    had not changed was rendered again; format 2 has no references.)"""
    return marshal.dumps(value, 2)


def _folder_digest(parts: list[tuple[tuple[str, ...], bytes]]) -> bytes:
    """A digest of one content folder's (relative paths, packed stamps) runs of sources."""
    return hashlib.sha256(_canonical(parts)).digest()


def _plain(rows: dict[Any, Any]) -> dict[Any, Any]:
    """``rows`` with named tuples (briefs) as plain tuples, which marshal can store."""
    if any(type(v) is Brief for v in rows.values()):
        return {k: tuple(v) if type(v) is Brief else v for k, v in rows.items()}
    return rows


def _seal(data: Any) -> bytes:
    """``data`` marshalled, behind its sha256: :func:`_unseal` refuses anything damaged."""
    blob = marshal.dumps(data)
    return hashlib.sha256(blob).digest() + blob


def _unseal(sealed: bytes) -> Any:
    if hashlib.sha256(sealed[32:]).digest() != sealed[:32]:
        raise ValueError("damaged record")
    return marshal.loads(sealed[32:])


@dataclass(frozen=True, slots=True)
class Known:
    """What the cache holds for one unchanged file."""

    brief: Brief | None
    """``None``: the file gave no usable article."""
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Previous:
    """The last run's choice of feeds, for a run that changed few files to update it."""

    changed: tuple[tuple[str, int | None], ...]
    """Files added, changed or removed since: (relative path, source number or ``None``)."""
    records: dict[GroupKey, Record]
    duplicates: tuple[Problem, ...]
    hidden: frozenset[str]
    until: datetime | None
    articles: int
    counts: Counts


@dataclass(frozen=True, slots=True)
class Choice:
    """What a run chose, for :meth:`Cache.save` (all of it, or what changed: ``states``)."""

    records: Mapping[GroupKey, Record]
    states: Mapping[GroupKey, GroupState | None]
    """The groups to store (``None``: remove): every group after a full choice."""
    full: bool
    hidden: frozenset[str]
    until: datetime | None
    duplicates: tuple[Problem, ...]
    articles: int
    counts: Counts
    """Articles published and held back (see :class:`~feeds.model.Counts`)."""


@dataclass(frozen=True, slots=True)
class LastRun:
    """The previous writing run, whose output still stands because nothing changed since."""

    problems: tuple[Problem, ...]
    articles: int
    counts: Counts
    feeds: int
    report: WriteReport
    """Every file the output holds for us, all unchanged."""


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a run found, for :meth:`Cache.save` to answer the next run with."""

    selection: Selection
    until: datetime | None
    """When time alone would change the selection (``None``: never)."""
    problems: tuple[Problem, ...]
    articles: int
    counts: Counts
    feeds: int


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
    name, place, count and date)."""
    pages_kept: bool = False
    """The site pages are current (their paths are in ``keep``): not rendered."""


def _stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def reading_fingerprint(config: Config) -> str:
    """The configuration values that change what reading a file gives."""
    return f"tz={config.timezone};max_related={config.max_related}"


def _sha256(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


@dataclass(slots=True)
class Cache:
    """An open cache, or a disabled one (``db is None``) that caches nothing."""

    db: sqlite3.Connection | None
    config: Config
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    """What went wrong with the cache this run (each one made the run colder, never wrong)."""
    read_only: bool = False
    """Read what is there, write nothing (see :meth:`open`)."""
    _started_ns: int = field(default_factory=time.time_ns)
    _root: str = ""
    _given: str = ""
    _output_root: str = ""
    _scan: Scan | None = None
    _stamps: _Store = field(default_factory=lambda: _Store("stamps", by=_folder))
    """By relative path: the stamp its brief was read at (``None``: read again next time)."""
    _briefs: _Store = field(default_factory=lambda: _Store("briefs"))
    """By relative path: the brief's values (``None``: no usable article)."""
    _ids: _Store = field(default_factory=lambda: _Store("ids"))
    """By article id: the files that have it."""
    _groups: _Store = field(default_factory=lambda: _Store("groups"))
    """By (kind, key): the group's :class:`GroupState` values."""
    _records: _Store = field(default_factory=lambda: _Store("records"))
    """By (kind, key): the group's chosen :data:`Record`."""
    _problems: dict[str, tuple[Problem, ...]] = field(default_factory=dict)
    _rels: tuple[str, ...] | None = None
    _everything: tuple[Sequence[Brief | None], Mapping[int, tuple[Problem, ...]]] | None = None
    _listing: tuple[dict[str, list[tuple[int, int]]], dict[str, bytes], bool] | None = None
    _unstable: set[int] = field(default_factory=set)
    _inputs: str | None = None
    """Digest of every input of this run, or ``None`` when it cannot be trusted (racy files)."""

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path | None, config: Config, *, read_only: bool = False) -> Cache:
        """Open (creating if needed) the cache in ``folder``; ``None`` disables caching.

        ``read_only`` (``feeds check``) uses the cache only if it is there, and never
        creates, changes or discards anything in it.
        """
        if folder is None:
            return cls(None, config)
        global VERSION
        VERSION = VERSION or _version()
        path = folder / DB_FILE
        cache = cls(None, config, path, read_only=read_only)
        if read_only:
            try:
                _check_owner(folder)
                cache.db = _connect_read_only(path)
            except _Untrusted as e:
                cache.notes.append(f"{folder}: {e}: not used")
            except (OSError, sqlite3.Error):
                pass  # no cache (yet), or one of another version: check without it
            return cache
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _check_owner(folder)
            cache.db = _connect(path)
        except _Untrusted as e:
            cache.notes.append(f"{folder}: {e}: not used")
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
            self.db = _connect(self.path)
        except (OSError, sqlite3.Error, _Untrusted) as e:
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

    @property
    def _trusted_before(self) -> int:
        """Files changed at or after this time (ns) are not trusted next run."""
        return self._started_ns - RACY_SECONDS * 1_000_000_000

    def _racy(self, stamp: Stamp | None) -> bool:
        racy = self._trusted_before
        return stamp is None or stamp[1] >= racy or stamp[2] >= racy

    # -- whole runs ------------------------------------------------------------------------

    def last_run(
        self, content: Path, output: Path, scan: Scan, selection: Selection
    ) -> LastRun | None:
        """The previous run's result when nothing it depended on changed, else ``None``.

        Its inputs (every source's stamp and label, the settings, the templates) must be
        the same and none of them racy; no article may have come due since; and every
        file of the output must still be the one its manifest records.
        """
        self._begin(content, scan)
        if self.db is None:
            return None
        self._inputs = self._inputs_digest(content, scan, selection)
        if self._inputs is None:
            return None
        root = output.resolve()
        try:
            row = self.db.execute(
                "SELECT inputs, manifest, now_us, until_us, problems, articles, counts, feeds"
                " FROM runs WHERE root = ? AND output = ?",
                (self._root, str(root)),
            ).fetchone()
        except sqlite3.Error as e:
            self.discard(f"unreadable ({e})")
            return None
        if row is None:
            return None
        inputs, manifest_digest, now_us, until_us, problems_blob, articles, counts, feeds = row
        if inputs != self._inputs or not now_us <= _micro(selection.now) < until_us:
            return None
        manifest = read_manifest(root)
        if _manifest_digest(manifest) != manifest_digest or not all(
            is_intact(root, rel, entry) for rel, entry in manifest.items()
        ):
            return None
        try:
            problems = pickle.loads(problems_blob)
            if not isinstance(problems, tuple):
                raise TypeError("problems: not a tuple")
            counted = _counts(counts)
        except Exception as e:  # unpickling can raise almost anything
            self.discard(f"unreadable ({type(e).__name__}: {e})")
            return None
        digests = {rel: entry.sha256 for rel, entry in manifest.items()}
        report = WriteReport((), tuple(sorted(manifest)), (), digests)
        return LastRun(
            problems=problems,
            articles=articles,
            counts=counted,
            feeds=feeds,
            report=report,
        )

    def _begin(self, content: Path, scan: Scan) -> None:
        if self._scan is not None:
            return
        self._root = str(content.resolve())
        self._given = str(content)
        self._scan = scan
        try:
            self._root.encode("utf-8")
            self._given.encode("utf-8")
        except UnicodeEncodeError:
            self.notes.append(f"{self.path}: the content folder's name is not UTF-8: not used")
            self.close()

    def _digests(self) -> tuple[dict[str, list[tuple[int, int]]], dict[str, bytes], bool]:
        """The sources by folder (spans of source numbers), a digest of each folder's
        (relative path, stamp) pairs, and whether any file changed too recently to trust."""
        if self._listing is None:
            scan = self._scan
            assert scan is not None
            spans: dict[str, list[tuple[int, int]]] = {}
            for folder, start, end in scan.runs:
                spans.setdefault(folder, []).append((start, end))
            rels, stamps = scan.rels, scan.stamps
            digests = {
                folder: _folder_digest(
                    [(rels[a:b], stamps.packed(a, b)) for a, b in parts]  # packed: no tuples
                )
                for folder, parts in spans.items()
            }
            self._listing = (spans, digests, self._fresh(stamps))
        return self._listing

    def _fresh(self, stamps: Stamps) -> bool:
        """Whether any of ``stamps`` is missing or too recent to be trusted next time."""
        return bool(stamps) and (stamps.missing() or stamps.newest() >= self._trusted_before)

    def _inputs_digest(self, content: Path, scan: Scan, selection: Selection) -> str | None:
        _, digests, fresh = self._digests()
        if fresh:
            return None
        parts: list[str | bytes] = [VERSION, repr(self.config), str(content), self._root]
        parts.append(f"unpublished={selection.unpublished};future={selection.future}")
        parts.append(_canonical(sorted(digests.items())))
        parts.extend(str(problem) for problem in scan.problems)
        if self.config.templates is not None:
            for path in template_files(self.config.templates):
                stamp = _stamp(Path(path))
                if self._racy(stamp):
                    return None
                parts.append(f"{path}\0{stamp}")
        return _sha256(*parts)

    # -- what the last run chose -------------------------------------------------------------

    def _choosing(self, selection: Selection) -> str:
        """The settings that change which articles a feed holds."""
        c = self.config
        return (
            f"items={c.items_per_feed};margin={MARGIN};groupings={','.join(c.groupings)};"
            f"unpublished={selection.unpublished};future={selection.future}"
        )

    def _state(self) -> tuple[Any, ...] | None:
        """The last run's row in ``state``, if it was made by the same reading settings."""
        assert self.db is not None
        row = self.db.execute(
            "SELECT given, reading, choosing, now_us, until_us, articles, problems, hidden,"
            " digests, counts FROM state WHERE root = ?",
            (self._root,),
        ).fetchone()
        if row is None or row[0] != self._given or row[1] != reading_fingerprint(self.config):
            return None
        return tuple(row)

    def _load(self, store: _Store, buckets: Collection[int] | None = None) -> None:
        assert self.db is not None
        store.load(self.db, self._root, buckets)

    def known(self, content: Path, scan: Scan) -> dict[int, Known]:
        """By source number: what the cache holds for the files that did not change."""
        self._begin(content, scan)
        if self.db is None:
            return {}
        try:
            return self._known(scan)
        except Exception as e:  # sqlite3, marshal and unpickling can raise almost anything
            self.discard(f"unreadable ({type(e).__name__}: {e})")
            return {}

    def _known(self, scan: Scan) -> dict[int, Known]:
        row = self._state()
        if row is None:
            return {}
        problems, _ = _problems(row[6])
        self._load(self._stamps)
        self._load(self._briefs)
        old_stamps, briefs = dict(self._stamps.items()), dict(self._briefs.items())
        known: dict[int, Known] = {}
        for index, (rel, stamp) in enumerate(zip(scan.rels, scan.stamps, strict=True)):
            if stamp is None or old_stamps.get(rel) != stamp or rel not in briefs:
                continue
            values = briefs[rel]
            known[index] = Known(
                Brief(*values) if values is not None else None, problems.get(rel, ())
            )
        return known

    def previous(self, content: Path, scan: Scan, selection: Selection) -> Previous | None:
        """The last run's choice, when this run can update it from the files that changed."""
        self._begin(content, scan)
        if self.db is None:
            return None
        try:
            return self._previous(scan, selection)
        except Exception as e:  # sqlite3, marshal and unpickling can raise almost anything
            self.discard(f"unreadable ({type(e).__name__}: {e})")
            return None

    def _previous(self, scan: Scan, selection: Selection) -> Previous | None:
        row = self._state()
        if row is None or row[2] != self._choosing(selection):
            return None
        now_us, until_us, articles = row[3], row[4], row[5]
        if not now_us <= _micro(selection.now) < until_us:
            return None  # the clock went back, or an article came due: choose again
        spans, digests, _ = self._digests()
        stored: dict[str, bytes] = _unseal(row[8])
        differ = {f for f in digests.keys() | stored.keys() if digests.get(f) != stored.get(f)}
        self._load(self._stamps, {self._stamps.bucket(folder) for folder in differ})
        changed: list[tuple[str, int | None]] = []
        rels, stamps = scan.rels, scan.stamps
        for folder in differ:
            here: set[str] = set()
            for start, end in spans.get(folder, ()):
                for index in range(start, end):
                    rel, stamp = rels[index], stamps[index]
                    here.add(rel)
                    if stamp is None or self._stamps.get(rel) != stamp:
                        changed.append((rel, index))
            for rel in self._stamps.rows[self._stamps.bucket(folder)]:
                if _folder(rel) == folder and rel not in here:
                    changed.append((rel, None))
        changed.sort(key=lambda change: (change[1] is None, change[1] or 0, change[0]))
        if len(changed) > max(100, len(scan.sources) // 10):
            return None  # so much changed that choosing from every brief is as quick
        problems, duplicates = _problems(row[6])
        self._problems = problems
        self._load(self._records)
        records: dict[GroupKey, Record] = {
            (FeedKind(kind), key): Record._make(record)
            for (kind, key), record in self._records.items()
        }
        return Previous(
            changed=tuple(changed),
            records=records,
            duplicates=duplicates,
            hidden=frozenset(_unseal(row[7])),
            until=from_micros(until_us) if until_us < _NEVER else None,
            articles=articles,
            counts=_counts(row[9]),
        )

    @contextlib.contextmanager
    def _loading(self) -> Iterator[None]:
        """Anything wrong with what is loaded discards the cache and raises :class:`Damaged`."""
        try:
            yield
        except Exception as e:  # sqlite3, marshal and unpickling can raise almost anything
            self.discard(f"unreadable ({type(e).__name__}: {e})")
            raise Damaged(self.notes) from None

    def briefs_of(self, rels: Collection[str]) -> dict[str, Brief | None]:
        """The stored brief of each of ``rels`` (``None``: no article, or not stored)."""
        with self._loading():
            self._load(self._briefs, {self._briefs.bucket(rel) for rel in rels})
            found: dict[str, Brief | None] = {}
            for rel in rels:
                values = self._briefs.get(rel)
                found[rel] = Brief(*values) if values is not None else None
            return found

    def files_of(self, ids: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The files that had each of ``ids`` in the last run."""
        with self._loading():
            self._load(self._ids, {self._ids.bucket(i) for i in ids})
            return {i: tuple(self._ids.get(i) or ()) for i in ids}

    def group_states(self, groups: Collection[GroupKey]) -> dict[GroupKey, GroupState | None]:
        """The stored state of each of ``groups`` (``None``: no such group)."""
        states: dict[GroupKey, GroupState | None] = {}
        with self._loading():
            keys = {group: (group[0].value, group[1]) for group in groups}
            self._load(self._groups, {self._groups.bucket(key) for key in keys.values()})
            for group, key in keys.items():
                values = self._groups.get(key)
                states[group] = _state_of(values) if values is not None else None
        return states

    def remember(
        self, briefs: Sequence[Brief | None], problems: Mapping[int, tuple[Problem, ...]]
    ) -> None:
        """Note what every source gave this run (a full choice), by source number: kept by
        reference and turned into records only when saved, after the output is written
        (building them now would add to the build's peak memory)."""
        self._everything = (briefs, problems)

    def start_full(self) -> None:
        """This run chooses from every brief: every record is stored anew."""
        for store in (self._stamps, self._briefs, self._ids, self._groups, self._records):
            store.fresh()
        self._problems = {}

    def replace(
        self,
        index: int | None,
        rel: str,
        before: Brief | None,
        after: Brief | None,
        problems: tuple[Problem, ...],
    ) -> None:
        """Note that ``rel`` (source number ``index``, ``None``: gone) gave ``after``
        where it gave ``before`` (``None``: a full choice, or no article)."""
        assert self._scan is not None
        if index is None:
            self._stamps.pop(rel)
            self._briefs.pop(rel)
        else:
            stamp = self._scan.stamps[index]
            self._stamps.set(rel, None if self._racy(stamp) else stamp)
            self._briefs.set(rel, after)  # a Brief: a plain tuple when stored
        ids = self._ids
        if before is not None:
            self._load(ids, {ids.bucket(before.id)})
            rest = tuple(r for r in ids.get(before.id) or () if r != rel)
            if rest:
                ids.set(before.id, rest)
            else:
                ids.pop(before.id)
        if after is not None:
            self._load(ids, {ids.bucket(after.id)})
            ids.set(after.id, (*(ids.get(after.id) or ()), rel))
        if problems:
            self._problems[rel] = problems
        else:
            self._problems.pop(rel, None)

    @property
    def problems(self) -> dict[str, tuple[Problem, ...]]:
        """By relative path, this run's problems of each file that has some."""
        return self._problems

    # -- feeds -----------------------------------------------------------------------------

    def plan_feeds(self, output: Path, site: Site, context: Context, extra: str = "") -> FeedPlan:
        """Fingerprint every feed; keep the files of feeds whose inputs did not change.

        ``extra`` is any further input of every feed (the set of hidden articles, whose
        mentions are left out of related items).
        """
        from feeds.render import feed_files

        if self.db is None:
            return FeedPlan(fingerprints={})
        root = output.resolve()
        self._output_root = str(root)
        try:
            recorded = dict(
                self.db.execute(
                    "SELECT path, fingerprint || ' ' || sha256 FROM outputs WHERE root = ?",
                    (str(root),),
                )
            )
        except sqlite3.Error as e:
            self.discard(f"unreadable ({e})")
            return FeedPlan(fingerprints={})
        manifest = read_manifest(root)
        settings = _sha256(repr(self.config), VERSION, extra, self._templates_part())
        fingerprints: dict[str, str] = {}
        keep: set[str] = set()
        kept_feeds = 0
        for feed in site.feeds:
            fingerprint = self._fingerprint(feed, settings)
            paths = feed_files(feed, context)
            if fingerprint is None:
                continue
            fingerprints.update(dict.fromkeys(paths, fingerprint))
            if all(
                (entry := manifest.get(path)) is not None
                and recorded.get(path) == f"{fingerprint} {entry.sha256}"
                and is_intact(root, path, entry)
                for path in paths
            ):
                keep.update(paths)
                kept_feeds += 1
        pages = self._pages_fingerprint(site, settings)
        kept_pages = [
            path
            for path, value in recorded.items()
            if pages and value.partition(" ")[0] == pages and path not in fingerprints
        ]
        pages_kept = bool(kept_pages) and all(
            (entry := manifest.get(path)) is not None
            and recorded[path] == f"{pages} {entry.sha256}"
            and is_intact(root, path, entry)
            for path in kept_pages
        )
        if pages_kept:
            keep.update(kept_pages)
            fingerprints.update(dict.fromkeys(kept_pages, pages))
        return FeedPlan(
            fingerprints=fingerprints,
            keep=frozenset(keep),
            kept_feeds=kept_feeds,
            pages=pages,
            pages_kept=pages_kept,
        )

    def _templates_part(self) -> str:
        """The template files' stamps, which group pages are rendered from; a template
        changed just now is marked, so that the next run renders the pages again."""
        if self.config.templates is None:
            return ""
        parts: list[Any] = []
        for path in template_files(self.config.templates):
            stamp = _stamp(Path(path))
            parts.append((path, stamp, self._racy(stamp)))
        return hashlib.sha256(_canonical(parts)).hexdigest()

    def _pages_fingerprint(self, site: Site, settings: str) -> str:
        """What the site pages are rendered from (``""``: a template changed just now)."""
        parts: list[Any] = [settings]
        if self.config.templates is not None:
            for path in template_files(self.config.templates):
                stamp = _stamp(Path(path))
                if self._racy(stamp):
                    return ""
                parts.append((path, stamp))
        for key in ("icon", "favicon"):  # a configured file is copied with the pages
            value = getattr(self.config, key)
            if value is not None and not value.startswith(("http://", "https://")):
                stamp = _stamp(Path(value))
                if self._racy(stamp):
                    return ""
                parts.append((value, stamp))
        parts.extend(
            (f.kind.value, f.key, f.name, f.slug, f.total, str(f.updated)) for f in site.feeds
        )
        return hashlib.sha256(_canonical(parts)).hexdigest()

    def _fingerprint(self, feed: Feed, settings: str) -> str | None:
        """Everything a feed file is rendered from, or ``None`` when an input is not stable
        (the group's ``total`` too: its page shows it)."""
        if self._rels is None:
            assert self._scan is not None
            self._rels = self._scan.rels
            if self._fresh(self._scan.stamps):
                self._unstable = self._scan.stamps.since(self._trusted_before)
        members = feed.members
        if not members:
            identity: tuple[Any, ...] = (
                settings, feed.kind.value, feed.key, feed.name, feed.slug, feed.total
            )  # fmt: skip
        elif self._unstable and not self._unstable.isdisjoint(members):
            return None
        else:
            assert self._scan is not None
            pick = itemgetter(*members, members[0])  # always a tuple, even for one member
            identity = (
                settings, feed.kind.value, feed.key, feed.name, feed.slug, feed.total,
                pick(self._rels), self._scan.stamps.select(members),
            )  # fmt: skip
        return hashlib.sha256(_canonical(identity)).hexdigest()

    # -- saving ----------------------------------------------------------------------------

    def save(
        self,
        plan: FeedPlan | None,
        report: WriteReport | None,
        facts: RunFacts | None = None,
        choice: Choice | None = None,
    ) -> None:
        """Store this run's choice and (when the output was written) its feeds."""
        if self.db is None or self._scan is None or self.read_only:
            return
        try:
            with _transaction(self.db):
                if choice is not None and facts is not None:
                    self._save_choice(choice, facts)
                if plan is not None and report is not None:
                    self._save_outputs(plan, report)
                    self._save_run(facts)
        except sqlite3.OperationalError as e:
            self.notes.append(f"{self.path}: not updated ({e}); the next run reads more")
        except sqlite3.Error as e:
            self.discard(f"cannot be written ({e})")

    def _save_choice(self, choice: Choice, facts: RunFacts) -> None:
        assert self.db is not None and self._scan is not None
        db, root = self.db, self._root
        for group, state in choice.states.items():
            key = (group[0].value, group[1])
            if state is None:
                self._groups.pop(key)
                self._records.pop(key)
            else:
                self._groups.set(key, _state_values(state))
                self._records.set(key, tuple(choice.records[group]))
        if choice.full:
            db.execute("DELETE FROM store WHERE root = ?", (root,))
            self._save_files(db, root)
        for store in (self._stamps, self._briefs, self._ids, self._groups, self._records):
            store.save(db, root)
        problems = _seal(
            pickle.dumps((self._problems, choice.duplicates), protocol=pickle.HIGHEST_PROTOCOL)
        )
        until = _micro(choice.until) if choice.until is not None else _NEVER
        db.execute(
            "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (root, self._given, reading_fingerprint(self.config),
             self._choosing(facts.selection), _micro(facts.selection.now), until,
             choice.articles, _counts_text(choice.counts), problems, _seal(sorted(choice.hidden)),
             _seal(self._stored_digests())),
        )  # fmt: skip

    def _save_files(self, db: sqlite3.Connection, root: str) -> None:
        """Write the file records of a full choice (see :meth:`remember`) one row at a time:
        building every row first held them all at once (about 35 MB at 100k)."""
        assert self._scan is not None and self._everything is not None
        briefs, problems = self._everything
        rels, stamps = self._scan.rels, self._scan.stamps
        fresh = self._fresh(stamps)  # usually not: then no stamp needs looking at
        racy = self._racy
        # Which source numbers go in each row of each store.
        stamp_rows = [array("l") for _ in range(BUCKETS)]
        brief_rows = [array("l") for _ in range(BUCKETS)]
        id_rows = [array("l") for _ in range(BUCKETS)]
        by_folder: dict[str, int] = {}
        for index, rel in enumerate(rels):
            folder = _folder(rel)
            bucket = by_folder.get(folder)
            if bucket is None:
                bucket = by_folder[folder] = self._stamps.bucket(rel)
            stamp_rows[bucket].append(index)
            brief_rows[self._briefs.bucket(rel)].append(index)
            brief = briefs[index]
            if brief is not None:
                id_rows[self._ids.bucket(brief.id)].append(index)

        def stamp_row(indexes: array[int]) -> dict[str, Stamp | None]:
            row: dict[str, Stamp | None] = {}
            for i in indexes:
                stamp = stamps[i]
                row[rels[i]] = None if fresh and racy(stamp) else stamp
            return row

        def brief_row(indexes: array[int]) -> dict[str, tuple[Any, ...] | None]:
            return {rels[i]: None if (b := briefs[i]) is None else tuple(b) for i in indexes}

        def id_row(indexes: array[int]) -> dict[str, tuple[str, ...]]:
            row: dict[str, tuple[str, ...]] = {}
            for i in indexes:  # in source order
                article_id = briefs[i].id  # type: ignore[union-attr]
                row[article_id] = (*row.get(article_id, ()), rels[i])
            return row

        rows = (
            (root, store.name, bucket, _seal(make(indexes)))
            for store, make, by_bucket in (
                (self._stamps, stamp_row, stamp_rows),
                (self._briefs, brief_row, brief_rows),
                (self._ids, id_row, id_rows),
            )
            for bucket, indexes in enumerate(by_bucket)
        )
        db.executemany("INSERT OR REPLACE INTO store VALUES (?, ?, ?, ?)", rows)
        for store in (self._stamps, self._briefs, self._ids):
            store.rows, store.dirty = {}, set()  # written above
        self._problems = {rels[index]: found for index, found in problems.items()}

    def _stored_digests(self) -> dict[str, bytes]:
        """The folder digests of the stamps as stored (a racy file's as ``None``): a racy
        file's folder then differs next run, and the file is read again."""
        assert self._scan is not None
        spans, digests, fresh = self._digests()
        if not fresh:
            return digests
        rels, stamps = self._scan.rels, self._scan.stamps
        stored = dict(digests)
        for folder, parts in spans.items():
            if any(self._fresh(stamps.span(a, b)) for a, b in parts):
                stored[folder] = _folder_digest(
                    [
                        (rels[a:b], Stamps.pack(None if self._racy(s) else s for s in stamps[a:b]))
                        for a, b in parts
                    ]
                )
        return stored

    def _save_outputs(self, plan: FeedPlan, report: WriteReport) -> None:
        assert self.db is not None
        root = str(self._output_root)
        self.db.execute("DELETE FROM outputs WHERE root = ?", (root,))
        self.db.executemany(
            "INSERT INTO outputs VALUES (?, ?, ?, ?)",
            [
                (root, path, fingerprint, report.digests[path])
                for path, fingerprint in plan.fingerprints.items()
                if path in report.digests
            ],
        )

    def _save_run(self, facts: RunFacts | None) -> None:
        assert self.db is not None
        output = self._output_root
        self.db.execute("DELETE FROM runs WHERE root = ? AND output = ?", (self._root, output))
        if facts is None or self._inputs is None:
            return
        manifest = _manifest_digest(read_manifest(Path(output)))
        until = _micro(facts.until) if facts.until is not None else _NEVER
        problems = pickle.dumps(facts.problems, protocol=pickle.HIGHEST_PROTOCOL)
        self.db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._root, output, self._inputs, manifest, _micro(facts.selection.now), until,
             problems, facts.articles, _counts_text(facts.counts), facts.feeds),
        )  # fmt: skip


_NEVER = 2**62
"""``until`` of a choice that time alone never changes."""


def _problems(sealed: bytes) -> tuple[dict[str, tuple[Problem, ...]], tuple[Problem, ...]]:
    by_file, duplicates = pickle.loads(_unseal(sealed))
    if not isinstance(by_file, dict) or not isinstance(duplicates, tuple):
        raise TypeError("problems: not a mapping and a tuple")
    return by_file, duplicates


def _counts_text(counts: Counts) -> str:
    return ",".join(map(str, counts))


def _counts(text: str) -> Counts:
    """The counts :func:`_counts_text` stored (a bad row raises, and the cache is discarded)."""
    return Counts(*(int(part) for part in text.split(",")))


def _state_values(state: GroupState) -> tuple[Any, ...]:
    """``state`` as plain tuples, which marshal can store."""
    return (state.names, state.total, tuple(map(tuple, state.candidates)), state.complete)


def _state_of(values: tuple[Any, ...]) -> GroupState:
    names, total, candidates, complete = values
    return GroupState(names, total, tuple(map(Candidate._make, candidates)), complete)


def _micro(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _manifest_digest(manifest: Mapping[str, ManifestEntry]) -> str:
    return _sha256(repr(sorted(manifest.items())))


class Damaged(Exception):
    """The cache was found damaged part-way through a run (and discarded): start over."""

    def __init__(self, notes: list[str]) -> None:
        super().__init__("; ".join(notes))
        self.notes = tuple(notes)


class _Untrusted(Exception):
    """The cache folder could be written by someone else: unpickling it is not safe."""


def _check_owner(folder: Path) -> None:
    st = folder.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise _Untrusted("owned by another user or writable by others")


def _connect(path: Path) -> sqlite3.Connection:
    if path.exists():
        _check_owner(path)
    db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        with _transaction(db):
            for statement in _TABLES.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (VERSION,))
        _check_version(db)
    except BaseException:
        db.close()
        raise
    return db


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """The database at ``path`` opened for reading, creating nothing beside it: read in
    place while no build has it open (``immutable``: no ``-wal``/``-shm`` files made), else
    through the write-ahead log the open build keeps (which exists already)."""
    _check_owner(path)  # and raises FileNotFoundError when there is no cache
    mode = "ro" if os.path.exists(f"{path}-wal") else "ro&immutable=1"
    uri = f"{path.absolute().as_uri()}?mode={mode}"
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        _check_version(db)
    except BaseException:
        db.close()
        raise
    return db


def _check_version(db: sqlite3.Connection) -> None:
    found = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    if found is None or found[0] != VERSION:
        raise sqlite3.DatabaseError(f"made by another version ({found and found[0]})")


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
