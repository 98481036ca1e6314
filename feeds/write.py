"""Stage 5: put the rendered files into the output folder, safely.

* Each file is written to a hidden temporary file in its own folder, flushed to disk
  and renamed over the old one: a reader sees the old file or the new one, never a part.
* A file whose bytes would not change is not touched, so its mtime (and the
  ``Last-Modified``/``ETag`` a web server derives from it) stays valid.
* A manifest (``.feeds-manifest.json`` in the output folder) records what we wrote;
  files we wrote before and no longer produce are removed, nothing else is touched.
* Temporary files left by a killed run are removed by the next one.
* Every path is checked after resolving links: nothing is written outside the folder.

Locking two runs against each other is :mod:`feeds.lock`'s job; call this under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from feeds.errors import BuildError

MANIFEST = ".feeds-manifest.json"
MANIFEST_VERSION = 1
TMP_SUFFIX = ".feeds-tmp"


@dataclass(frozen=True, slots=True)
class WriteReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    sha256: str
    size: int
    mtime_ns: int


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(output: Path) -> dict[str, _Entry]:
    """What the last run wrote; an unreadable manifest counts as empty (nothing trusted)."""
    try:
        doc = json.loads((output / MANIFEST).read_text("utf-8"))
        if doc.get("version") != MANIFEST_VERSION:
            return {}
        return {
            path: _Entry(str(e["sha256"]), int(e["size"]), int(e["mtime_ns"]))
            for path, e in doc["files"].items()
            if isinstance(path, str)
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _target(root: Path, rel: str) -> Path:
    """The absolute path for ``rel``, refusing anything that would leave ``root``."""
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        raise BuildError(f"refusing unsafe output path {rel!r}")
    path = root.joinpath(*parts)
    if not path.parent.resolve().is_relative_to(root) or (
        path.is_symlink() or (path.exists() and not path.resolve().is_relative_to(root))
    ):
        raise BuildError(f"refusing to write {rel!r}: it resolves outside {root}")
    return path


def _same(path: Path, data: bytes, digest: str, known: _Entry | None) -> bool:
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


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def clean_temporaries(root: Path) -> None:
    """Remove temporary files a killed run left behind."""
    for folder, dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


def write_output(output: Path, files: dict[str, bytes]) -> WriteReport:
    """Make ``output`` hold exactly ``files`` among the files this tool manages."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildError(f"{output}: cannot create the output folder: {e.strerror}") from None
    root = output.resolve()
    old = read_manifest(root)
    clean_temporaries(root)
    written: list[str] = []
    unchanged: list[str] = []
    entries: dict[str, _Entry] = {}
    touched_dirs: set[Path] = set()
    # Feeds first, the top-level pages (which link to them) last.
    order = sorted(files, key=lambda p: ("/" not in p, p))
    try:
        for rel in order:
            data = files[rel]
            path = _target(root, rel)
            digest = _digest(data)
            if _same(path, data, digest, old.get(rel)):
                unchanged.append(rel)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                _target(root, rel)  # re-check: the folders now exist
                atomic_write(path, data)
                touched_dirs.add(path.parent)
                written.append(rel)
            stat = path.stat()
            entries[rel] = _Entry(digest, stat.st_size, stat.st_mtime_ns)
    except OSError as e:
        raise BuildError(f"{e.filename or output}: cannot write: {e.strerror}") from None
    removed = _remove_stale(root, set(old) - set(files))
    for folder in touched_dirs:
        _sync_dir(folder)
    manifest = {
        "version": MANIFEST_VERSION,
        "files": {
            rel: {"sha256": e.sha256, "size": e.size, "mtime_ns": e.mtime_ns}
            for rel, e in sorted(entries.items())
        },
    }
    atomic_write(root / MANIFEST, json.dumps(manifest, indent=0).encode("utf-8"))
    return WriteReport(tuple(written), tuple(unchanged), tuple(removed))


def _remove_stale(root: Path, stale: set[str]) -> list[str]:
    removed: list[str] = []
    for rel in sorted(stale):
        try:
            path = _target(root, rel)
        except BuildError:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(rel)
        # Remove folders the removal emptied, up to the output root.
        folder = path.parent
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    return removed
