"""Stage 5: put the rendered files into the output folder, safely.

* Each file is written to a hidden temporary file in its own folder, flushed to disk
  and renamed over the old one: a reader sees the old file or the new one, never a part,
  and a build killed at any moment leaves every file old or new and whole.
* A file whose bytes would not change is not touched, so its mtime (and the
  ``Last-Modified``/``ETag`` a web server derives from it) stays valid. A run that
  changes nothing writes nothing, not even the manifest.
* The manifest (:mod:`feeds.manifest`) records what we wrote; files we wrote before and
  no longer produce are removed, nothing else is touched. Before a run creates a file
  the manifest does not know yet, the manifest is updated to name it, so a file created
  by a killed run is still ours to remove later. A run writes the parts of the manifest
  of the archive folders it touches (changed parts first, then the top file that names
  them, then the part files no longer named), not the others.
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
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from feeds.errors import BuildError, DuplicateOutputError
from feeds.manifest import (
    MANIFEST,
    PARTS,
    Manifest,
    PartRef,
    dump,
    dump_part,
    part_of,
    read_bytes,
    read_old,
    sha256_of,
    split,
    stamp,
)
from feeds.model import ManifestEntry

GONE_NGINX = ".feeds-gone.nginx.conf"
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
    """The write manifest as this run left it (what :func:`~feeds.manifest.read_old` reads)."""
    manifest_sha256: str = ""
    """The sha256 of the manifest file as this run left it (see :attr:`Manifest.sha256`)."""


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
    look in every folder below ``root``, else in ``root`` and the manifest's parts
    folder (:data:`~feeds.manifest.PARTS`) alone."""
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
    (see :func:`~feeds.manifest.is_intact`); they are left as they are and stay in the manifest.
    ``base_path`` is the path of ``base_url``, which the nginx include of gone paths
    (:func:`gone_nginx`) puts before each. ``old``: the manifest as this run read it
    before (under the output lock, so still the file's), not to read it again.
    ``keep_parts``: archive folders (:func:`~feeds.manifest.part_of`) whose files are
    all kept, none of them named in ``paths``; their parts are neither read nor written.
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
            digest = sha256_of(data)
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
    if read_bytes(root / GONE_NGINX) != include:
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
    files, by_part = split(entries)
    parts = dict(carried)
    for folder, found in by_part.items():
        data = dump_part(folder, found)
        name = sha256_of(data)
        path = root / PARTS / f"{name}.json"
        if before.parts.get(folder, PartRef("", 0, -1)).name != name or not path.exists():
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, data)
        parts[folder] = PartRef(name, len(found), stamp(root, folder))
    raw = dump(files, parts, gone)
    left = Manifest(root, files, parts, frozenset(gone), raw, by_part)
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
