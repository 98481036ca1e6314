"""Slugs: the folder names of topic and provider feeds.

Spellings of one topic share a group key (:func:`group_key`): Unicode NFC, case folded,
and spaces, hyphens and underscores alike, so ``COVID-19``, ``covid 19`` and ``Covid_19``
are one topic. Accents and character widths are kept: ``Éducation`` and ``Education``,
``ＡＩ`` and ``AI`` are two topics each.

A slug depends only on its group key, so it never changes while the key exists:
subscribers' URLs stay valid however the rest of the content changes. A key made of
letters, marks and digits (with dots inside words) is its own slug with spaces written
as ``-``: ``covid-19``, ``node.js``, ``москва``, ``京都``. Every other key (``C++``,
``.NET``, ``../x``, ``CON``, an over-long name) gets a readable prefix, ``-`` and 8 hex
digits of a hash of the key: ``c-plus-plus-cedb1bac``. A readable slug never ends in
``-`` and 8 or more hex digits (keys that would are hashed too), so a readable slug is
never another key's hashed one, and ``C``, ``C++``, ``C#`` and ``c sharp`` stay apart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

MAX_READABLE = 60
"""Longest readable part of a slug, in characters: at most 4 bytes each in UTF-8, so a
slug stays well under the 255 bytes a folder name may hold."""

_SYMBOLS = {"+": "plus", "#": "sharp", "&": "and", "@": "at"}
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"{port}{i}" for port in ("com", "lpt") for i in [*"0123456789", "¹", "²", "³"]]
)
_SEPARATORS = ("-", "_", "\u2010", "\u2011")
"""Hyphen-minus, underscore, hyphen and non-breaking hyphen: written as a space in keys."""
_HASH_LIKE = re.compile(r"(?:^|-)[0-9a-f]{8,}\Z")
"""A slug ending like a hashed one: such a readable key is hashed too."""
_LOSSLESS_DOMAIN = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*")


def group_key(name: str) -> str:
    """The key under which spellings of one topic merge: NFC, case folded, and runs of
    spaces, hyphens and underscores written as one space (none at either end)."""
    if name.isascii():  # NFC and case folding leave ASCII as ``lower()`` does: 4x faster
        return " ".join(name.lower().replace("-", " ").replace("_", " ").split())
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    for separator in _SEPARATORS:
        folded = folded.replace(separator, " ")
    return " ".join(folded.split())


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _is_word_char(ch: str) -> bool:
    """A letter, mark or digit of any script: safe in a path on every system."""
    return unicodedata.category(ch)[0] in "LMN"


def _is_readable_word(word: str) -> bool:
    """Letters, marks and digits, with single dots inside (``node.js``, ``asp.net``)."""
    parts = word.split(".")
    return all(part and all(map(_is_word_char, part)) for part in parts)


def _readable_topic(key: str) -> bool:
    return (
        0 < len(key) <= MAX_READABLE
        and group_key(key) == key
        and all(map(_is_readable_word, key.split(" ")))
    )


@lru_cache(maxsize=65536)
def slugify(key: str, *, domain: bool = False) -> str:
    """A stable, unique, path-safe slug for a group key (see the module docstring).

    Provider domains (``domain=True``) are their own slug when they are plain lower-case
    host names (``ifex.org``, ``my-site.example``).
    """
    if domain:
        key = unicodedata.normalize("NFC", key)
        readable = (
            bool(_LOSSLESS_DOMAIN.fullmatch(key))
            and key == key.lower()
            and len(key) <= MAX_READABLE
        )
        slug = key
    else:
        readable = _readable_topic(key)
        slug = key.replace(" ", "-")
    if readable and slug.split(".")[0] not in _WINDOWS_RESERVED and not _HASH_LIKE.search(slug):
        return slug
    words: list[str] = []
    for ch in key.lower():
        if _is_word_char(ch):
            words.append(ch)
        elif ch in _SYMBOLS:
            words.append(f"-{_SYMBOLS[ch]}-")
        else:
            words.append("-")
    prefix = re.sub(r"-{2,}", "-", "".join(words)).strip("-")
    prefix = prefix[:MAX_READABLE].rstrip("-")
    suffix = _hash(key)
    return f"{prefix}-{suffix}" if prefix else suffix
