"""Stage 1: find the article files under the content folder and stamp each one.

Kept apart from reading (:mod:`feeds.collect`) and light to import: a run that finds
nothing changed since the last one does this and little else.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from feeds.errors import Problem, Severity
from feeds.parallel import split_map


class Source(NamedTuple):
    """One article file found in the content folder."""

    path: str
    """Where to open it (a file system path)."""
    rel: str
    """Relative to the content folder, ``/``-separated: the article's stable source name."""
    label: str
    """How problems name the file: the content folder as given, joined with ``rel``."""


Stamp = tuple[int, int, int, int]
"""What ``stat`` says of a file (size, mtime_ns, ctime_ns, inode): any change means an edit."""


def find_sources(content: Path) -> tuple[tuple[Source, ...], tuple[Problem, ...]]:
    """Every ``*.md`` file below ``content`` in sorted order, hidden files and folders skipped.

    Symbolic links are followed only when they resolve inside the content folder.
    """
    sources, problems, _ = _find(content)
    return sources, problems


Runs = tuple[tuple[str, int, int], ...]
"""(folder, start, end): the sources of each folder are ``sources[start:end]`` for each
of its runs (a folder's files are split where its subfolders come in sorted order)."""


class _Walker:
    """Finds sources below one folder, in sorted order, with the folder runs they form."""

    def __init__(self, content: Path) -> None:
        self.root = content.resolve()
        self.given = str(content)
        self.prefix = os.path.join(self.given, "")
        self.sources: list[Source] = []
        self.problems: list[Problem] = []
        self.runs: list[tuple[str, int, int]] = []

    def listing(self, folder: str, rel_prefix: str) -> list[os.DirEntry[str]] | None:
        # Plain strings all the way: 100,000 Path objects or tuples of parts cost a second.
        try:
            with os.scandir(folder) as entries:
                return sorted(entries, key=_NAME)
        except OSError as e:
            label = os.path.join(self.given, *rel_prefix.split("/")[:-1])
            self.problems.append(
                Problem(path=label, line=0, field="", message=f"cannot list: {e.strerror}")
            )
            return None

    def walk(self, folder: str, rel_prefix: str) -> None:
        entries = self.listing(folder, rel_prefix)
        if entries is not None:
            self.visit(entries, rel_prefix)

    def visit(self, entries: Sequence[os.DirEntry[str]], rel_prefix: str) -> None:
        """Take the (sorted) ``entries`` of the folder ``rel_prefix``."""
        sources, prefix = self.sources, self.prefix
        start = len(sources)
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_file(follow_symlinks=False):  # most entries: one call, no stat
                if name.endswith(".md"):
                    rel = rel_prefix + name
                    path = prefix + rel  # the same as entry.path, and the label too
                    sources.append(Source(path, rel, path))
                continue
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not target.is_relative_to(self.root):
                    self.problems.append(
                        Problem(
                            path=prefix + rel_prefix + name,
                            line=0,
                            field="",
                            message="symbolic link to outside the content folder: skipped",
                            severity=Severity.WARNING,
                        )
                    )
                    continue
                if target.is_dir():
                    continue  # a link to a folder inside: its files are found there
                if name.endswith(".md") and entry.is_file():
                    rel = rel_prefix + name
                    sources.append(Source(entry.path, rel, prefix + rel))
            elif entry.is_dir(follow_symlinks=False):
                if len(sources) > start:
                    self.runs.append((rel_prefix, start, len(sources)))
                self.walk(entry.path, rel_prefix + name + "/")
                start = len(sources)
        if len(sources) > start:
            self.runs.append((rel_prefix, start, len(sources)))


_NAME = attrgetter("name")


def _find(content: Path) -> tuple[tuple[Source, ...], tuple[Problem, ...], Runs]:
    walker = _Walker(content)
    walker.walk(walker.given, "")
    return tuple(walker.sources), tuple(walker.problems), tuple(walker.runs)


def _stat_all(paths: Sequence[str]) -> list[Stamp | None]:
    """Stamp each path, looking each name up in its open folder (a third faster)."""
    stamps: list[Stamp | None] = []
    append = stamps.append
    stat = os.stat
    folder, fd = "", -1
    try:
        for path in paths:
            parent, _, name = path.rpartition("/")
            if parent != folder:
                if fd >= 0:
                    os.close(fd)
                folder, fd = parent, -1
                with contextlib.suppress(OSError):
                    fd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY)
            try:
                st = stat(name, dir_fd=fd) if fd >= 0 else stat(path)
            except OSError:
                append(None)
                continue
            append((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    finally:
        if fd >= 0:
            os.close(fd)
    return stamps


@dataclass(frozen=True, slots=True)
class Scan:
    """The content folder as one run found it, before reading anything."""

    sources: tuple[Source, ...]
    stamps: tuple[Stamp | None, ...]
    """Each source's stamp (``None``: gone or unreadable), taken before it is read."""
    problems: tuple[Problem, ...]
    runs: Runs = ()
    rels: tuple[str, ...] = ()
    """Each source's ``rel``."""


def scan(content: Path, jobs: int = 1) -> Scan:
    """Find every source and stamp it; with ``jobs`` > 1 two processes share the stats.

    (Sharing the listing too was measured: no faster, as the listings must be sent back.)
    """
    sources, problems, runs = _find(content)
    stamps = split_map(_stat_all, [s.path for s in sources], jobs)
    return Scan(
        sources=sources,
        stamps=tuple(stamps),
        problems=problems,
        runs=runs,
        rels=tuple(map(_REL, sources)),
    )


_REL = attrgetter("rel")
