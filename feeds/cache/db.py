"""The cache's database: its tables, its version, opening it, and the values it stores.

Every value is stored in plain columns (numbers and text; lists as JSON text), so that
reading the database deserialises nothing but numbers, strings and JSON: a cache folder
someone else could write can make a run colder or wrong-headed, never run code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from feeds import __version__
from feeds.errors import Problem, Severity

DB_FILE = "cache.sqlite3"
SCHEMA = 11
"""Raised whenever what is stored changes shape or meaning, or the same inputs render to
other output (a recorded output is current only under the version it was written by). 7:
a row per file, group and problem in real tables (6 kept marshalled buckets). 8: how many
items each subscription feed wrote (table ``written``); archives hold what a cap left out.
9: the archive layout, a row per group and month (tables ``archives``, ``archive_head``);
the manifest digest is of its bytes. 10: a feed's fingerprint leaves out its group's total
(the group page lists its count of items instead); archive pages end where their articles'
ids say (``archives.pages``: a month's pages, not its articles). 11: ``groups`` and
``archives`` have a rowid (their rows of many kilobytes were read whole for a few columns)."""
BUSY_SECONDS = 10.0
"""How long a run waits for another run's cache transaction before skipping its own."""
_LIBRARIES = (
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


_VERSION: list[str] = []


def version() -> str:
    """Rows written under any other version are never used (computed once a process)."""
    if not _VERSION:
        _VERSION.append(
            ";".join(
                [
                    f"feeds {__version__}",
                    f"schema {SCHEMA}",
                    f"python {sys.version_info.major}.{sys.version_info.minor}",
                    *(f"{name} {v}" for name, v in _library_versions().items()),
                ]
            )
        )
    return _VERSION[0]


TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS runs (
    root TEXT NOT NULL, output TEXT NOT NULL, inputs TEXT NOT NULL, manifest TEXT NOT NULL,
    now_us INTEGER NOT NULL, until_us INTEGER NOT NULL, articles INTEGER NOT NULL,
    counts TEXT NOT NULL, feeds INTEGER NOT NULL,
    PRIMARY KEY (root, output)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS run_problems (
    root TEXT NOT NULL, output TEXT NOT NULL, seq INTEGER NOT NULL,
    path TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL, message TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (root, output, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS choice (
    root TEXT PRIMARY KEY, given TEXT NOT NULL, reading TEXT NOT NULL, choosing TEXT NOT NULL,
    now_us INTEGER NOT NULL, until_us INTEGER NOT NULL, articles INTEGER NOT NULL,
    counts TEXT NOT NULL, hidden TEXT NOT NULL
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS folders (
    root TEXT NOT NULL, folder TEXT NOT NULL, digest BLOB NOT NULL,
    PRIMARY KEY (root, folder)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS files (
    root TEXT NOT NULL, rel TEXT NOT NULL, folder TEXT NOT NULL,
    size INTEGER, mtime INTEGER, ctime INTEGER, inode INTEGER,
    id TEXT, url TEXT, published INTEGER, draft INTEGER, removed INTEGER,
    topics TEXT, provider TEXT, digest BLOB, seen BLOB,
    PRIMARY KEY (root, folder, rel)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS problems (
    root TEXT NOT NULL, rel TEXT NOT NULL, seq INTEGER NOT NULL,
    path TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL, message TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (root, rel, seq)
) WITHOUT ROWID, STRICT;
-- Rows of many kilobytes (a group's candidates, a month's members) in tables with a rowid:
-- SQLite then reads a row's leading columns without the pages its long last ones spill
-- into. (A WITHOUT ROWID table read these rows whole, whichever columns were asked for.)
CREATE TABLE IF NOT EXISTS groups (
    root TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL,
    total INTEGER NOT NULL, complete INTEGER NOT NULL, names TEXT NOT NULL,
    candidates TEXT NOT NULL,
    PRIMARY KEY (root, kind, key)
) STRICT;
CREATE TABLE IF NOT EXISTS archives (
    root TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, month TEXT NOT NULL,
    pages INTEGER NOT NULL, members TEXT NOT NULL,
    PRIMARY KEY (root, kind, key, month)
) STRICT;
CREATE TABLE IF NOT EXISTS archive_head (
    root TEXT PRIMARY KEY, output TEXT NOT NULL, settings TEXT NOT NULL,
    manifest TEXT NOT NULL, folders TEXT NOT NULL
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS outputs (
    root TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (root, path)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS written (
    root TEXT NOT NULL, folder TEXT NOT NULL, written INTEGER NOT NULL,
    PRIMARY KEY (root, folder)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS items (
    root TEXT NOT NULL, folder TEXT NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (root, folder)
) WITHOUT ROWID, STRICT;
"""
"""``files`` holds a row per content file: its stamp, its brief when it gave a usable
article, a digest of its bytes when one was taken, and ``seen``, the stamp its feeds were
fingerprinted with when that is not its stamp (it was touched since, not changed, or
changed just before the run). Its key puts a folder's files in one range (a folder whose
digest changed is one range read); an index finds the files of an article id.
``problems`` holds a row per problem of a file (``rel`` ``""``: the duplicate warnings of
the choice); ``groups`` a row per topic, provider and the site feed (its chosen feed
first: a run that reads every group's feed leaves the long lists of candidates unread).
``archives`` holds the archive layout (``archives: monthly``), a row per group and month:
how many pages its archive has (before the list, so that counting a group's pages leaves
the lists unread) and the list (date, id, file), newest first; ``archive_head`` says which
output folder, under which settings and manifest, last had every archive document of
that layout written (none: the next run plans every document)."""

FILE_INDEXES = """
CREATE INDEX IF NOT EXISTS files_seen ON files (root) WHERE seen IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_by_id ON files (root, id) WHERE id IS NOT NULL;
"""
"""The indexes of ``files``. A full choice drops them, writes every row and makes them
again: 100,000 rows inserted in key order then indexed took 0.8 s, against 1.25 s with the
indexes kept up row by row (the ids arrive in no order)."""

FILE_INDEX_NAMES = ("files_seen", "files_by_id")


DUPLICATES = ""
"""The ``rel`` under which ``problems`` holds the choice's duplicate warnings."""


def connect(path: Path) -> sqlite3.Connection:
    """The database at ``path``, created if needed, of this :func:`version` (else raises)."""
    db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        db.execute("PRAGMA trusted_schema = OFF")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        with transaction(db):
            for statement in (TABLES + FILE_INDEXES).split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (version(),))
        check_version(db)
    except BaseException:
        db.close()
        raise
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """The database at ``path`` opened for reading, creating nothing beside it: read in
    place while no build has it open (``immutable``: no ``-wal``/``-shm`` files made), else
    through the write-ahead log the open build keeps (which exists already)."""
    if not path.exists():
        raise FileNotFoundError(path)
    mode = "ro" if os.path.exists(f"{path}-wal") else "ro&immutable=1"
    uri = f"{path.absolute().as_uri()}?mode={mode}"
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        db.execute("PRAGMA trusted_schema = OFF")
        check_version(db)
    except BaseException:
        db.close()
        raise
    return db


def check_version(db: sqlite3.Connection) -> None:
    found = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    if found is None or found[0] != version():
        raise sqlite3.DatabaseError(f"made by another version ({found and found[0]})")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Damaged(Exception):
    """The cache was found damaged part-way through a run (and discarded): start over."""

    def __init__(self, notes: list[str]) -> None:
        super().__init__("; ".join(notes))
        self.notes = tuple(notes)


class BadRow(ValueError):
    """A row that does not hold what its table says: the cache is discarded."""


# -- values as columns ----------------------------------------------------------------------

NEVER = 2**62
"""``until_us`` of a choice that time alone never changes."""


def canonical(value: Any) -> bytes:
    """``value`` as bytes to hash (never to load): the same for equal values. (marshal's
    default format writes a second occurrence of one object as a reference to the first,
    so equal values made of shared or of separate strings gave different bytes, and a feed
    whose inputs had not changed was rendered again; format 2 has no references.)"""
    return marshal.dumps(value, 2)


def sha256(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""One encoder for every value: ``json.dumps`` with ``separators`` makes a new one per
call (2.6 µs for a brief's topics, 1.7 µs with this one; a full choice stores 80,000)."""


def to_json(value: Any) -> str:
    """``value`` as JSON text (ASCII: strings that are not UTF-8, as file names can be,
    are kept as escapes)."""
    return _COMPACT.encode(value)


_ESCAPED = "\0"
"""Starts a stored string that is not UTF-8 (no file name, id or message holds NUL)."""


def text(value: str) -> str:
    """``value`` as SQLite can store it: itself, or when it is not UTF-8 (a file name the
    system could not decode), its bytes in hex after :data:`_ESCAPED`."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _ESCAPED + value.encode("utf-8", "surrogateescape").hex()
    return value


def untext(value: object) -> str:
    """The string :func:`text` stored."""
    if not isinstance(value, str):
        raise BadRow(f"not text: {type(value).__name__}")
    if value[:1] != _ESCAPED:
        return value
    try:
        return bytes.fromhex(value[1:]).decode("utf-8", "surrogateescape")
    except ValueError:
        raise BadRow("not an escaped string") from None


def from_json(text: object) -> Any:
    if not isinstance(text, str):
        raise BadRow(f"not JSON text: {type(text).__name__}")
    try:
        return json.loads(text)
    except ValueError as e:
        raise BadRow(str(e)) from None


ProblemRow = tuple[str, int, str, str, str]


def problem_row(problem: Problem) -> ProblemRow:
    return (
        text(problem.path),
        problem.line,
        text(problem.field),
        text(problem.message),
        problem.severity.value,
    )


def problem_of(
    path: object, line: object, field: object, message: object, severity: object
) -> Problem:
    if not (
        isinstance(path, str)
        and type(line) is int
        and isinstance(field, str)
        and isinstance(message, str)
        and isinstance(severity, str)
    ):
        raise BadRow("problems: not a problem")
    try:
        level = Severity(severity)
    except ValueError:
        raise BadRow(f"problems: no severity {severity!r}") from None
    return Problem(
        path=untext(path), line=line, field=untext(field), message=untext(message), severity=level
    )


def rows_in(db: sqlite3.Connection, query: str, root: str, values: Iterable[str]) -> Iterator[Any]:
    """The rows of ``query``, which ends in ``IN`` and takes ``root`` first, for each of
    ``values`` (stored as :func:`text`), asked 500 values at a time (older SQLite takes
    at most 999 parameters)."""
    wanted = sorted({text(value) for value in values})
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        yield from db.execute(f"{query} ({','.join('?' * len(chunk))})", (root, *chunk))


def text_of(counts: tuple[int, ...]) -> str:
    return ",".join(map(str, counts))


def ints_of(text: object, n: int) -> tuple[int, ...]:
    """The ``n`` numbers :func:`text_of` stored."""
    if not isinstance(text, str):
        raise BadRow("not a list of numbers")
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise BadRow(f"not a list of numbers: {text!r}") from None
    if len(numbers) != n:
        raise BadRow(f"not {n} numbers: {text!r}")
    return numbers
