"""Stage 5: put the rendered files into the output folder, safely.

* Each file is written to a hidden temporary file in its own folder, flushed to disk
  and renamed over the old one: a reader sees the old file or the new one, never a part,
  and a build killed at any moment leaves every file old or new and whole.
* A file whose bytes would not change is not touched, so its mtime (and the
  ``Last-Modified``/``ETag`` a web server derives from it) stays valid. A run that
  changes nothing writes nothing, not even the manifest.
* A manifest (``.feeds-manifest.json`` in the output folder) records what we wrote;
  files we wrote before and no longer produce are removed, nothing else is touched.
  Before a run creates a file the manifest does not know yet, the manifest is updated
  to name it, so a file created by a killed run is still ours to remove later.
  The files of each feed's archive folder are recorded in a part of their own (in the
  folder ``.feeds-manifest``, named by its digest), which the top file names by digest:
  a run reads and writes the parts of the archive folders it touches, not the others.
* The manifest also lists the files we removed (``gone``), across runs, until one is
  produced again; ``feeds serve`` answers ``410 Gone`` for them, and
  ``.feeds-gone.nginx.conf`` (beside the manifest, hidden like it) holds an nginx
  ``location`` per gone path that answers 410, for a server block to ``include``.
* Temporary files left by a killed run are removed by the next one: a run that stages
  temporary files beside the feeds first creates ``.feeds-writing`` in the output folder
  and removes it once none is left, so the next run walks the whole tree for leftovers
  only when that mark is there (a killed run leaves it); the output folder itself, where
  the manifest and records are written, is looked through every time.
* Every path is checked after resolving links: nothing is written outside the folder.

Locking two runs against each other is :mod:`feeds.lock`'s job; call this under it.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from feeds.errors import BuildError, DuplicateOutputError
from feeds.model import ManifestEntry

MANIFEST = ".feeds-manifest.json"
GONE_NGINX = ".feeds-gone.nginx.conf"
MANIFEST_VERSION = 2
PARTS = ".feeds-manifest"
"""The folder (beside the manifest, hidden like it) of the manifest's parts: one per
feed's archive folder, named by the sha256 of its bytes (see :class:`Manifest`)."""
TMP_SUFFIX = ".feeds-tmp"
WRITING = ".feeds-writing"
"""Present while a run has temporary files below the output folder (see above)."""


@dataclass(frozen=True, slots=True)
class WriteReport:
    written: tuple[str, ...]
    unchanged: Collection[str]
    """Files left as they were: same bytes, or kept without rendering (a tuple, unless
    parts of the manifest were carried over whole: see :class:`_Unchanged`)."""
    removed: tuple[str, ...]
    digests: Mapping[str, str]
    """sha256 of every file the output now holds for us, by path."""
    gone: tuple[str, ...] = ()
    """Every file we removed, in this run or before, and have not produced again."""
    manifest: Mapping[str, ManifestEntry] = field(default_factory=dict)
    """The write manifest as this run left it (what :func:`read_manifest` reads)."""
    manifest_sha256: str = ""
    """The sha256 of the manifest file as this run left it (see :attr:`Manifest.sha256`)."""


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
        names the whole manifest's content (:func:`_dump` makes the same bytes for the
        same entries)."""
        return _digest(self.raw)

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
        return f"{ref.name}.json" not in self._names or _stamp(self.root, folder) != ref.stamp

    def intact(self) -> bool:
        """Whether every file outside the archive folders is still the one recorded
        (:func:`is_intact`) and no archive folder is :meth:`disturbed` (the files in one
        are checked one by one only when it is: see :func:`changed_files`)."""
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


def _split(
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


def _stamp(root: Path, folder: str) -> int:
    try:
        return os.stat(f"{os.fspath(root)}/{folder}", follow_symlinks=False).st_mtime_ns
    except OSError:
        return -1


def read_old(output: Path) -> Manifest:
    """The manifest in ``output`` (an unreadable one: nothing recorded)."""
    raw = _read_bytes(output / MANIFEST)
    return _load(output, raw)


_PENDING = ManifestEntry("", -1, -1)
"""Recorded for a file about to be created: matches no file, so it is checked by content."""


def _find_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    function = getattr(libc, "syncfs", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_syncfs = _find_syncfs()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(output: Path) -> dict[str, ManifestEntry]:
    """What the last run wrote, every part read; an unreadable manifest counts as empty
    (nothing trusted)."""
    return dict(read_old(output).items())


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def read_gone(output: Path) -> frozenset[str]:
    """The paths the manifest lists as gone (removed and not produced again)."""
    return read_old(output).gone


def gone_nginx(gone: Collection[str], base_path: str = "/") -> bytes:
    """The nginx include that answers 410 for every gone path under ``base_path`` (the
    path of ``base_url``): one exact ``location`` each, and one for the folder of a gone
    ``index.html``, which is the address its links use."""
    lines = [
        "# Written by feeds build: what it published once and has removed since answers\n",
        "# 410 Gone, so feed readers stop asking. Include it in the server block.\n",
    ]
    for rel in sorted(gone):
        urls = [base_path + rel]
        if rel == "index.html" or rel.endswith("/index.html"):
            urls.append(base_path + rel.removesuffix("index.html"))
        for url in urls:
            quoted = url.replace("\\", "\\\\").replace('"', '\\"')
            if any(c in quoted for c in "\n\r{};") or not quoted.isprintable():
                continue  # not a path nginx could be told about safely
            lines.append(f'location = "{quoted}" {{ return 410; }}\n')
    return "".join(lines).encode("utf-8")


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
        top, loaded = _split(files)
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
    raw = _read_bytes(root / PARTS / f"{name}.json")
    if _digest(raw) != name:
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


def _dump_part(folder: str, entries: Mapping[str, ManifestEntry]) -> bytes:
    """A part file: the files of the archive folder ``folder``."""
    out = f'{{\n"version": {MANIFEST_VERSION},\n"folder": {_quote(folder)},\n"files": '
    return (out + _dump_files(entries) + "\n}").encode("utf-8")


def _dump(
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


def changed_files(
    root: str, manifest: Mapping[str, ManifestEntry], rels: Iterable[str]
) -> list[str]:
    """Of ``rels`` (paths in ``manifest``), those that are no longer the file the manifest
    recorded (:func:`is_intact`, for many files: 100,000 in 0.3 s)."""
    stat, prefix = os.stat, f"{root}/"
    changed: list[str] = []
    for rel in rels:
        entry = manifest[rel]
        try:
            found = stat(prefix + rel, follow_symlinks=False)
        except OSError:
            changed.append(rel)
            continue
        if found.st_size != entry.size or found.st_mtime_ns != entry.mtime_ns or entry.size < 0:
            changed.append(rel)
    return changed


def _target(root: Path, rel: str, inside: set[Path] | None = None) -> Path:
    """The absolute path for ``rel``, refusing anything that would leave ``root``.

    ``inside`` holds folders already found to exist and resolve inside ``root``: each is
    resolved once per run, not once per file (resolving walks every component with
    ``lstat``: 0.26 ms a file, 1.3 s of a 100k build under the profiler).
    """
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        raise BuildError(f"refusing unsafe output path {rel!r}")
    path = root.joinpath(*parts)
    folder = path.parent
    if inside is None or folder not in inside:
        if not folder.resolve().is_relative_to(root):
            raise BuildError(f"refusing to write {rel!r}: it resolves outside {root}")
        if inside is not None and folder.is_dir():
            inside.add(folder)
    # In a folder inside root, only a symbolic link can lead out (no part is "..").
    if path.is_symlink():
        raise BuildError(f"refusing to write {rel!r}: it resolves outside {root}")
    return path


def _same(path: Path, data: bytes, digest: str, known: ManifestEntry | None) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    if stat.st_size != len(data):
        return False
    if known is not None and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
        return known.sha256 == digest
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _write_temporary(path: Path, data: bytes, *, sync: bool) -> Path:
    """Write ``data`` to a hidden temporary file beside ``path``; return its path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileExistsError:  # left by a killed process that had our pid
        tmp.unlink()
        fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename."""
    tmp = _write_temporary(path, data, sync=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_record(path: Path, data: bytes) -> None:
    """Write a small record file atomically unless it holds ``data`` already (a run that
    changes nothing writes nothing); one that cannot be read or written is left as it was."""
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    with contextlib.suppress(OSError):
        atomic_write(path, data)


def _sync_files(root: Path, temporaries: list[Path]) -> None:
    """Make the temporary files durable before any is renamed into place.

    One ``syncfs`` of the output's file system flushes them all at once, several times
    faster than a ``fsync`` per file; where it is missing, each file is synced.
    """
    if not temporaries:
        return
    if _syncfs is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if _syncfs(fd) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code), str(root))
            return
        finally:
            os.close(fd)
    for tmp in temporaries:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sync_folders(root: Path, folders: set[Path]) -> None:
    """Make the renames and removals in ``folders`` durable: one ``syncfs`` where there
    is one (a cold build creates a folder per feed), else a ``fsync`` of each folder."""
    if not folders:
        return
    if _syncfs is not None:
        with contextlib.suppress(OSError):
            fd = os.open(root, os.O_RDONLY)
            try:
                if _syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
    for folder in folders:
        _sync_dir(folder)


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def clean_temporaries(root: Path, *, walk: bool = True) -> list[str]:
    """Remove temporary files a killed run left behind; return their paths. ``walk``:
    look in every folder below ``root``, else in ``root`` and :data:`PARTS` alone."""
    removed: list[str] = []
    for folder, dirs, files in os.walk(root):
        if not walk:
            dirs[:] = [PARTS] if PARTS in dirs and folder == os.fspath(root) else []
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
                    removed.append(os.path.relpath(os.path.join(folder, name), root))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return removed


def _mkdirs(root: Path, folder: Path, touched: set[Path], inside: set[Path]) -> None:
    """Create ``folder`` and its missing parents, noting each parent whose entries changed.

    A folder made here in a folder of ``inside`` (or in ``root``) is inside too, and is
    added: it needs no resolving again (a cold build makes a folder per feed).
    """
    missing: list[Path] = []
    while folder != root and folder not in inside and not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        try:
            new.mkdir()
        except FileExistsError:
            pass  # made by someone else meanwhile: _target resolves it
        else:
            if new.parent == root or new.parent in inside:
                inside.add(new)
        touched.add(new.parent)


def write_output(
    output: Path,
    files: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
    keep: Collection[str] = (),
    paths: Collection[str] | None = None,
    *,
    base_path: str = "/",
    old: Manifest | None = None,
    keep_parts: Collection[str] = (),
) -> WriteReport:
    """Make ``output`` hold exactly ``files`` and ``keep`` among the files this tool manages.

    ``files`` is a mapping, or a stream of (path, bytes) in the order they are to appear
    (feeds before the pages that link to them) together with ``paths``, every path the
    stream will give: a stream is written as it comes, so memory never holds the site.
    ``keep`` names files not rendered this run because they are known to be current
    (see :func:`is_intact`); they are left as they are and stay in the manifest.
    ``base_path`` is the path of ``base_url``, which the nginx include of gone paths
    (:func:`gone_nginx`) puts before each. ``old``: the manifest as this run read it
    before (under the output lock, so still the file's), not to read it again.
    ``keep_parts``: archive folders (:func:`part_of`) whose files are all kept, none of
    them named in ``paths``; their parts are neither read nor written.
    """
    if isinstance(files, Mapping):
        paths = list(files)
        items: Iterable[tuple[str, bytes]] = (
            (rel, files[rel]) for rel in sorted(files, key=lambda p: ("/" not in p, p))
        )
    elif paths is None:
        raise TypeError("a stream of files needs the paths it will give")
    else:
        items = files
    try:
        output.mkdir(parents=True, exist_ok=True)
        root = output.resolve()
        return _write(root, items, paths, keep, base_path, old, keep_parts)
    except OSError as e:
        where = e.filename or output
        if e.errno == errno.ENOSPC:
            raise BuildError(f"{where}: cannot write: disk full; the old files were kept") from None
        raise BuildError(f"{where}: cannot write: {e.strerror}") from None


def _write(
    root: Path,
    items: Iterable[tuple[str, bytes]],
    paths: Collection[str],
    keep: Collection[str],
    base_path: str,
    read: Manifest | None,
    keep_parts: Collection[str],
) -> WriteReport:
    if read is None:
        read = read_old(root)
    old_gone = read.gone
    marker = root / WRITING
    marked = os.path.lexists(marker)  # a run was killed with temporary files: find them
    clean_temporaries(root, walk=marked)
    # The parts kept whole are carried over as they are; the others are read.
    rendered = {part_of(rel) for rel in paths}
    carried = {
        folder: read.parts[folder]
        for folder in keep_parts
        if folder in read.parts and folder not in rendered
    }
    old: dict[str, ManifestEntry] = dict(read.files)
    for folder in sorted(read.parts):
        if folder not in carried:
            old.update(read.part(folder))
    kept = keep if isinstance(keep, (set, frozenset, dict)) else set(keep)
    entries: dict[str, ManifestEntry] = {rel: e for rel, e in old.items() if rel in kept}
    new_paths = [rel for rel in paths if rel not in old]
    on_disk = read
    if new_paths:
        # Name the files we are about to create before creating them (see the docstring).
        pending = old | dict.fromkeys(new_paths, _PENDING)
        on_disk = _save(root, pending, carried, old_gone, read)
    written: list[str] = []
    unchanged: list[str] = list(entries)
    touched: set[Path] = set()
    # Every changed file goes to a temporary file first; all are made durable at once;
    # only then is each renamed over the old one, in the order given: feeds first, the
    # top-level pages (which link to them) last. A reader sees the old file or the new
    # one, never a part.
    staged: list[tuple[str, Path, Path, str]] = []
    inside: set[Path] = set()
    seen: set[str] = set(entries)
    try:
        for rel, data in items:
            if rel in seen:
                raise DuplicateOutputError(rel)
            seen.add(rel)
            path = _target(root, rel, inside)
            digest = _digest(data)
            if _same(path, data, digest, old.get(rel)):
                unchanged.append(rel)
                stat = path.stat()
                entries[rel] = ManifestEntry(digest, stat.st_size, stat.st_mtime_ns)
                continue
            if path.parent not in inside:
                _mkdirs(root, path.parent, touched, inside)
                _target(root, rel, inside)  # re-check: the folders now exist
            if not marked:  # before the first temporary file: mark the run as writing
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))
                marked = True
            staged.append((rel, path, _write_temporary(path, data, sync=False), digest))
        _sync_files(root, [tmp for _, _, tmp, _ in staged])
        while staged:
            rel, path, tmp, digest = staged.pop(0)
            os.replace(tmp, path)
            touched.add(path.parent)
            written.append(rel)
            stat = path.stat()
            entries[rel] = ManifestEntry(digest, stat.st_size, stat.st_mtime_ns)
    finally:
        for _, _, tmp, _ in staged:  # a failure part-way: no temporary file stays behind
            with contextlib.suppress(OSError):
                tmp.unlink()
        if marked:  # no temporary file of this run is left
            with contextlib.suppress(OSError):
                marker.unlink()
    stale = old.keys() - entries.keys()
    removed = _remove_stale(root, stale, touched)
    _sync_folders(root, touched)
    gone = (old_gone | stale) - set(entries)
    include = gone_nginx(gone, base_path)
    if _read_bytes(root / GONE_NGINX) != include:
        atomic_write(root / GONE_NGINX, include)
    left = _save(root, entries, carried, gone, on_disk)
    return WriteReport(
        tuple(written),
        _Unchanged(sorted(unchanged), left, tuple(carried))
        if carried
        else tuple(sorted(unchanged)),
        tuple(removed),
        _Digests(left),
        tuple(sorted(gone)),
        left,
        left.sha256,
    )


def _save(
    root: Path,
    entries: Mapping[str, ManifestEntry],
    carried: Mapping[str, PartRef],
    gone: Collection[str],
    before: Manifest,
) -> Manifest:
    """Write the manifest of ``entries`` and the ``carried`` parts (as they are): each
    other part that changed under its digest, then the top file that names them (when it
    changed), then remove the part files it no longer names. A run killed on the way
    leaves the top file before, whose parts are all still there."""
    files, split = _split(entries)
    parts = dict(carried)
    for folder, found in split.items():
        data = _dump_part(folder, found)
        name = _digest(data)
        path = root / PARTS / f"{name}.json"
        if before.parts.get(folder, PartRef("", 0, -1)).name != name or not path.exists():
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, data)
        parts[folder] = PartRef(name, len(found), _stamp(root, folder))
    raw = _dump(files, parts, gone)
    left = Manifest(root, files, parts, frozenset(gone), raw, {**split})
    if raw == before.raw:
        return left
    atomic_write(root / MANIFEST, raw)
    _sync_dir(root)
    named = {f"{ref.name}.json" for ref in parts.values()}
    with contextlib.suppress(OSError):
        for name in os.listdir(root / PARTS):
            if name.endswith(".json") and name not in named:
                with contextlib.suppress(OSError):
                    os.unlink(root / PARTS / name)
    return left


class _Unchanged(Collection[str]):
    """The files a run left as they were: those it looked at, and those of the parts it
    carried over whole, read only when iterated."""

    def __init__(self, looked: list[str], manifest: Manifest, carried: tuple[str, ...]) -> None:
        self.looked = looked
        self.manifest = manifest
        self.carried = carried

    def __len__(self) -> int:
        return len(self.looked) + sum(self.manifest.parts[f].files for f in self.carried)

    def __iter__(self) -> Iterator[str]:
        yield from self.looked
        for folder in self.carried:
            yield from self.manifest.part(folder)

    def __contains__(self, rel: object) -> bool:
        if not isinstance(rel, str):
            return False
        if part_of(rel) in self.carried:
            return rel in self.manifest
        at = bisect.bisect_left(self.looked, rel)
        return at < len(self.looked) and self.looked[at] == rel


def nothing_written(manifest: Manifest) -> WriteReport:
    """The report of a run that found the output as ``manifest`` records it and wrote
    nothing (its parts read only when the report's files are iterated)."""
    unchanged = _Unchanged(sorted(manifest.files), manifest, tuple(sorted(manifest.parts)))
    return WriteReport(
        (), unchanged, (), _Digests(manifest), (), manifest, manifest.sha256
    )  # fmt: skip


class _Digests(Mapping[str, str]):
    """The sha256 of each file of a manifest, by path, read from its entries (not a
    second mapping of 100,000 strings made each run)."""

    def __init__(self, entries: Mapping[str, ManifestEntry]) -> None:
        self.entries = entries

    def __getitem__(self, rel: str) -> str:
        return self.entries[rel].sha256

    def __contains__(self, rel: object) -> bool:
        return rel in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _remove_stale(root: Path, stale: set[str], touched: set[Path]) -> list[str]:
    removed: list[str] = []
    for rel in sorted(stale):
        try:
            path = _target(root, rel)
        except BuildError:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except IsADirectoryError:
            continue  # not a file we wrote any more: leave it
        removed.append(rel)
        touched.add(path.parent)
        # Remove folders the removal emptied, up to the output root.
        folder = path.parent
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            touched.discard(folder)
            touched.add(folder.parent)
            folder = folder.parent
    return removed
