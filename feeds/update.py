"""Stage 3 from a few changed files: update the last run's choice of feeds.

A run that finds only a few files changed since the last one does not choose from every
brief again (:class:`~feeds.group.Selector`): it reads the changed files (each a
:class:`Change`) and updates the last choice from them alone, with the rules the
Selector uses (:meth:`~feeds.group.Selection.held_back`, :func:`~feeds.group.replaces`):
:func:`shown_after` finds each changed id's shown copy before and after (and the
duplicate warnings), :func:`held_after` what is held back and until when, and
:func:`reselect` updates the groups the changes touch from their stored
:class:`~feeds.group.GroupState`. Each answers ``None`` when only a full choice can tell.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from feeds.errors import Problem
from feeds.group import (
    MARGIN,
    Candidate,
    GroupKey,
    GroupState,
    Selection,
    groups_of,
    problem_order,
    replaces,
    same_article,
)
from feeds.model import Brief, Counts, from_micros, micros


class Copy(NamedTuple):
    """One file's copy of an article."""

    rel: str
    """The file's path relative to the content folder."""
    brief: Brief


def shown_copy(
    copies: Iterable[Copy], selection: Selection, label: Callable[[str], str]
) -> tuple[Copy | None, list[Problem]]:
    """Which of one article's copies (in source order) is shown, and the warnings for the
    others (``label`` names a file in them): what :meth:`~feeds.group.Selector.add`
    decides for them, one id alone."""
    shown: Copy | None = None
    problems: list[Problem] = []
    for copy in copies:
        if not selection.publishes(copy.brief):
            continue
        if shown is None:
            shown = copy
        elif replaces(copy.brief, shown.brief):
            problems.append(same_article(label(shown.rel), label(copy.rel), copy.brief.id))
            shown = copy
        else:
            problems.append(same_article(label(copy.rel), label(shown.rel), copy.brief.id))
    return shown, problems


class Change(NamedTuple):
    """A source file that changed since the last run."""

    rel: str
    """The file's path relative to the content folder."""
    before: Brief | None
    """Its brief in the last run (``None``: no usable article, or no file)."""
    after: Brief | None
    """Its brief now (``None``: no usable article, or no file any more)."""


def touched(changes: Iterable[Change], groupings: tuple[str, ...]) -> set[GroupKey]:
    """Every group a changed article was or is in: what :func:`reselect` needs the state of."""
    topics, providers = "topics" in groupings, "providers" in groupings
    return {
        group
        for change in changes
        for brief in (change.before, change.after)
        if brief is not None
        for group, _ in groups_of(brief, topics, providers)
    }


def _rank(item: Candidate) -> tuple[int, str]:
    return (-item.published, item.id)


def reselect(
    states: Mapping[GroupKey, GroupState | None],
    changes: Sequence[Change],
    *,
    items_per_feed: int,
    groupings: tuple[str, ...] = ("topics", "providers"),
) -> dict[GroupKey, GroupState | None] | None:
    """The groups in ``states`` after ``changes``, without looking at any other article.

    ``states`` holds the previous state of every group any change touches (``None``: no
    such group yet); the result maps each to its new state (``None``: the group is gone).
    ``changes`` name published articles only (a draft, removed or future article, before
    or after, is ``None``: no article to any group), and no id published twice. Returns ``None``
    when a group is left with fewer known candidates than its feed shows: every brief
    must be chosen from again. Property-tested against :meth:`Selector.finish` on the
    whole corpus.
    """
    n, keep = items_per_feed, MARGIN * items_per_feed
    topics, providers = "topics" in groupings, "providers" in groupings
    named: list[tuple[str, dict[GroupKey, str] | None, dict[GroupKey, str] | None, Change]] = []
    for change in changes:
        rel, before, after = change
        named.append(
            (
                rel,
                dict(groups_of(before, topics, providers)) if before is not None else None,
                dict(groups_of(after, topics, providers)) if after is not None else None,
                change,
            )
        )
    result: dict[GroupKey, GroupState | None] = {}
    for group, state in states.items():
        names = Counter(dict(state.names)) if state is not None else Counter[str]()
        total = state.total if state is not None else 0
        candidates = list(state.candidates) if state is not None else []
        complete = state.complete if state is not None else True
        for rel, old_groups, new_groups, (_, before, after) in named:
            if before is not None and old_groups is not None and group in old_groups:
                total -= 1
                names[old_groups[group]] -= 1
                item = Candidate(before.published, before.id, rel)
                if item in candidates:
                    candidates.remove(item)
            if after is not None and new_groups is not None and group in new_groups:
                total += 1
                names[new_groups[group]] += 1
                item = Candidate(after.published, after.id, rel)
                # Candidates are the group's newest: anything older than the last one is
                # not a candidate, unless the candidates are the whole group.
                if complete or (candidates and _rank(item) < _rank(candidates[-1])):
                    bisect.insort(candidates, item, key=_rank)
        if len(candidates) > keep:
            del candidates[keep:]
            complete = False
        if total <= 0:
            result[group] = None
            continue
        if not complete and len(candidates) < min(n, total):
            return None  # too many left the feed: the next ones are not known here
        result[group] = GroupState(
            names=tuple(sorted((k, v) for k, v in names.items() if v > 0)),
            total=total,
            candidates=tuple(candidates),
            complete=complete,
        )
    return result


class Shown(NamedTuple):
    """What the groups see of some changes (:func:`shown_after`)."""

    changes: list[Change]
    """Each changed id's shown copy before and after (a published article each, or
    ``None``), as :func:`reselect` takes them."""
    duplicates: tuple[Problem, ...]
    """Every duplicate warning after the changes, in file order."""


def shown_after(
    changes: Sequence[Change],
    duplicates: tuple[Problem, ...],
    selection: Selection,
    files_of: Callable[[Collection[str]], Mapping[str, tuple[str, ...]]],
    briefs_of: Callable[[Collection[str]], Mapping[str, Brief | None]],
    prefix: str,
    related_published_only: bool,
) -> Shown | None:
    """What the groups see of ``changes``: for each id a change touches, its shown copy
    before and after (:func:`shown_copy` over every file holding the id), and the
    duplicate warnings after (``duplicates``: those of the last choice).

    ``files_of`` gives the files that held each id in the last run, ``briefs_of`` the
    last run's brief of each file; ``prefix`` + a file's path names it in warnings.
    ``None`` when only a full choice can tell: a removed copy of a changed id, before or
    after (it hides related items while no copy is published), or, with
    ``related_published_only``, an id held by several files.
    """
    ids = {b.id for _, old, new in changes for b in (old, new) if b is not None}
    files = files_of(ids)
    moved = {change.rel for change in changes}
    others = briefs_of({rel for i in ids for rel in files[i] if rel not in moved})

    def label(rel: str) -> str:
        return prefix + rel

    def in_order(copies: list[Copy]) -> list[Copy]:
        return sorted(copies, key=lambda copy: copy.rel.split("/"))  # source order

    shown: list[Change] = []
    gone: set[Problem] = set()
    added: list[Problem] = []
    for id_ in sorted(ids):
        kept = [Copy(rel, b) for rel in files[id_] if rel not in moved and (b := others[rel])]
        was = in_order(kept + [Copy(r, b) for r, b, _ in changes if b is not None and b.id == id_])
        now = in_order(kept + [Copy(r, b) for r, _, b in changes if b is not None and b.id == id_])
        for copies in (was, now):
            if any(copy.brief.removed for copy in copies):
                return None
            if related_published_only and len(copies) > 1:
                return None
        before, old_warnings = shown_copy(was, selection, label)
        after, new_warnings = shown_copy(now, selection, label)
        gone.update(old_warnings)
        added.extend(new_warnings)
        if before is not None and after is not None and before.rel == after.rel:
            if before.brief != after.brief:
                shown.append(Change(before.rel, before.brief, after.brief))
            continue
        if before is not None:
            shown.append(Change(before.rel, before.brief, None))
        if after is not None:
            shown.append(Change(after.rel, None, after.brief))
    if not gone <= set(duplicates):
        return None  # not the warnings the last choice gave: choose again
    remaining = [p for p in duplicates if p not in gone]
    return Shown(shown, tuple(sorted(remaining + added, key=problem_order)))


class HeldBack(NamedTuple):
    """What a choice holds back from every feed (:func:`held_after`)."""

    counts: Counts
    """The usable files held back, by why (``published`` as it was given)."""
    until: datetime | None
    """When time alone will publish another article (``None``: never)."""


def held_after(
    changes: Sequence[Change],
    counts: Counts,
    until: datetime | None,
    selection: Selection,
    related_published_only: bool,
) -> HeldBack | None:
    """The counts of articles held back and the moment the next one comes due after
    ``changes`` (``counts`` and ``until``: the last choice's), or ``None`` when only a
    full choice can tell: with ``related_published_only``, a change involving an
    article not published (the related items it hides change), or the article that was
    to come due next leaving the future (which one comes next is not known here)."""
    why = Counter[str | None]()
    next_due = micros(until) if until is not None else None
    left = False  # the article next due left the future (or the content)
    coming: list[int] = []
    for _, old, new in changes:
        for brief, step in ((old, -1), (new, 1)):
            if brief is None:
                continue
            reason = selection.held_back(brief)
            if related_published_only and reason is not None:
                return None
            if reason == "future":
                if step < 0:
                    left = left or brief.published == next_due
                else:
                    coming.append(brief.published)
            why[reason] += step
    if left and not (coming and next_due is not None and min(coming) <= next_due):
        return None  # which article comes due next is not known here
    if coming and (next_due is None or min(coming) < next_due):
        until = from_micros(min(coming))
    counts = counts._replace(
        drafts=counts.drafts + why["draft"],
        future=counts.future + why["future"],
        removed=counts.removed + why["removed"],
    )
    return HeldBack(counts, until)
