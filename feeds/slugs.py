"""Slugs: the folder names of topic and provider feeds.

A slug depends only on its group key, so it never changes while the key exists:
subscribers' URLs stay valid however the rest of the content changes. When the
readable form loses information (case, punctuation, a reserved or over-long name),
a short hash of the key is appended, which keeps ``C``, ``C++`` and ``C#`` apart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_READABLE = 60
"""Longest readable part of a slug, in characters."""

_SYMBOLS = {"+": "plus", "#": "sharp", "&": "and", "@": "at"}
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)
_LOSSLESS_TOPIC = re.compile(r"^[^\W_]+(?:[ .][^\W_]+)*$")
_LOSSLESS_DOMAIN = re.compile(r"^[^\W_]+(?:[-.][^\W_]+)*$")


def group_key(name: str) -> str:
    """The key under which spellings of one topic merge: NFC, case-folded, spaces folded."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def slugify(key: str, *, domain: bool = False) -> str:
    """A stable, unique, path-safe slug for a group key (see the module docstring).

    Topic keys map spaces to ``-`` (so a key holding ``-`` gets a hash); provider
    domains (``domain=True``) keep ``-`` as it is.
    """
    key = unicodedata.normalize("NFC", key)
    lossless = _LOSSLESS_DOMAIN if domain else _LOSSLESS_TOPIC
    if (
        lossless.match(key)
        and key == key.lower()
        and len(key) <= MAX_READABLE
        and key.split(".")[0] not in _WINDOWS_RESERVED
    ):
        return key.replace(" ", "-")
    words: list[str] = []
    for ch in key.lower():
        if ch.isalnum():
            words.append(ch)
        elif ch in _SYMBOLS:
            words.append(f"-{_SYMBOLS[ch]}-")
        else:
            words.append("-")
    readable = re.sub(r"-{2,}", "-", "".join(words)).strip("-")
    readable = readable[:MAX_READABLE].rstrip("-")
    suffix = _hash(key)
    return f"{readable}-{suffix}" if readable else suffix
