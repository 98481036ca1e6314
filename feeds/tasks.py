"""What the build's worker processes do: its two passes over article files, one file at a time.

Pass one (:func:`read_brief`) reads a changed file for its :class:`~feeds.model.Brief`, its
problems and a digest of its bytes; pass two (:func:`render_one`) reads an article of a feed
to render again and renders its entries. Each task is a module-level function
``task(item, shared)`` for :class:`~feeds.parallel.Workers`; what goes to a worker and comes
back are the named tuples below, which carry the ``Brief`` itself.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import TYPE_CHECKING, Any, NamedTuple

from feeds.config import Config
from feeds.errors import Problem
from feeds.group import hide_related
from feeds.model import DIGEST_SIZE, Article, Brief, Stamp
from feeds.sources import Source, Sources, digest_of, stamp_of

if TYPE_CHECKING:
    from feeds.render import Entries


class ChangedDuringBuild(Exception):
    """An article read for rendering is not the one its brief was taken from."""


class Read(NamedTuple):
    """Pass one's answer for one file, as a worker sends it back."""

    brief: Brief | None
    """What choosing the feeds needs of the file's article (``None``: no usable article)."""
    problems: tuple[Problem, ...]
    """What reading the file found wrong, in the file's order."""
    digest: bytes | None = None
    """A digest of the file's bytes at ``ToRead.stamp``, when asked for and still so."""


class ToRead(NamedTuple):
    """A file for pass one, as it is sent to a worker."""

    rel: str
    """The file, relative to the content folder."""
    stamp: Stamp | None = None
    """Its stamp when the run began, to digest its bytes at after reading it (the worker
    has them in the page cache); ``None``: no digest wanted."""


def read_brief(item: ToRead, shared: dict[str, Any]) -> Read:
    """Pass one, for every file that changed: what choosing the feeds needs, and problems.

    ``shared`` holds the ``config`` and the content folder's ``prefix``. The file's
    ``rel`` goes to the worker, not its source number to look up in the sources the worker
    was forked with: taking a reference to each of their strings copied the memory pages
    holding them into each worker (1,035 MB at a million articles, against 935 MB so).
    """
    from feeds.collect import MAX_FILE_BYTES, read_article, read_bytes, read_source

    config: Config = shared["config"]
    source = Sources.source(shared["prefix"], item.rel)
    digest = None
    if item.stamp is None:
        result = read_source(source, config.tz, config.max_related)
    else:
        # One read gives the brief and the digest of the very bytes it was read from:
        # they are the stamp's when the file still has it after reading (the scan took
        # it before).
        try:
            raw, st = read_bytes(source.path)
        except OSError:
            result = read_source(source, config.tz, config.max_related)  # says why
        else:
            result = read_article(source, raw, config.tz, config.max_related)
            if len(raw) > MAX_FILE_BYTES:  # only its beginning was read
                digest = digest_of(source.path, item.stamp)
            elif stamp_of(st) == item.stamp:
                digest = blake2b(raw, digest_size=DIGEST_SIZE).digest()
    article = result.article
    return Read(Brief.of(article) if article is not None else None, result.problems, digest)


def compact(brief: Brief, shared: dict[Any, Any]) -> Brief:
    """``brief`` holding the same topic and provider tuples as every other brief that has
    them, down to each (key, name) pair and its strings (``shared`` holds them): 100,000
    briefs from worker processes otherwise each hold their own copies of all of them."""
    topics = shared.get(brief.topics)
    if topics is None:
        topics = tuple([shared.setdefault(pair, pair) for pair in brief.topics])
        topics = shared.setdefault(topics, topics)
    provider = brief.provider
    if provider is not None:
        provider = shared.setdefault(provider, provider)
    # Not ``_replace``: six times slower, 0.3 s of this process at 100,000 briefs.
    return Brief(brief.id, brief.url, brief.published, brief.draft, brief.removed, topics, provider)


class Wanted(NamedTuple):
    """An article to render, as it is sent to a worker."""

    number: int
    """Its source number."""
    rel: str
    """Its file, relative to the content folder."""
    stamp: Stamp | None
    """Its file's stamp when the run began: a file stamped otherwise now is not rendered."""
    brief: Brief | None
    """Its brief as the feeds were chosen from it (``None``: not at hand, not checked)."""


class Rendered(NamedTuple):
    """An article's entries, as a worker sends them back."""

    number: int
    """Its source number."""
    entries: Entries | None
    """Its entries in each format (``None``: the file changed since it was chosen)."""


def render_one(item: Wanted, shared: dict[str, Any]) -> Rendered:
    """Pass two: read an article again and render its entries (``shared``: the ``config``,
    the ``context``, the ``hidden`` articles)."""
    from feeds.render import entries

    source = Sources.source(shared["prefix"], item.rel)
    article = read_again(source, item.stamp, shared["config"])
    if article is None or (item.brief is not None and Brief.of(article) != item.brief):
        return Rendered(item.number, None)
    return Rendered(
        item.number, entries(hide_related(article, shared["hidden"]), shared["context"])
    )


def read_again(source: Source, stamp: Stamp | None, config: Config) -> Article | None:
    """Pass two: the article of ``source``, or ``None`` if its file is no longer the one
    that was stamped (and chosen from) at the start of the run."""
    from feeds.collect import read_article, read_bytes

    try:
        raw, st = read_bytes(source.path)
    except OSError:
        return None
    if stamp_of(st) != stamp:
        return None
    return read_article(source, raw, config.tz, config.max_related).article
