"""The incremental cache: re-read only the files that changed, re-render only the feeds that did.

A SQLite database, ``cache.sqlite3``, in the cache folder (default ``.feeds-cache/`` in the
working directory; ``--cache DIR`` moves it, ``--no-cache`` turns it off). Deleting the
folder is always safe: the next run is a cold build that fills it again. Two tables:

``sources``
    per content file: the stat stamp taken before reading it (size, mtime, ctime, inode)
    and what reading gave (:class:`~feeds.collect.FileResult`, pickled: the article and
    its problems, so a bad file is reported on every run until it is fixed). An article's
    related items, most of its bulk, are pickled apart and loaded only for the feeds that
    are rendered again (:meth:`Cache.complete`).
``outputs``
    per output file: a fingerprint of everything its feed was rendered from, and the
    sha256 of the bytes written.
``runs``
    per content and output folder, the last writing run: a digest of all its inputs
    (every source's stamp, the settings, the templates), until when time alone would not
    change its selection, the manifest it left, and its problems. When nothing changed
    since, a run is answered from this record without loading any article
    (:meth:`Cache.last_run`).

A cache must never make a wrong feed, so it is trusted only this far:

* the whole database belongs to one :data:`VERSION` (feeds, this schema, Python and the
  libraries that read and render); any other version discards it;
* a ``sources`` row is used only when the file's stamp, the way problems name it and the
  configuration values that affect reading all match; a row's pickle must match its digest;
* files changed less than :data:`RACY_SECONDS` before the run are not stored: an edit in
  the same clock tick as our read would leave the stamp unchanged;
* a feed is not re-rendered only when its fingerprint is the recorded one, the recorded
  sha256 is the write manifest's, and the file on disk is the one the manifest recorded;
* anything unexpected (a corrupt database, a pickle that does not load, a locked or
  unwritable file) discards the cache or skips it for this run, with a note; never a failure.

The database is written once per run, in one transaction, after the output is in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from feeds import __version__
from feeds.collect import FileResult, Source
from feeds.config import Config
from feeds.errors import BuildError, Problem
from feeds.formats.common import Context
from feeds.group import Selection
from feeds.model import Article, Feed, Site
from feeds.render import feed_files, is_kept
from feeds.write import ManifestEntry, WriteReport, is_intact, read_manifest

DEFAULT_DIR = Path(".feeds-cache")
DB_FILE = "cache.sqlite3"
SCHEMA = 3
RACY_SECONDS = 3
"""Files modified this recently when a run starts are read but not stored."""
BUSY_SECONDS = 10.0
_BATCH = 2000
"""Fresh reads stored per transaction during a run: memory stays flat on cold builds."""
"""How long a run waits for another run's cache transaction before skipping its own."""
_LIBRARIES = ("feedgen", "lxml", "PyYAML", "python-dateutil", "Markdown", "nh3", "Jinja2")


def _library_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


VERSION = ";".join(
    [
        f"feeds {__version__}",
        f"schema {SCHEMA}",
        f"python {sys.version_info.major}.{sys.version_info.minor}",
        *(f"{name} {_library_version(name)}" for name in _LIBRARIES),
    ]
)
"""Rows written under any other version are never used."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    root TEXT NOT NULL, rel TEXT NOT NULL, label TEXT NOT NULL, reading TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL, digest TEXT NOT NULL, result BLOB NOT NULL, related BLOB NOT NULL,
    PRIMARY KEY (root, rel)
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


class Stamp(NamedTuple):
    """What ``stat`` says of a source file; any difference means it changed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


def _stamp(path: str | Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return Stamp(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Which sources need reading, and what the cache holds for the others."""

    sources: tuple[Source, ...]
    """Every source, in order."""
    cached: Mapping[str, tuple[FileResult, str]]
    """By relative path: the cached result and its digest."""
    to_read: tuple[Source, ...]
    stamps: Mapping[str, Stamp]
    """By relative path, taken before reading: what a stored row will be checked against."""


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
    _output_root: str = ""
    _fresh: list[tuple[Source, Stamp, str, bytes, bytes]] = field(default_factory=list)
    _unstored: list[tuple[str, str]] = field(default_factory=list)
    _gone: list[str] = field(default_factory=list)
    _digests: dict[str, str] = field(default_factory=dict)
    _related: dict[str, bytes] = field(default_factory=dict)
    _stamps: dict[str, Stamp] | None = None
    _inputs: str | None = None
    """Digest of every input of this run, or ``None`` when it cannot be trusted (racy files)."""
    """Pickled related items of the cached articles that were loaded without them."""

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path | None, config: Config) -> Cache:
        """Open (creating if needed) the cache in ``folder``; ``None`` disables caching."""
        if folder is None:
            return cls(None, config)
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

    # -- sources ---------------------------------------------------------------------------

    def _stamp_all(self, content: Path, sources: tuple[Source, ...]) -> dict[str, Stamp]:
        """Each source's stamp, taken once per run, before anything is read."""
        if self._stamps is None:
            self._root = str(content.resolve())
            self._stamps = {s.rel: st for s in sources if (st := _stamp(s.path)) is not None}
        return self._stamps

    # -- whole runs ------------------------------------------------------------------------

    def last_run(
        self, content: Path, output: Path, sources: Iterable[Source], selection: Selection
    ) -> LastRun | None:
        """The previous run's result when nothing it depended on changed, else ``None``.

        Its inputs (every source's stamp and label, the settings, the templates) must be
        the same and none of them racy; no article may have come due since; and every
        file of the output must still be the one its manifest records.
        """
        if self.db is None:
            return None
        sources = tuple(sources)
        stamps = self._stamp_all(content, sources)
        self._inputs = self._inputs_digest(content, sources, stamps, selection)
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

    def _inputs_digest(
        self,
        content: Path,
        sources: tuple[Source, ...],
        stamps: Mapping[str, Stamp],
        selection: Selection,
    ) -> str | None:
        racy = self._started_ns - RACY_SECONDS * 1_000_000_000
        parts: list[str] = [VERSION, repr(self.config), str(content), self._root]
        parts.append(f"unpublished={selection.unpublished};future={selection.future}")
        for source in sources:
            stamp = stamps.get(source.rel)
            if stamp is None or stamp.mtime_ns >= racy or stamp.ctime_ns >= racy:
                return None
            parts.append(f"{source.rel}\0{source.label}\0{stamp}")
        if self.config.templates is not None:
            for folder, _, names in sorted(os.walk(self.config.templates)):
                for name in sorted(names):
                    stamp = _stamp(Path(folder, name))
                    if stamp is None or stamp.mtime_ns >= racy or stamp.ctime_ns >= racy:
                        return None
                    parts.append(f"{folder}/{name}\0{stamp}")
        return _sha256(*parts)

    # -- sources ---------------------------------------------------------------------------

    def lookup(self, content: Path, sources: Iterable[Source]) -> Lookup:
        """Split ``sources`` into those the cache answers for and those to read."""
        sources = tuple(sources)
        stamps = self._stamp_all(content, sources)
        cached: dict[str, tuple[FileResult, str]] = {}
        if self.db is not None:
            try:
                cached = self._load(sources, stamps)
            except Exception as e:  # sqlite3 and unpickling can raise almost anything
                self.discard(f"unreadable ({type(e).__name__}: {e})")
                cached = {}
        to_read = tuple(s for s in sources if s.rel not in cached)
        self._digests = {rel: digest for rel, (_, digest) in cached.items()}
        return Lookup(sources=sources, cached=cached, to_read=to_read, stamps=stamps)

    def _load(
        self, sources: tuple[Source, ...], stamps: Mapping[str, Stamp]
    ) -> dict[str, tuple[FileResult, str]]:
        assert self.db is not None
        by_rel = {s.rel: s for s in sources}
        reading = reading_fingerprint(self.config)
        cached: dict[str, tuple[FileResult, str]] = {}
        self._gone = []
        rows = self.db.execute(
            "SELECT rel, label, reading, size, mtime_ns, ctime_ns, ino, digest, result, related"
            " FROM sources WHERE root = ?",
            (self._root,),
        )
        for rel, label, row_reading, size, mtime_ns, ctime_ns, ino, digest, blob, related in rows:
            source = by_rel.get(rel)
            if source is None:
                self._gone.append(rel)
                continue
            if (
                stamps.get(rel) != Stamp(size, mtime_ns, ctime_ns, ino)
                or label != source.label
                or row_reading != reading
            ):
                continue
            if _sha256(blob, related) != digest:
                raise ValueError(f"damaged row for {rel}")
            result = pickle.loads(blob)
            if not isinstance(result, FileResult):
                raise TypeError(f"row for {rel} holds a {type(result).__name__}")
            if related:
                self._related[rel] = related
            cached[rel] = (result, digest)
        return cached

    def merge(
        self, lookup: Lookup, fresh: Iterable[FileResult]
    ) -> Iterator[tuple[Source, FileResult]]:
        """Cached and fresh results together, in source order, one at a time.

        ``fresh`` gives the results of ``lookup.to_read`` in that order; it is consumed as
        the merge reaches each one, so a cold build never holds every result at once.
        Fresh results are stored in batches as they come (see :meth:`_store_fresh`).
        """
        pending = iter(fresh)
        for source in lookup.sources:
            cached = lookup.cached.get(source.rel)
            if cached is not None:
                yield source, cached[0]
                continue
            result = next(pending)
            stamp = lookup.stamps.get(source.rel)
            if self.db is not None and stamp is not None and _storable(source):
                blob, related = _split(result)
                digest = _sha256(blob, related)
                self._fresh.append((source, stamp, digest, blob, related))
                self._digests[source.rel] = digest
                if len(self._fresh) >= _BATCH:
                    self._store_fresh()
            yield source, result

    def _store_fresh(self) -> None:
        """Store the fresh reads gathered so far (not the racy ones: see RACY_SECONDS)."""
        if self.db is None or not self._fresh:
            self._fresh.clear()
            return
        racy = self._started_ns - RACY_SECONDS * 1_000_000_000
        reading = reading_fingerprint(self.config)
        rows = [
            (self._root, s.rel, s.label, reading, *stamp, digest, blob, related)
            for s, stamp, digest, blob, related in self._fresh
            if stamp.mtime_ns < racy and stamp.ctime_ns < racy
        ]
        self._unstored.extend(
            (self._root, s.rel)
            for s, stamp, *_ in self._fresh
            if stamp.mtime_ns >= racy or stamp.ctime_ns >= racy
        )
        self._fresh.clear()
        try:
            with _transaction(self.db):
                self.db.executemany(
                    "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
        except sqlite3.OperationalError as e:
            self.notes.append(f"{self.path}: not updated ({e}); the next run reads more")
        except sqlite3.Error as e:
            self.discard(f"cannot be written ({e})")

    def complete(self, site: Site, context: Context, keep: frozenset[str]) -> Site:
        """``site`` with the related items of every article in a feed to be rendered.

        Articles answered from the cache come without their related items; every feed that
        is not kept gets its articles whole again before rendering.
        """
        if not self._related:
            return site
        whole: dict[str, Article] = {}

        def with_related(article: Article) -> Article:
            blob = self._related.get(article.source)
            if blob is None:
                return article
            if article.source not in whole:
                try:
                    related = pickle.loads(blob)
                    if not isinstance(related, tuple):
                        raise TypeError(f"related items of {article.source}: not a tuple")
                except Exception as e:  # the digest matched, so this is not expected at all
                    self.discard(f"unreadable ({type(e).__name__}: {e})")
                    raise BuildError(f"{self.path}: damaged; run again to rebuild it") from None
                whole[article.source] = replace(article, related=related)
            return whole[article.source]

        feeds = tuple(
            feed
            if is_kept(feed, context, keep)
            else replace(feed, articles=tuple(with_related(a) for a in feed.articles))
            for feed in site.feeds
        )
        return Site(feeds=feeds)

    # -- feeds -----------------------------------------------------------------------------

    def plan_feeds(self, output: Path, site: Site, context: Context, extra: str = "") -> FeedPlan:
        """Fingerprint every feed; keep the files of feeds whose inputs did not change.

        ``extra`` is any further input of every feed (the set of hidden articles, whose
        mentions are left out of related items).
        """
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
        """Everything a feed file is rendered from, or ``None`` when an input is unknown."""
        digests = [self._digests.get(article.source) for article in feed.articles]
        if None in digests:
            return None
        identity = (feed.kind.value, feed.key, feed.name, feed.slug)
        return _sha256(settings, *identity, *(d for d in digests if d is not None))

    # -- saving ----------------------------------------------------------------------------

    def save(
        self, plan: FeedPlan | None, report: WriteReport | None, facts: RunFacts | None = None
    ) -> None:
        """Store this run's remaining reads and (when the output was written) its feeds."""
        self._store_fresh()
        if self.db is None:
            return
        try:
            with _transaction(self.db):
                self.db.executemany(
                    "DELETE FROM sources WHERE root = ? AND rel = ?",
                    [(self._root, rel) for rel in self._gone] + self._unstored,
                )
                if plan is not None and report is not None:
                    self._save_outputs(plan, report)
                    self._save_run(facts)
        except sqlite3.OperationalError as e:
            self.notes.append(f"{self.path}: not updated ({e}); the next run reads more")
        except sqlite3.Error as e:
            self.discard(f"cannot be written ({e})")
        finally:
            self._unstored.clear()

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


def _storable(source: Source) -> bool:
    """SQLite holds UTF-8 text: a file name with undecodable bytes is read every run."""
    try:
        source.rel.encode("utf-8")
        source.label.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _micro(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _manifest_digest(manifest: Mapping[str, ManifestEntry]) -> str:
    return _sha256(repr(sorted(manifest.items())))


def _split(result: FileResult) -> tuple[bytes, bytes]:
    """The pickled result without its article's related items, and those items apart."""
    article = result.article
    if article is None or not article.related:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL), b""
    light = FileResult(replace(article, related=()), result.problems)
    return (
        pickle.dumps(light, protocol=pickle.HIGHEST_PROTOCOL),
        pickle.dumps(article.related, protocol=pickle.HIGHEST_PROTOCOL),
    )


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
