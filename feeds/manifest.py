"""The write manifest: what feeds wrote in an output folder (stage 5's record).

* ``.feeds-manifest.json`` (the *top file*) records each file feeds wrote, by path, with
  its sha256, size and mtime, and the paths it removed since (``gone``); files we wrote
  before and no longer produce are removed, nothing else is touched (:mod:`feeds.write`).
* The files of each feed's archive folder (``archive/``, ``topics/<slug>/archive/``...)
  are recorded in a *part* of their own, in the folder ``.feeds-manifest``, named by the
  sha256 of its bytes; the top file names each part by that digest, with its file count
  and the archive folder's mtime. A run reads and writes the parts of the archive folders
  it touches, not the others (:class:`Manifest`), and checks an untouched one by a stat
  of its folder (:meth:`Manifest.disturbed`).
* Both are written as ``json.dumps(doc, indent=0)`` would write them, byte for byte, so the
  same entries give the same bytes and the top file's digest names the whole manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from feeds.model import ManifestEntry

MANIFEST = ".feeds-manifest.json"
MANIFEST_VERSION = 2
PARTS = ".feeds-manifest"
"""The folder (beside the manifest, hidden like it) of the manifest's parts: one per
feed's archive folder, named by the sha256 of its bytes (see :class:`Manifest`)."""


class PartRef(NamedTuple):
    """A part of the manifest as its top file records it."""

    name: str
    """The sha256 of the part file's bytes, and its name in :data:`PARTS` (``""``: not
    written yet; a manifest of version 1 held the part's files itself)."""
    files: int
    """How many files it records."""
    stamp: int
    """The mtime (ns) of the archive folder the part records, when the part was written
    (-1: unknown). Another one says something below it was added or removed by hand."""


class Manifest(Mapping[str, ManifestEntry]):
    """The write manifest as a run found it (:func:`read_old`) or left it: every file this
    tool wrote in the output folder, by path.

    The files in a feed's archive folder (:func:`part_of`) are recorded in a part of
    their own, read only when one of them is asked for: a run that touches a few months
    reads a few parts, not a record of every archive document. Iterating reads them all.
    """

    def __init__(
        self,
        root: Path | None,
        files: dict[str, ManifestEntry],
        parts: dict[str, PartRef],
        gone: frozenset[str],
        raw: bytes = b"",
        loaded: dict[str, dict[str, ManifestEntry]] | None = None,
    ) -> None:
        self.root = root
        self.files = files
        """The files outside archive folders."""
        self.parts = parts
        """By archive folder (``topics/ai/archive/``), its part."""
        self.gone = gone
        self.raw = raw
        """The top file's bytes as read or written."""
        self._loaded: dict[str, dict[str, ManifestEntry]] = {} if loaded is None else loaded
        self._names: frozenset[str] | None = None
        """The files in :data:`PARTS`, listed once."""

    @property
    def sha256(self) -> str:
        """A digest of the top file's bytes, which name every part by its digest: it
        names the whole manifest's content (:func:`dump` makes the same bytes for the
        same entries)."""
        return sha256_of(self.raw)

    def part(self, folder: str) -> dict[str, ManifestEntry]:
        """The files of the archive folder ``folder`` (a damaged or missing part: none,
        so they count as unknown, as with no manifest)."""
        found = self._loaded.get(folder)
        if found is None:
            ref = self.parts.get(folder)
            found = {}
            if ref is not None and ref.name and self.root is not None:
                found = _load_part(self.root, folder, ref.name)
            self._loaded[folder] = found
        return found

    def disturbed(self, folder: str) -> bool:
        """Whether the archive folder ``folder`` is not as the part was written for: a
        month folder (or the folder) was added or removed since, or the stamp is unknown."""
        ref = self.parts.get(folder)
        if ref is None or ref.stamp < 0 or self.root is None:
            return True
        if self._names is None:
            try:
                self._names = frozenset(os.listdir(self.root / PARTS))
            except OSError:
                self._names = frozenset()
        return f"{ref.name}.json" not in self._names or stamp(self.root, folder) != ref.stamp

    def intact(self) -> bool:
        """Whether every file outside the archive folders is still the one recorded
        (:func:`is_intact`) and no archive folder is :meth:`disturbed` (the files in one
        are checked one by one only when it is, by the archive stage, :mod:`feeds.layout`)."""
        root = self.root
        if root is None:
            return False
        if not all(is_intact(root, rel, entry) for rel, entry in self.files.items()):
            return False
        return not any(self.disturbed(folder) for folder in self.parts)

    def __getitem__(self, rel: str) -> ManifestEntry:
        folder = part_of(rel)
        if folder is None:
            return self.files[rel]
        if folder not in self.parts:
            raise KeyError(rel)
        return self.part(folder)[rel]

    def __contains__(self, rel: object) -> bool:
        if not isinstance(rel, str):
            return False
        folder = part_of(rel)
        if folder is None:
            return rel in self.files
        return folder in self.parts and rel in self.part(folder)

    def __iter__(self) -> Iterator[str]:
        yield from self.files
        for folder in sorted(self.parts):
            yield from self.part(folder)

    def __len__(self) -> int:
        loaded = self._loaded
        return len(self.files) + sum(
            len(loaded[folder]) if folder in loaded else ref.files
            for folder, ref in self.parts.items()
        )


_PART = re.compile(r"(?:(?:topics|providers)/[^/]+/)?archive/")


def part_of(rel: str) -> str | None:
    """The archive folder whose part of the manifest records ``rel`` (``archive/`` for the
    site feed's, ``topics/ai/archive/``...), or ``None``: the top file records it."""
    m = _PART.match(rel)
    return None if m is None else m[0]


def split(
    entries: Mapping[str, ManifestEntry],
) -> tuple[dict[str, ManifestEntry], dict[str, dict[str, ManifestEntry]]]:
    """``entries`` as the top file records them (those outside archive folders) and, by
    archive folder, as each part does."""
    top: dict[str, ManifestEntry] = {}
    parts: dict[str, dict[str, ManifestEntry]] = {}
    for rel, entry in entries.items():
        folder = part_of(rel)
        if folder is None:
            top[rel] = entry
        else:
            parts.setdefault(folder, {})[rel] = entry
    return top, parts


def stamp(root: Path, folder: str) -> int:
    try:
        return os.stat(f"{os.fspath(root)}/{folder}", follow_symlinks=False).st_mtime_ns
    except OSError:
        return -1


def read_old(output: Path) -> Manifest:
    """The manifest in ``output`` (an unreadable one: nothing recorded)."""
    raw = read_bytes(output / MANIFEST)
    return _load(output, raw)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _load(root: Path, raw: bytes) -> Manifest:
    """The manifest whose top file holds ``raw`` (nothing of one that does not load: its
    files count as unknown). One of version 1 (before parts) is read as if every part
    was loaded; the next run that writes writes it as parts."""
    empty = Manifest(root, {}, {}, frozenset(), raw)
    try:
        doc = json.loads(raw)
    except ValueError:
        return empty
    if not isinstance(doc, dict) or doc.get("version") not in (1, MANIFEST_VERSION):
        return empty
    try:
        gone = frozenset(path for path in doc.get("gone", ()) if isinstance(path, str))
    except TypeError:
        gone = frozenset()
    files = _entries(doc.get("files"))
    if doc["version"] == 1:
        top, loaded = split(files)
        unwritten = {folder: PartRef("", len(found), -1) for folder, found in loaded.items()}
        return Manifest(root, top, unwritten, gone, raw, loaded)
    parts: dict[str, PartRef] = {}
    try:
        for folder, ref in doc.get("parts", {}).items():
            if isinstance(folder, str) and part_of(folder) == folder:
                parts[folder] = PartRef(str(ref["sha256"]), int(ref["files"]), int(ref["mtime_ns"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        parts = {}
    if any(part_of(rel) is not None for rel in files):
        return empty
    return Manifest(root, files, parts, gone, raw)


def _entries(files: object) -> dict[str, ManifestEntry]:
    try:
        return {
            path: ManifestEntry(str(e["sha256"]), int(e["size"]), int(e["mtime_ns"]))
            for path, e in files.items()  # type: ignore[attr-defined]
            if isinstance(path, str)
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def _load_part(root: Path, folder: str, name: str) -> dict[str, ManifestEntry]:
    """The files the part ``name`` of the archive folder ``folder`` records (none when it
    is missing, is not the part of that name or records a file outside ``folder``)."""
    raw = read_bytes(root / PARTS / f"{name}.json")
    if sha256_of(raw) != name:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(doc, dict) or doc.get("version") != MANIFEST_VERSION:
        return {}
    if doc.get("folder") != folder:
        return {}
    files = _entries(doc.get("files"))
    if any(part_of(rel) != folder for rel in files):
        return {}
    return files


def _dump_files(entries: Mapping[str, ManifestEntry]) -> str:
    """``entries`` as the value of ``"files"``, as ``json.dumps(doc, indent=0)`` writes
    it, byte for byte, made line by line: the indenting encoder is pure Python (1.35 s at
    100,990 files), each string here goes through the C one."""
    quote = _quote
    files = ",\n".join(
        [
            f'{quote(rel)}: {{\n"sha256": {quote(e.sha256)},\n"size": {int(e.size)},\n'
            f'"mtime_ns": {int(e.mtime_ns)}\n}}'
            for rel, e in sorted(entries.items())
        ]
    )
    return f"{{\n{files}\n}}" if files else "{}"


def dump_part(folder: str, entries: Mapping[str, ManifestEntry]) -> bytes:
    """A part file: the files of the archive folder ``folder``."""
    out = f'{{\n"version": {MANIFEST_VERSION},\n"folder": {_quote(folder)},\n"files": '
    return (out + _dump_files(entries) + "\n}").encode("utf-8")


def dump(
    files: Mapping[str, ManifestEntry], parts: Mapping[str, PartRef], gone: Collection[str]
) -> bytes:
    """The top file: the files outside archive folders, each part by its digest, the gone
    paths."""
    quote = _quote
    out = f'{{\n"version": {MANIFEST_VERSION},\n"files": ' + _dump_files(files)
    if parts:
        refs = ",\n".join(
            f'{quote(folder)}: {{\n"sha256": {quote(ref.name)},\n"files": {int(ref.files)},\n'
            f'"mtime_ns": {int(ref.stamp)}\n}}'
            for folder, ref in sorted(parts.items())
        )
        out += f',\n"parts": {{\n{refs}\n}}'
    if gone:
        out += ',\n"gone": [\n' + ",\n".join([quote(rel) for rel in sorted(gone)]) + "\n]"
    return (out + "\n}").encode("utf-8")


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A JSON string as ``json.dumps`` writes it (ASCII, escaped), by the C encoder."""


def is_intact(output: Path, rel: str, entry: ManifestEntry | None) -> bool:
    """Whether ``rel`` is still the file the manifest recorded (same size and mtime)."""
    if entry is None or entry.size < 0:
        return False
    try:  # a path joined as text: a Path per file cost more than its stat
        stat = os.stat(f"{os.fspath(output)}/{rel}", follow_symlinks=False)
    except OSError:
        return False
    return stat.st_size == entry.size and stat.st_mtime_ns == entry.mtime_ns
