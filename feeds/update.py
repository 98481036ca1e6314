"""Stage 3 from a few changed files: update the last run's choice of feeds.

A run that finds only a few files changed since the last one does not choose from every
brief again (:class:`~feeds.group.Selector`): it reads the changed files (each a
:class:`Change`) and updates the last choice from them alone, with the rules the
Selector uses (:meth:`~feeds.group.Selection.held_back`, :func:`~feeds.group.replaces`):
:func:`shown_copy` finds each changed id's shown copy and :func:`reselect` updates the
groups the changes touch from their stored :class:`~feeds.group.GroupState`. Each answers
``None`` when only a full choice can tell.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from feeds.errors import Problem
from feeds.group import (
    MARGIN,
    Candidate,
    GroupKey,
    GroupState,
    Selection,
    groups_of,
    replaces,
    same_article,
)
from feeds.model import Brief


def shown_copy(
    copies: Iterable[tuple[str, Brief]], selection: Selection, label: Callable[[str], str]
) -> tuple[tuple[str, Brief] | None, list[Problem]]:
    """Which of one article's copies (rel and brief, in source order) is shown, and the
    warnings for the others: what :meth:`Selector.add` decides for them, one id alone."""
    shown: tuple[str, Brief] | None = None
    problems: list[Problem] = []
    for rel, brief in copies:
        if not selection.publishes(brief):
            continue
        if shown is None:
            shown = (rel, brief)
        elif replaces(brief, shown[1]):
            problems.append(same_article(label(shown[0]), label(rel), brief.id))
            shown = (rel, brief)
        else:
            problems.append(same_article(label(rel), label(shown[0]), brief.id))
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
