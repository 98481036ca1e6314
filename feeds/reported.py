"""What the last writing run reported, so that ``--quiet`` prints each problem once.

A writing build records every problem it found (``.feeds-reported.json`` in the output
folder, beside the manifest) as a key: the problem's text and the stamp (size, mtime,
ctime, inode) of every content file it names: its own file and, for a duplicate, the
file it duplicates. A problem of the next run whose key is recorded was already reported
for the same, unchanged files; any edit of a file it names makes it new again. Problems
tied to no file (an unreadable folder) are keyed by their text alone.

The record is kept in the output folder, not in the cache, so that it works with
``--no-cache`` too, is guarded by the output folder's lock, and is written only when it
changes (a run that changes nothing writes nothing). It holds digests, no text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from feeds.errors import Problem
from feeds.model import Stamp
from feeds.sources import Scan
from feeds.write import write_record

RECORD = ".feeds-reported.json"
RECORD_VERSION = 1
_ENDS = re.compile(r"[ ,;):]|\Z")
"""Where a file's name in a problem's text may end: a separator, or the end of the text."""


def problem_keys(problems: Sequence[Problem], found: Scan) -> list[str]:
    """One key per problem: its text and the stamps of the content files it names."""
    if not problems:
        return []
    prefix = found.sources.prefix
    keys: list[str] = []
    for problem in problems:
        text = str(problem)
        stamps: list[tuple[str, Stamp | None]] = []
        if prefix and prefix in text:
            stamps = [(rel, found.stamps[at]) for rel, at in _named_files(text, prefix, found)]
        digest = hashlib.sha256(f"{text}\0{stamps!r}".encode("utf-8", "surrogateescape"))
        keys.append(digest.hexdigest()[:32])
    return keys


def _named_files(text: str, prefix: str, found: Scan) -> list[tuple[str, int]]:
    """The content files (relative paths, with their numbers) whose labels
    (``prefix + rel``) appear in ``text``, in order, each ending at a separator or the
    end of the text; where several names start at one place, the longest is taken."""
    named: list[tuple[str, int]] = []
    start = text.find(prefix)
    while start >= 0:
        begin = start + len(prefix)
        best = None
        end = text.find(".md", begin)  # every source's name ends so: the only ends to try
        while end >= 0:
            end += 3
            if _ENDS.match(text, end):
                at = found.number(text[begin:end])
                if at is not None:
                    best = (text[begin:end], at)
            end = text.find(".md", end)
        if best is not None and best not in named:
            named.append(best)
        start = text.find(prefix, begin)
    return named


def read_reported(output: Path) -> frozenset[str]:
    """The keys the last writing run recorded (none when there is no readable record)."""
    try:
        doc = json.loads((output / RECORD).read_bytes())
        if doc.get("version") != RECORD_VERSION:
            return frozenset()
        return frozenset(str(key) for key in doc["reported"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return frozenset()


def save_reported(output: Path, keys: Collection[str]) -> None:
    """Record ``keys`` as reported, unless the record already says exactly that.

    A record that cannot be written is left as it was: the next run reports those
    problems again, which is noisy but never hides one.
    """
    record = {"version": RECORD_VERSION, "reported": sorted(set(keys))}
    write_record(output / RECORD, json.dumps(record, indent=0).encode("utf-8"))
