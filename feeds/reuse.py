"""Pass two's shortcut: the entries of articles that did not change, taken from the feed
documents the last runs wrote instead of read and rendered again.

A run records, for every feed document it renders, a key per member (a digest of the
settings, the file and its stamp: :func:`item_keys`) and where each
member's item is in each of the document's files (:attr:`feeds.render.FeedFiles.spans`),
with the sha256 of those files' bytes. A later run that renders the document again takes
a member's entries from the files still holding those bytes when its key is the same,
and reads and renders the others. What it takes is the text those bytes hold, which is
the text rendering gives: the key stands for everything an entry is rendered from.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path

from feeds.cache.outputs import KEY_SIZE, Items
from feeds.formats.common import Context
from feeds.model import Feed, FeedKind, Stamps
from feeds.render import Entries, FeedFiles, entries_in, feed_files, has_page

Keys = Callable[[Sequence[int]], bytes]
"""The key of each of some source numbers' items, joined (see :func:`item_keys`)."""

_UNKNOWN = bytes(KEY_SIZE)
"""The key of a file whose stamp is not trusted: never taken."""


def item_keys(
    settings: str, rels: Sequence[str], stamps: Stamps, untrusted: Collection[int]
) -> Keys:
    """The keys of the items rendered from sources (see :data:`Items`): a digest of
    ``settings`` (all else an item is rendered from:
    :meth:`feeds.cache.Look.output_settings`), the source's ``rel`` and its stamp; zeros
    for a source in ``untrusted`` (changed too recently to trust its stamp, or gone).
    Each source's key is worked out once."""
    base = hashlib.blake2b(settings.encode(), digest_size=KEY_SIZE)
    known: dict[int, bytes] = {}

    def key(number: int) -> bytes:
        if number in untrusted:
            return _UNKNOWN
        digest = base.copy()
        digest.update(rels[number].encode("utf-8", "surrogateescape"))
        digest.update(stamps.select((number,)))
        return digest.digest()

    def keys(numbers: Sequence[int]) -> bytes:
        found = []
        for number in numbers:
            k = known.get(number)
            if k is None:
                k = known[number] = key(number)
            found.append(k)
        return b"".join(found)

    return keys


def record(done: FeedFiles, keys: Keys, digests: Mapping[str, str]) -> Items | None:
    """What to record of the feed document ``done`` once its files are written
    (``digests``: the sha256 of each file in the output, in hex), or ``None`` if nothing."""
    files = tuple(
        (path.rpartition("/")[2], bytes.fromhex(digests[path]), spans)
        for (path, _), spans in zip(done.files, done.spans, strict=True)
        if spans and path in digests
    )
    if not files:
        return None
    logos = done.logos if any(done.logos) else ()
    return keys(done.feed.members), files, logos


def reusable(
    feeds: Sequence[Feed],
    context: Context,
    old: Mapping[str, Items],
    wanted: Iterable[int],
    keys: Keys,
    output: Path,
) -> dict[int, Entries]:
    """The entries of the articles of ``wanted`` (source numbers) that the files of
    ``feeds`` as the last runs wrote them (``old``, by folder, read from ``output``) hold
    for their current key, with every part of them that ``feeds`` use."""
    page = len(context.formats)
    found: dict[bytes, list[str | None]] = {}
    for feed in feeds:
        stored = old.get(feed.folder)
        if stored is None:
            continue
        stored_keys, files, logos = stored
        members = _split(stored_keys)
        paths = feed_files(feed, context)
        at_of = {path.rpartition("/")[2]: at for at, path in enumerate(paths)}
        for name, sha256, spans in files:
            at = at_of.get(name)
            data = _read(output / paths[at]) if at is not None else None
            if at is None or data is None or hashlib.sha256(data).digest() != sha256:
                continue
            for key, text in zip(members, entries_in(data, spans), strict=False):
                if key != _UNKNOWN:
                    found.setdefault(key, [None] * (page + 2))[at] = text
        for key, logo in zip(members, logos or itertools.repeat(""), strict=False):
            if key != _UNKNOWN and key in found:
                found[key][page + 1] = logo
    if not found:
        return {}
    paged = {i for feed in feeds if has_page(feed) for i in feed.members}
    provided = {i for feed in feeds if feed.kind is FeedKind.PROVIDER for i in feed.members}
    numbers = list(wanted)
    reused: dict[int, Entries] = {}
    for number, key in zip(numbers, _split(keys(numbers)), strict=True):
        parts = found.get(key)
        if parts is None or any(part is None for part in parts[:page]):
            continue
        if (number in paged and parts[page] is None) or (
            number in provided and parts[page + 1] is None
        ):
            continue
        reused[number] = tuple(part or "" for part in parts)
    return reused


def _split(keys: bytes) -> list[bytes]:
    return [keys[i : i + KEY_SIZE] for i in range(0, len(keys), KEY_SIZE)]


def _read(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path`` (``None``: none can be read; a pipe put
    in its place is not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read()
    except OSError:
        return None
    finally:
        os.close(fd)
