"""Stage 3 as a build runs it: the feeds chosen from every file's brief (:func:`choose`),
or the last run's choice updated from the files that changed (:func:`update_choice`), with
what the rest of the build needs of the choice (:class:`Chosen`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from feeds import tasks
from feeds.archive_update import Moved
from feeds.cache import (
    ChoiceRecord,
    FileChange,
    FullFiles,
    GroupValues,
    Look,
    Previous,
)
from feeds.cache import Record as StoredRecord
from feeds.config import Config
from feeds.errors import Problem
from feeds.fastyaml import expect as expect_front_matters
from feeds.group import (
    Candidate,
    GroupKey,
    GroupState,
    Record,
    Selection,
    Selector,
    site_of,
)
from feeds.model import (
    DIGEST_SIZE,
    Brief,
    Counts,
    FeedKind,
    Site,
)
from feeds.parallel import Workers
from feeds.sources import Scan, digest_of
from feeds.update import Change, held_after, reselect, shown_after, touched

Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) now and then during long builds; the CLI shows it on a terminal."""


@dataclass(frozen=True, slots=True)
class Chosen:
    """The feeds a run chose (from every brief, or by updating the last run's choice)."""

    site: Site
    problems: tuple[Problem, ...]
    """Reading problems of every file in source order, then duplicates."""
    choice: ChoiceRecord
    briefs: Callable[[int], Brief | None]
    """The brief this run read or holds of a source number (``None``: not at hand): an
    article read again to be rendered must still give the same (and the same stamp)."""
    files_reread: int
    incremental: bool
    shown: Mapping[int, bytes]
    """By source number, the packed stamp its feeds are fingerprinted with where that is
    not its stamp now: a file touched but not changed keeps the stamp its bytes were
    first seen with (see :meth:`~feeds.cache.Look.plan_outputs`)."""
    digested: frozenset[int]
    """Of the files changed just now, those whose bytes were digested at their stamp this
    run (their feeds can be fingerprinted all the same)."""
    every_brief: Callable[[], Sequence[Brief | None]] | None = None
    """With ``archives`` on: the brief of every source number after this run's changes
    (see :mod:`feeds.archive`), asked only when the whole layout is made; ``None`` otherwise."""
    moved: Moved | None = None
    """With ``archives`` on, an updated choice: what it changed, to update the archive
    layout from (see :func:`feeds.layout.lay_out`)."""
    layout: Previous | None = None
    """The last run's archive layout as the cache holds it (an updated choice)."""


def _group_values(state: GroupState) -> GroupValues:
    return (state.names, state.total, state.candidates, state.complete)


def _group_state(values: GroupValues) -> GroupState:
    names, total, candidates, complete = values
    return GroupState(names, total, tuple(map(Candidate._make, candidates)), complete)


def choose(
    config: Config,
    selection: Selection,
    look: Look,
    found: Scan,
    workers: Workers,
    show: Progress,
) -> Chosen:
    """Pass one over every file: its brief from the cache, or read (in parallel) again."""
    sources = found.sources
    rels, stamps = found.rels, found.stamps
    known = look.known()
    racy = look.recent
    digests = bytearray(DIGEST_SIZE * len(sources))  # one for each file; zeros: none
    digested: set[int] = set()  # of the racy files: those digested at their stamp
    shown: dict[int, bytes] = {}

    def take(index: int, digest: bytes | None) -> None:
        if digest is not None:
            digests[DIGEST_SIZE * index : DIGEST_SIZE * (index + 1)] = digest
            if index in racy:
                digested.add(index)

    for index, stored in list(known.items()):
        digest = stored.digest
        if not stored.current:  # touched, or changed? Its bytes tell.
            digest = digest_of(sources.prefix + rels[index], stamps[index])
            if digest is None or digest != stored.digest:
                del known[index]
                continue
        take(index, digest)
        if stored.shown is not None:
            shown[index] = stored.shown
    to_read = [i for i in range(len(sources)) if i not in known]
    # A file changed just now is digested before it is read (an edit in the same clock
    # tick then shows as other bytes next run).
    keeping = look.keeping
    for index in racy.intersection(to_read) if keeping else ():
        take(index, digest_of(sources.prefix + rels[index], stamps[index]))
    # The others are digested after they are read, at the same stamp, by the worker.
    expect_front_matters(len(to_read))
    fresh = workers.map(
        tasks.read_brief,
        [tasks.ToRead(rels[i], stamps[i] if keeping and i not in racy else None) for i in to_read],
    )
    selector = Selector(
        selection,
        items_per_feed=config.items_per_feed,
        groupings=config.groupings,
        label=sources.label,
        rels=found.rels,
        size=len(sources),
        related_published_only=config.related_published_only,
    )
    by_file: dict[int, tuple[Problem, ...]] = {}
    shared: dict[Any, Any] = {}
    read_problems: list[Problem] = []
    for index in range(len(sources)):
        if index % 1000 == 0:
            show("reading", index, len(sources))
        held = known.get(index)
        if held is not None:
            brief, problems = held.brief, held.problems
        else:
            brief, problems, digest = next(fresh)
            take(index, digest)
        if problems:
            by_file[index] = problems
            read_problems.extend(problems)
        if brief is not None:
            selector.add(index, tasks.compact(brief, shared))
    briefs = selector.briefs
    usable = len(sources) - briefs.count(None)
    site = selector.finish(config.title)
    records = {
        group: state.record(config.items_per_feed) for group, state in selector.states.items()
    }
    choice = ChoiceRecord(
        files=FullFiles(briefs=briefs, problems=by_file, digests=bytes(digests), shown=shown),
        groups={
            group: (_group_values(state), records[group])
            for group, state in selector.states.items()
        },
        hidden=selector.hidden,
        until=selector.next_change,
        duplicates=tuple(selector.problems),
        articles=usable - len(selector.problems),
        counts=_held_back(briefs, selection)._replace(published=_published(records)),
    )
    return Chosen(
        site=site,
        problems=tuple(read_problems) + tuple(selector.problems),
        choice=choice,
        briefs=briefs.__getitem__,
        files_reread=len(to_read),
        incremental=False,
        shown=shown,
        digested=frozenset(digested),
        every_brief=(lambda: briefs) if config.archives else None,
    )


def update_choice(
    config: Config,
    selection: Selection,
    look: Look,
    found: Scan,
    workers: Workers,
    show: Progress,
) -> Chosen | None:
    """Update the last run's choice from the files that changed, or ``None``: choose again.

    Only the changed files are read, and only the groups they were or are in are looked
    at (:func:`~feeds.update.reselect`), which see each touched article's shown copy
    before and after: drafts, future and duplicate copies are updated this way too (see
    :func:`~feeds.update.shown_after` and :func:`~feeds.update.held_after` for what is
    left to a full choice).
    """
    previous = look.previous(selection.now)
    if previous is None:
        return None
    sources = found.sources
    index_of = found.index_of()
    # A file whose stamp changed but whose bytes did not was touched: it keeps what it
    # gave, and its feeds the stamp they were fingerprinted with.
    digested = previous.digested([rel for rel, index in previous.changed if index is not None])
    touched_only: list[FileChange] = []
    taken: dict[int, bytes] = {}
    changed: list[tuple[str, int | None]] = []
    for rel, index in previous.changed:
        if index is not None:
            digest = digest_of(sources.prefix + rel, found.stamps[index])
            if digest is not None:
                taken[index] = digest
                kept = digested.get(rel)
                if kept is not None and kept.digest == digest:
                    touched_only.append(
                        FileChange(
                            rel=rel,
                            index=index,
                            brief=kept.brief,
                            problems=kept.problems,
                            digest=digest,
                            shown=kept.shown,
                        )
                    )
                    continue
        changed.append((rel, index))
    stamps_shown = {index_of[r]: seen for r, seen in previous.shown.items() if r in index_of}
    for rel, _ in changed:
        stamps_shown.pop(index_of.get(rel, -1), None)
    stamps_shown.update((c.index, c.shown) for c in touched_only if c.index is not None and c.shown)
    before = previous.briefs_of([rel for rel, _ in changed])
    indexes = [index for _, index in changed if index is not None]
    expect_front_matters(len(indexes))
    fresh = dict(
        zip(
            indexes,
            workers.map(tasks.read_brief, [tasks.ToRead(found.rels[i]) for i in indexes]),
            strict=True,
        )
    )
    changes: list[Change] = []
    for rel, index in changed:
        after = fresh[index].brief if index is not None else None
        changes.append(Change(rel, before[rel], after))
    copies = shown_after(
        changes,
        previous.duplicates,
        selection,
        previous.files_of,
        previous.briefs_of,
        sources.prefix,
        config.related_published_only,
    )
    held = held_after(
        changes, previous.counts, previous.until, selection, config.related_published_only
    )
    if copies is None or held is None:
        return None
    shown, duplicates = copies
    counts, until = held
    stored = previous.group_states(touched(shown, config.groupings))
    states = reselect(
        {group: None if v is None else _group_state(v) for group, v in stored.items()},
        shown,
        items_per_feed=config.items_per_feed,
        groupings=config.groupings,
    )
    if states is None:
        return None
    files = (
        *touched_only,
        *(
            FileChange(
                rel=rel,
                index=index,
                brief=new,
                problems=fresh[index].problems if index is not None else (),
                digest=taken.get(index) if index is not None else None,
            )
            for (rel, _, new), (_, index) in zip(changes, changed, strict=True)
        ),
    )
    by_file = dict(previous.problems)
    for change in files:
        if change.problems:
            by_file[change.rel] = change.problems
        else:
            by_file.pop(change.rel, None)
    records = {group: Record._make(record) for group, record in previous.records.items()}
    groups: dict[GroupKey, tuple[GroupValues, StoredRecord] | None] = {}
    for group, state in states.items():
        if state is None:
            records.pop(group, None)
            groups[group] = None
        else:
            records[group] = state.record(config.items_per_feed)
            groups[group] = (_group_values(state), records[group])
    site = site_of(records, config.title, index_of)

    fresh_briefs = {i: read.brief for i, read in fresh.items() if read.brief is not None}

    def every_brief() -> list[Brief | None]:
        briefs = previous.every_brief(found.rels)
        for change in files:
            if change.index is not None:
                briefs[change.index] = change.brief
        return briefs

    moved = None
    if config.archives:  # what the archive layout is updated from (feeds.archive.updated)
        n = config.items_per_feed
        moved = Moved(
            shown=shown,
            files=changes,
            feeds_before={g: v[2][:n] for g, v in stored.items() if v is not None},
            feeds_after={g: s.candidates[:n] for g, s in states.items() if s is not None},
            renamed={
                g
                for g in states
                if g in records
                and g in previous.records
                and previous.records[g][0] != records[g].name
            },
        )

    problems = tuple(p for rel in sorted(by_file, key=lambda r: r.split("/")) for p in by_file[rel])
    show("reading", len(sources), len(sources))
    articles = (
        previous.articles
        + sum((new is not None) - (old is not None) for _, old, new in changes)
        - (len(duplicates) - len(previous.duplicates))
    )
    choice = ChoiceRecord(
        files=files,
        groups=groups,
        hidden=previous.hidden,
        until=until,
        duplicates=duplicates,
        articles=articles,
        counts=counts._replace(published=_published(records)),
    )
    return Chosen(
        site=site,
        problems=problems + duplicates,
        choice=choice,
        briefs=fresh_briefs.get,
        files_reread=len(indexes),
        incremental=True,
        shown=stamps_shown,
        digested=frozenset(taken),
        every_brief=every_brief if config.archives else None,
        moved=moved,
        layout=previous,
    )


def _published(records: Mapping[GroupKey, Record]) -> int:
    """The articles published: the site feed's total (one per id)."""
    site = records.get((FeedKind.SITE, ""))
    return site[1] if site is not None else 0


def _held_back(briefs: Iterable[Brief | None], selection: Selection) -> Counts:
    """The usable files held back from every feed, by why (``published`` left 0)."""
    why = Counter(selection.held_back(brief) for brief in briefs if brief is not None)
    return Counts(drafts=why["draft"], future=why["future"], removed=why["removed"])
