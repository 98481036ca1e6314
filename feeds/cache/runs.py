"""The run tier: per content and output folder, the last writing run, so that a run in
which nothing changed is answered without reading a single article.

Table ``runs`` (a digest of every input of the run, the manifest it left, until when time
alone would not change its selection, its counts) and ``run_problems`` (its problems,
a row each).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from feeds.cache.db import NEVER, ints_of, problem_of, problem_row, text, text_of
from feeds.errors import Problem
from feeds.model import Counts, micros


@dataclass(frozen=True, slots=True)
class LastRun:
    """The previous writing run, whose output still stands because nothing changed since."""

    problems: tuple[Problem, ...]
    articles: int
    counts: Counts
    feeds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What a run found, to answer the next run with when nothing changes."""

    until: datetime | None
    """When time alone would change the selection (``None``: never)."""
    problems: tuple[Problem, ...]
    articles: int
    counts: Counts
    feeds: int


def find(
    db: sqlite3.Connection, root: str, output: str, inputs: str, manifest: str, now: datetime
) -> LastRun | None:
    """The run recorded for ``root`` and ``output`` if it had these ``inputs``, left this
    ``manifest`` (a digest), and no article came due since (nor did the clock go back)."""
    output = text(output)
    row = db.execute(
        "SELECT inputs, manifest, now_us, until_us, articles, counts, feeds"
        " FROM runs WHERE root = ? AND output = ?",
        (root, output),
    ).fetchone()
    if row is None:
        return None
    found, left, now_us, until_us, articles, counts, feeds = row
    if found != inputs or left != manifest or not now_us <= micros(now) < until_us:
        return None
    problems = tuple(
        problem_of(*values)
        for values in db.execute(
            "SELECT path, line, field, message, severity FROM run_problems"
            " WHERE root = ? AND output = ? ORDER BY seq",
            (root, output),
        )
    )
    return LastRun(
        problems=problems,
        articles=articles,
        counts=Counts(*ints_of(counts, len(Counts._fields))),
        feeds=feeds,
    )


def save(
    db: sqlite3.Connection,
    root: str,
    output: str,
    *,
    inputs: str | None,
    manifest: str,
    now: datetime,
    facts: RunFacts,
) -> None:
    """Record this run (``inputs`` ``None``: not to be trusted next time, none is kept)."""
    output = text(output)
    db.execute("DELETE FROM runs WHERE root = ? AND output = ?", (root, output))
    db.execute("DELETE FROM run_problems WHERE root = ? AND output = ?", (root, output))
    if inputs is None:
        return
    until = micros(facts.until) if facts.until is not None else NEVER
    db.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (root, output, inputs, manifest, micros(now), until, facts.articles,
         text_of(facts.counts), facts.feeds),
    )  # fmt: skip
    db.executemany(
        "INSERT INTO run_problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ((root, output, seq, *problem_row(p)) for seq, p in enumerate(facts.problems)),
    )
