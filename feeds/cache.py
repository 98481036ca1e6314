"""The incremental cache: re-read only the files that changed, re-render only the feeds that did.

A SQLite database, ``cache.sqlite3``, in the cache folder (default ``.feeds-cache/`` in the
working directory; ``--cache DIR`` moves it, ``--no-cache`` turns it off). Deleting the
folder is always safe: the next run is a cold build that fills it again. Tables:

``files``
    per content folder, one row: for every content file in source order, its stat stamp
    taken before it was read (size, mtime, ctime, inode), its :class:`~feeds.model.Brief`
    (what choosing the feeds needs) and its problems, so that a bad file is reported on
    every run until it is fixed. Whole articles are not stored: a run reads again only
    the articles of the feeds it renders, which the stamps say are unchanged.
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
* a file's row is used only when its stamp, the way problems name it and the
  configuration values that affect reading all match; the rows must match their digest;
* files changed less than :data:`RACY_SECONDS` before the run are not trusted next time:
  an edit in the same clock tick as our read would leave the stamp unchanged;
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
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds import __version__
from feeds.config import Config
from feeds.errors import Problem
from feeds.group import Selection
from feeds.model import Brief, Feed, Site
from feeds.sources import Scan, Stamp
from feeds.write import ManifestEntry, WriteReport, is_intact, read_manifest

if TYPE_CHECKING:
    from feeds.formats.common import Context

DEFAULT_DIR = Path(".feeds-cache")
DB_FILE = "cache.sqlite3"
SCHEMA = 4
RACY_SECONDS = 3
"""Files modified this recently when a run starts are read but not trusted next time."""
BUSY_SECONDS = 10.0
"""How long a run waits for another run's cache transaction before skipping its own."""
_LIBRARIES = ("feedgen", "lxml", "PyYAML", "python-dateutil", "Markdown", "nh3", "Jinja2")


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
            *(f"{name} {_library_version(name)}" for name in _LIBRARIES),
        ]
    )


VERSION = ""
"""Set by the first :meth:`Cache.open` (see :func:`_version`)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    root TEXT PRIMARY KEY, given TEXT NOT NULL, reading TEXT NOT NULL, digest TEXT NOT NULL,
    rows BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    root TEXT NOT NULL, output TEXT NOT NULL, inputs TEXT NOT NULL, manifest TEXT NOT NULL,
    now_us INTEGER NOT NULL, until_us INTEGER NOT NULL, problems BLOB NOT NULL,
    articles INTEGER NOT NULL, feeds INTEGER NOT NULL,
    PRIMARY KEY (root, output)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outputs (
    root TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (root, path)
) WITHOUT ROWID;
"""

_Row = tuple[str, Stamp | None, tuple[Any, ...] | None, bytes]
"""One file in the ``files`` rows: rel, stamp (``None``: not to be trusted), brief, problems."""


@dataclass(frozen=True, slots=True)
class Known:
    """What the cache holds for one unchanged file."""

    brief: Brief | None
    """``None``: the file gave no usable article."""
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class LastRun:
    """The previous writing run, whose output still stands because nothing changed since."""

    problems: tuple[Problem, ...]
    articles: int
    feeds: int
    report: WriteReport
    """Every file the output holds for us, all unchanged."""


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a run found, for :meth:`Cache.save` to answer the next run with."""

    now: datetime
    until: datetime | None
    """When time alone would change the selection (``None``: never)."""
    problems: tuple[Problem, ...]
    articles: int
    feeds: int


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """Which feed files to render, and what each was rendered from."""

    fingerprints: Mapping[str, str]
    """By output path: the fingerprint of its feed's inputs."""
    keep: frozenset[str] = frozenset()
    """Output paths known to be current: not rendered, left in place."""
    kept_feeds: int = 0


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
    _started_ns: int = field(default_factory=time.time_ns)
    _root: str = ""
    _given: str = ""
    _output_root: str = ""
    _scan: Scan | None = None
    _rows: list[_Row] = field(default_factory=list)
    _inputs: str | None = None
    """Digest of every input of this run, or ``None`` when it cannot be trusted (racy files)."""

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path | None, config: Config) -> Cache:
        """Open (creating if needed) the cache in ``folder``; ``None`` disables caching."""
        if folder is None:
            return cls(None, config)
        global VERSION
        VERSION = VERSION or _version()
        path = folder / DB_FILE
        cache = cls(None, config, path)
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

    def _racy(self, stamp: Stamp | None) -> bool:
        racy = self._started_ns - RACY_SECONDS * 1_000_000_000
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
                "SELECT inputs, manifest, now_us, until_us, problems, articles, feeds"
                " FROM runs WHERE root = ? AND output = ?",
                (self._root, str(root)),
            ).fetchone()
        except sqlite3.Error as e:
            self.discard(f"unreadable ({e})")
            return None
        if row is None:
            return None
        inputs, manifest_digest, now_us, until_us, problems_blob, articles, feeds = row
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
        except Exception as e:  # unpickling can raise almost anything
            self.discard(f"unreadable ({type(e).__name__}: {e})")
            return None
        digests = {rel: entry.sha256 for rel, entry in manifest.items()}
        report = WriteReport((), tuple(sorted(manifest)), (), digests)
        return LastRun(problems=problems, articles=articles, feeds=feeds, report=report)

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

    def _inputs_digest(self, content: Path, scan: Scan, selection: Selection) -> str | None:
        if any(self._racy(stamp) for stamp in scan.stamps):
            return None
        listing = marshal.dumps(([s.rel for s in scan.sources], list(scan.stamps)))
        parts: list[str | bytes] = [VERSION, repr(self.config), str(content), self._root]
        parts.append(f"unpublished={selection.unpublished};future={selection.future}")
        parts.append(listing)
        parts.extend(str(problem) for problem in scan.problems)
        if self.config.templates is not None:
            for folder, _, names in sorted(os.walk(self.config.templates)):
                for name in sorted(names):
                    stamp = _stamp(Path(folder, name))
                    if self._racy(stamp):
                        return None
                    parts.append(f"{folder}/{name}\0{stamp}")
        return _sha256(*parts)

    # -- sources ---------------------------------------------------------------------------

    def known(self, content: Path, scan: Scan) -> dict[int, Known]:
        """By source number: what the cache holds for the files that did not change."""
        self._begin(content, scan)
        if self.db is None:
            return {}
        try:
            return self._load(scan)
        except Exception as e:  # sqlite3, marshal and unpickling can raise almost anything
            self.discard(f"unreadable ({type(e).__name__}: {e})")
            return {}

    def _load(self, scan: Scan) -> dict[int, Known]:
        assert self.db is not None
        row = self.db.execute(
            "SELECT given, reading, digest, rows FROM files WHERE root = ?", (self._root,)
        ).fetchone()
        if row is None:
            return {}
        given, reading, digest, blob = row
        if _sha256(blob) != digest:
            raise ValueError("damaged file records")
        if given != self._given or reading != reading_fingerprint(self.config):
            return {}
        old = {rel: (stamp, brief, problems) for rel, stamp, brief, problems in marshal.loads(blob)}
        known: dict[int, Known] = {}
        for index, (source, stamp) in enumerate(zip(scan.sources, scan.stamps, strict=True)):
            held = old.get(source.rel)
            if held is None or held[0] is None or held[0] != stamp:
                continue
            _, brief, problems = held
            found = pickle.loads(problems) if problems else ()
            if not isinstance(found, tuple):
                raise TypeError(f"problems of {source.rel}: not a tuple")
            known[index] = Known(Brief(*brief) if brief is not None else None, found)
        return known

    def remember(self, index: int, brief: Brief | None, problems: tuple[Problem, ...]) -> None:
        """Note what source number ``index`` gave this run (call for every source, in order)."""
        assert self._scan is not None
        source = self._scan.sources[index]
        stamp = self._scan.stamps[index]
        self._rows.append(
            (
                source.rel,
                None if self._racy(stamp) else stamp,
                tuple(brief) if brief is not None else None,
                pickle.dumps(problems, protocol=pickle.HIGHEST_PROTOCOL) if problems else b"",
            )
        )

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
        settings = _sha256(repr(self.config), VERSION, extra)
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
        return FeedPlan(fingerprints=fingerprints, keep=frozenset(keep), kept_feeds=kept_feeds)

    def _fingerprint(self, feed: Feed, settings: str) -> str | None:
        """Everything a feed file is rendered from, or ``None`` when an input is not stable."""
        assert self._scan is not None
        sources, stamps = self._scan.sources, self._scan.stamps
        parts = [settings, feed.kind.value, feed.key, feed.name, feed.slug]
        for index in feed.members:
            stamp = stamps[index]
            if self._racy(stamp):
                return None
            parts.append(f"{sources[index].rel}\0{stamp}")
        return _sha256(*parts)

    # -- saving ----------------------------------------------------------------------------

    def save(
        self, plan: FeedPlan | None, report: WriteReport | None, facts: RunFacts | None = None
    ) -> None:
        """Store this run's file records and (when the output was written) its feeds."""
        if self.db is None or self._scan is None:
            return
        rows = self._rows
        complete = len(rows) == len(self._scan.sources)
        try:
            with _transaction(self.db):
                if complete:
                    blob = marshal.dumps(rows)
                    self.db.execute(
                        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                        (self._root, self._given, reading_fingerprint(self.config),
                         _sha256(blob), blob),
                    )  # fmt: skip
                if plan is not None and report is not None:
                    self._save_outputs(plan, report)
                    self._save_run(facts)
        except sqlite3.OperationalError as e:
            self.notes.append(f"{self.path}: not updated ({e}); the next run reads more")
        except sqlite3.Error as e:
            self.discard(f"cannot be written ({e})")

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
        until = _micro(facts.until) if facts.until is not None else 2**62
        problems = pickle.dumps(facts.problems, protocol=pickle.HIGHEST_PROTOCOL)
        self.db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._root, output, self._inputs, manifest, _micro(facts.now), until, problems,
             facts.articles, facts.feeds),
        )  # fmt: skip


def _micro(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _manifest_digest(manifest: Mapping[str, ManifestEntry]) -> str:
    return _sha256(repr(sorted(manifest.items())))


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
        found = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if found is None or found[0] != VERSION:
            raise sqlite3.DatabaseError(f"made by another version ({found and found[0]})")
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
