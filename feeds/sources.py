"""Stage 1: find the article files under the content folder and stamp each one.

Kept apart from reading (:mod:`feeds.collect`) and light to import: a run that finds
nothing changed since the last one does this and little else.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple, overload

from feeds.errors import Problem, Severity
from feeds.model import _GONE, _HIGHEST, _LOWEST, DIGEST_SIZE, STAMP_BYTES, Stamp, Stamps


class Source(NamedTuple):
    """One article file found in the content folder."""

    path: str
    """Where to open it (a file system path)."""
    rel: str
    """Relative to the content folder, ``/``-separated: the article's stable source name."""
    label: str
    """How problems name the file: the content folder as given, joined with ``rel``."""


class Sources(Sequence[Source]):
    """The sources of one scan, each made when asked for from the content folder's prefix
    and its ``rel`` (a file's path and label are both ``prefix + rel``): holding a Source
    and a path string for every file cost about 190 bytes per file for the whole build."""

    __slots__ = ("prefix", "rels")

    def __init__(self, prefix: str, rels: tuple[str, ...]) -> None:
        self.prefix = prefix
        self.rels = rels

    def __len__(self) -> int:
        return len(self.rels)

    @overload
    def __getitem__(self, index: int) -> Source: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Source, ...]: ...

    def __getitem__(self, index: int | slice) -> Source | tuple[Source, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self.rels))))
        return self.source(self.prefix, self.rels[index])

    @staticmethod
    def source(prefix: str, rel: str) -> Source:
        """The source ``rel`` of the content folder whose prefix is ``prefix``."""
        path = prefix + rel
        return Source(path, rel, path)

    def label(self, index: int) -> str:
        """How problems name source number ``index``."""
        return self.prefix + self.rels[index]


def find_sources(content: Path) -> tuple[tuple[Source, ...], tuple[Problem, ...]]:
    """Every ``*.md`` file below ``content`` in sorted order, hidden files and folders skipped.

    Symbolic links are followed only when they resolve inside the content folder.
    """
    sources, problems, _, _ = _find(content)
    return tuple(sources), problems


def template_files(folder: str) -> list[str]:
    """Every file below the templates ``folder``, sorted: all that a template loader can
    read, through symbolic links too (each real folder once, so a loop ends)."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()

    def walk(path: str) -> None:
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(path) as listing:
                entries = sorted(listing, key=_NAME)
        except OSError:
            return
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links; a loop or a dangling link: neither
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                walk(entry.path)
            elif is_file:
                found.append(entry.path)

    walk(folder)
    return found


Runs = tuple[tuple[str, int, int], ...]
"""(folder, start, end): the sources of each folder are ``sources[start:end]`` for each
of its runs (a folder's files are split where its subfolders come in sorted order)."""


Block = list[tuple[str, list[str]]]
"""Sources to stamp, by folder: the folder's path (ending in ``/``) and the names of its
files in it."""


UNREADABLE = "cannot read folder"
"""The message of a folder the scan could not list (see :attr:`Scan.unreadable`)."""


class _Walker:
    """Finds sources below one folder, in sorted order, with the folder runs they form."""

    def __init__(self, content: Path, block: int = 0) -> None:
        self.block = block
        """Give the paths of every ``block`` sources as they are found (0: never)."""
        self.sent = 0
        """How many sources' paths were given."""
        self.root = content.resolve()
        self.given = str(content)
        self.prefix = os.path.join(self.given, "")
        self.rels: list[str] = []
        self.names: list[str] = []
        """Each source's file name (the last part of its ``rel``), to stamp it by."""
        self.problems: list[Problem] = []
        self.runs: list[tuple[str, int, int]] = []
        self.unreadable: list[str] = []
        self._run = 0
        """The first of :attr:`runs` that may hold sources not given yet."""

    def listing(
        self, folder: str, rel_prefix: str
    ) -> tuple[list[str], list[tuple[str, int]]] | None:
        """The entries of ``folder`` the walk takes (see :func:`_list_folder_py`), each kind
        sorted by name; ``None`` (with a problem) when it cannot be listed."""
        # Plain strings all the way: 100,000 Path objects or tuples of parts cost a second.
        try:
            files, others = _list_folder(folder)
        except OSError as e:
            label = os.path.join(self.given, *rel_prefix.split("/")[:-1])
            self.unreadable.append(label)
            self.problems.append(
                Problem(path=label, line=0, field="", message=f"{UNREADABLE}: {e.strerror}")
            )
            return None
        files.sort()
        others.sort()
        return files, others

    def link_target(self, path: str, label: str) -> Path | None:
        """Where the link at ``path`` leads, or ``None`` (with a warning) when it is a loop
        or leads out of the content folder. A link to nothing is passed over in silence."""
        try:
            target = Path(path).resolve(strict=True)
        except FileNotFoundError:
            return Path(path).absolute()  # dangling: neither a file nor a folder
        except (OSError, RuntimeError):  # ELOOP, or Python's own loop detection
            message = "symlink loop, skipped"
        else:
            if target.is_relative_to(self.root):
                return target
            message = "link points outside the content folder, skipped"
        self.problems.append(
            Problem(path=label, line=0, field="", message=message, severity=Severity.WARNING)
        )
        return None

    def paths(self) -> Iterator[Block]:
        """Walk the content folder, giving its sources in blocks of :attr:`block` while it
        walks, then the rest (in blocks of that size too)."""
        yield from self.walk(self.given, "")
        rest = len(self.rels) - self.sent
        while rest > 0:
            yield self.taken(min(rest, self.block or rest))
            rest = len(self.rels) - self.sent

    def taken(self, count: int) -> Block:
        """The next ``count`` sources not given yet, by folder: each folder's path (the
        content folder's given path and the folder's ``rel``) and its files' names."""
        start = self.sent
        end = self.sent = start + count
        names, prefix = self.names, self.prefix
        block: Block = []
        for folder, first, last in self._runs_from(start):
            if first >= end:
                break
            block.append((prefix + folder, names[max(first, start) : min(last, end)]))
        return block

    def _runs_from(self, start: int) -> list[tuple[str, int, int]]:
        """The folder runs found so far (see :data:`Runs`; a block is taken only when
        every source before its end is in one) that hold sources from ``start`` on."""
        runs = self.runs
        at = self._run
        while at < len(runs) and runs[at][2] <= start:
            at += 1
        self._run = at
        return runs[at:]

    def walk(self, folder: str, rel_prefix: str) -> Iterator[Block]:
        listed = self.listing(folder, rel_prefix)
        if listed is not None:
            yield from self.visit(folder, *listed, rel_prefix)

    def visit(
        self, folder: str, files: list[str], others: list[tuple[str, int]], rel_prefix: str
    ) -> Iterator[Block]:
        """Take the ``*.md`` files and the other entries of the folder ``rel_prefix`` in
        the order of their names, giving each :attr:`block` sources found."""
        rels, names, prefix = self.rels, self.names, self.prefix
        start = len(rels)
        if not others:  # most folders: only their files
            rels.extend([rel_prefix + name for name in files])  # a path is prefix + rel
            names.extend(files)
            entries: list[tuple[str, int]] = []
        else:
            entries = sorted([*((name, _FILE) for name in files), *others])
        for name, kind in entries:
            if kind == _FILE:
                rels.append(rel_prefix + name)
                names.append(name)
            elif kind == _LINK:
                path = os.path.join(folder, name)
                target = self.link_target(path, prefix + rel_prefix + name)
                if target is None:
                    continue
                if target.is_dir():
                    continue  # a link to a folder inside: its files are found there
                if name.endswith(".md") and os.path.isfile(path):
                    rels.append(rel_prefix + name)
                    names.append(name)
            else:
                if len(rels) > start:
                    self.runs.append((rel_prefix, start, len(rels)))
                yield from self.walk(os.path.join(folder, name), rel_prefix + name + "/")
                start = len(rels)
        if len(rels) > start:
            self.runs.append((rel_prefix, start, len(rels)))
        while self.block and len(rels) - self.sent >= self.block:
            yield self.taken(self.block)


_FILE, _FOLDER, _LINK = 0, 1, 2
"""The kinds of entry the walk takes (the C loop's numbers for the last two)."""


def _list_folder_py(folder: str) -> tuple[list[str], list[tuple[str, int]]]:
    """The entries of ``folder`` whose names do not start with a dot, unsorted: the names
    of its regular ``*.md`` files, and (name, kind) of its folders and links (entries of
    other kinds left out). The scan uses the same loop in C where it was compiled
    (``feeds/_scan.c``); the tests check that both give the same."""
    files: list[str] = []
    others: list[tuple[str, int]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_file(follow_symlinks=False):  # most entries: one call, no stat
                if name.endswith(".md"):
                    files.append(name)
            elif entry.is_symlink():
                others.append((name, _LINK))
            elif entry.is_dir(follow_symlinks=False):
                others.append((name, _FOLDER))
    return files, others


_NAME = attrgetter("name")


def _find(content: Path) -> tuple[Sources, tuple[Problem, ...], Runs, tuple[str, ...]]:
    walker = _Walker(content)
    for _ in walker.walk(walker.given, ""):
        pass
    return _found(walker)


def _found(walker: _Walker) -> tuple[Sources, tuple[Problem, ...], Runs, tuple[str, ...]]:
    sources = Sources(walker.prefix, tuple(walker.rels))
    return sources, tuple(walker.problems), tuple(walker.runs), tuple(walker.unreadable)


def _stat_all(block: Block, since: int) -> tuple[bytes, list[int]]:
    """Stamp the files of ``block`` (packed as :class:`Stamps` holds them), each name
    looked up in its open folder (a third faster than by its whole path); and the
    positions in ``block`` of the files gone, or modified or changed at or after
    ``since`` (ns): checked here, as each is stamped, rather than over all the stamps
    after. The scan uses the same loop in C where it was compiled (``feeds/_scan.c``);
    the tests check that both give the same."""
    stamps = array("q")
    append = stamps.extend
    stat = os.stat
    recent: list[int] = []
    for folder, names in block:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            fd = -1
        try:
            for name in names:
                try:
                    st = stat(name, dir_fd=fd) if fd >= 0 else stat(folder + name)
                except OSError:
                    append(_GONE)
                    recent.append(len(stamps) // 4 - 1)
                    continue
                mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
                try:
                    append((st.st_size, mtime, ctime, st.st_ino))
                except OverflowError:  # a date past 2262, an inode over 2**63: rare, and slower
                    del stamps[len(stamps) - len(stamps) % 4 :]  # what went in before it failed
                    stamp = stamp_of(st)
                    append(stamp)
                    mtime, ctime = stamp[1], stamp[2]
                if mtime >= since or ctime >= since:
                    recent.append(len(stamps) // 4 - 1)
        finally:
            if fd >= 0:
                os.close(fd)
    return stamps.tobytes(), recent


try:  # the same loops in C (feeds/_scan.c): at 100,000 files the stats take 181-193 ms in
    # one thread, not 401-411, and the walk 72-97 ms, not 112-188
    from feeds._scan import list_folder as _list_folder
    from feeds._scan import stamp_block as _stamp_all
except ImportError:  # pragma: no cover - not compiled here (it is optional): the loops above
    _list_folder, _stamp_all = _list_folder_py, _stat_all


def _stamped_by_threads(
    blocks: Iterator[Block], since: int, jobs: int
) -> list[tuple[bytes, list[int]]]:
    """:func:`_stat_all` of each block, in order, by ``jobs`` threads, each block handed to
    them as soon as it is found. (Not a pool from :mod:`concurrent.futures`: it takes 17
    ms to import, where a run that finds nothing changed takes 500 ms in all.)"""
    import queue
    import threading

    todo: queue.SimpleQueue[tuple[int, Block] | None] = queue.SimpleQueue()
    done: dict[int, tuple[bytes, list[int]]] = {}
    failed: list[BaseException] = []

    def stamp() -> None:
        while (item := todo.get()) is not None:
            try:
                done[item[0]] = _stamp_all(item[1], since)
            except BaseException as e:  # raised here, once every thread is done
                failed.append(e)

    threads = [threading.Thread(target=stamp, daemon=True) for _ in range(jobs)]
    for thread in threads:
        thread.start()
    count = 0
    try:
        for count, block in enumerate(blocks, start=1):
            todo.put((count - 1, block))
    finally:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]
    return [done[number] for number in range(count)]


def digest_of(path: str, stamp: Stamp | None) -> bytes | None:
    """A digest of the bytes of the file at ``path``, if it still has ``stamp`` (else, or
    when it cannot be read, ``None``): what tells a file touched from a file changed."""
    if stamp is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if stamp_of(os.fstat(fd)) != stamp:
            return None
        digest = hashlib.blake2b(digest_size=DIGEST_SIZE)
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        if stamp_of(os.fstat(fd)) != stamp:
            return None
        return digest.digest()
    except OSError:
        return None
    finally:
        os.close(fd)


def stamp_of(st: os.stat_result) -> Stamp:
    """The stamp of a file's ``stat`` as :class:`Stamps` holds it: each number taken
    modulo 2**64 as a signed 64-bit number (the same for equal stats, and unchanged for
    any real size, inode, or date between the years 1678 and 2262)."""
    stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if min(stamp) >= _LOWEST and max(stamp) <= _HIGHEST:
        return stamp
    size, mtime, ctime, inode = (((v - _LOWEST) % 2**64) + _LOWEST for v in stamp)
    return (size, mtime, ctime, inode)


@dataclass(frozen=True, slots=True)
class Scan:
    """The content folder as one run found it, before reading anything."""

    sources: Sources
    stamps: Stamps
    """Each source's stamp (``None``: gone or unreadable), taken before it is read."""
    problems: tuple[Problem, ...]
    runs: Runs = ()
    rels: tuple[str, ...] = ()
    """Each source's ``rel``."""
    unreadable: tuple[str, ...] = ()
    """Folders that could not be listed (the content folder itself, or below it): what
    they hold is unknown, not gone, so a writing build must not publish this scan."""
    recent: frozenset[int] = frozenset()
    """The sources gone when stamped, or modified or changed at or after the ``since``
    the scan was given: their stamps are not trusted next run (see :mod:`feeds.cache`)."""
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _spans: dict[str, list[tuple[int, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def index_of(self) -> Mapping[str, int]:
        """Each source's number by its ``rel``, made once, when first asked for."""
        if not self._index and self.rels:
            self._index.update(zip(self.rels, range(len(self.rels)), strict=True))
        return self._index

    def number(self, rel: str) -> int | None:
        """The number of the source ``rel`` (``None``: no source), for a few lookups: by
        :meth:`index_of` when it was made, else by a binary search of the runs of the
        file's folder (each in order of name), rather than making it (15-30 ms at 100k)."""
        if self._index:
            return self._index.get(rel)
        if not self._spans:
            for folder, start, end in self.runs:
                self._spans.setdefault(folder, []).append((start, end))
        rels = self.rels
        for start, end in self._spans.get(rel[: rel.rfind("/") + 1], ()):
            at = bisect.bisect_left(rels, rel, start, end)
            if at < end and rels[at] == rel:
                return at
        return None


NEVER_RECENT = 2**64
"""A ``since`` no stamp reaches: only files gone are :attr:`Scan.recent`."""

STAT_BLOCK = 5000
"""Files stamped by one task in a worker; with fewer than two blocks of files, all are
stamped in this process."""


def scan(content: Path, jobs: int = 1, since: int = NEVER_RECENT) -> Scan:
    """Find every source and stamp it; with ``jobs`` > 1 that many threads share the stats.
    ``since`` (ns): the files modified or changed at or after it are :attr:`Scan.recent`.

    The threads stamp the files as the walk finds them, a block at a time, while this
    thread walks on: the C loop (``feeds/_scan.c``) lets go of the GIL while it stats.
    """
    walker = _Walker(content, STAT_BLOCK)
    blocks = walker.paths()
    first = list(itertools.islice(blocks, 2))  # walks until two blocks are found
    if jobs <= 1 or len(first) < 2 or _stamp_all is _stat_all:  # (threads need the C loop)
        stamped = [_stamp_all(block, since) for block in itertools.chain(first, blocks)]
    else:
        stamped = _stamped_by_threads(itertools.chain(first, blocks), since, jobs)
    recent: list[int] = []
    done = 0
    for packed, positions in stamped:
        recent.extend(done + position for position in positions)
        done += len(packed) // STAMP_BYTES
    sources, problems, runs, unreadable = _found(walker)
    return Scan(
        sources=sources,
        stamps=Stamps(b"".join(packed for packed, _ in stamped)),
        problems=problems,
        runs=runs,
        rels=sources.rels,
        unreadable=unreadable,
        recent=frozenset(recent),
    )
