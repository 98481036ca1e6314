"""The whole build, top to bottom, in one function with one error boundary.

load config -> find and read articles -> select and group -> render per format -> write.
``now`` is a parameter: the only time the pipeline knows, used to hold back
future articles. The same content, config and ``now`` give byte-identical output.

With a cache (:mod:`feeds.cache`), only the files that changed are read again and only
the feeds whose inputs changed are rendered again; the result is the same as without.
A writing build holds the output folder's lock (:mod:`feeds.lock`) from start to end, so
overlapping runs never interleave and never see each other's half-done state.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feeds.cache import Cache, RunFacts
from feeds.collect import find_sources, iter_results, read_source
from feeds.config import Config
from feeds.errors import Problem, Severity
from feeds.group import Selection, Selector, hide_related
from feeds.lock import output_lock
from feeds.model import Article
from feeds.render import context_for, render_stream
from feeds.write import WriteReport, write_output


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    content: Path
    output: Path
    now: datetime
    unpublished: bool = False
    future: bool = False
    strict: bool = False
    """Any problem fails the build and leaves the output untouched."""
    write: bool = True
    """False for ``feeds check``: read and render everything, write nothing."""
    lock_wait: float = 0.0
    cache: Path | None = None
    """The cache folder (see :mod:`feeds.cache`); ``None`` reads and renders everything."""
    jobs: int = 1
    """Worker processes for reading files; the output is the same for any number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    problems: tuple[Problem, ...]
    files_read: int
    """Article files found; ``files_reread`` of them were read, the rest came from the cache."""
    files_reread: int
    articles: int
    """Usable articles read (published or not)."""
    feeds: int
    feeds_rendered: int
    """Feeds rendered this run; the others were known to be current and left alone."""
    report: WriteReport | None
    """``None`` when nothing was written (check, or strict with problems)."""
    cache_notes: tuple[str, ...] = ()
    """Cache trouble that made this run colder (never wrong): for the log, not a failure."""
    seconds: float

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) now and then during long builds; the CLI shows it on a terminal."""


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector: a build makes millions of small objects and no
    cycles, and the collector's passes over the growing heap cost more than the build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build(config: Config, options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Run the pipeline; raises :class:`~feeds.errors.FeedsError` only for whole-build failures."""
    with _no_cyclic_gc():
        return _build(config, options, progress)


def _build(config: Config, options: BuildOptions, progress: Progress | None) -> BuildResult:
    started = time.perf_counter()
    show = progress or (lambda stage, done, total: None)
    lock = output_lock(options.output, options.lock_wait) if options.write else nullcontext()
    selection = Selection(now=options.now, unpublished=options.unpublished, future=options.future)
    with lock, Cache.open(options.cache, config) as cache:
        sources, listing_problems = find_sources(options.content)
        last = (
            cache.last_run(options.content, options.output, sources, selection)
            if options.write
            else None
        )
        if last is not None and not (options.strict and last.problems):
            # Nothing changed since the last run: its output stands, its problems remain.
            return BuildResult(
                problems=listing_problems + last.problems,
                files_read=len(sources),
                files_reread=0,
                articles=last.articles,
                feeds=last.feeds,
                feeds_rendered=0,
                report=last.report,
                cache_notes=tuple(cache.notes),
                seconds=time.perf_counter() - started,
            )

        # Read (or take from the cache) every file, streaming each article into the feeds.
        lookup = cache.lookup(options.content, sources)
        fresh = iter_results(lookup.to_read, config.tz, config.max_related, options.jobs)
        selector = Selector(
            selection,
            items_per_feed=config.items_per_feed,
            groupings=config.groupings,
            labels=[s.label for s in lookup.sources],
        )
        read_problems: list[Problem] = []
        usable = 0
        for index, (_, result) in enumerate(cache.merge(lookup, fresh)):
            if index % 1000 == 0:
                show("reading", index, len(lookup.sources))
            read_problems.extend(result.problems)
            if result.article is not None:
                usable += 1
                selector.add(index, result.article)

        def reread(indexes: list[int]) -> list[Article]:
            found = (read_source(lookup.sources[i], config.tz, config.max_related) for i in indexes)
            return [r.article for r in found if r.article is not None]

        site = selector.finish(config.title, reread)
        read_problems.extend(selector.problems)
        problems = listing_problems + tuple(read_problems)

        # Render the feeds whose inputs changed, and write them.
        show("rendering", 0, len(site.feeds))
        context = context_for(site, config)
        writing = options.write and not (options.strict and problems)
        hidden = hashlib.sha256("\n".join(sorted(selector.hidden)).encode()).hexdigest()
        plan = cache.plan_feeds(options.output, site, context, hidden) if writing else None
        keep = plan.keep if plan is not None else frozenset()
        site = hide_related(cache.complete(site, context, keep), selector.hidden)
        paths, files = render_stream(site, config, keep)
        show("writing", 0, len(paths))
        if plan is not None:
            report = write_output(options.output, files, keep, paths)
        else:
            report = None
            for _ in files:  # check renders everything, to find what would fail
                pass
        facts = RunFacts(
            now=options.now,
            until=selector.next_change,
            problems=tuple(read_problems),
            articles=usable - len(selector.problems),
            feeds=len(site.feeds),
        )
        cache.save(plan, report, facts)
    return BuildResult(
        problems=problems,
        files_read=len(sources),
        files_reread=len(lookup.to_read),
        articles=usable - len(selector.problems),
        feeds=len(site.feeds),
        feeds_rendered=len(site.feeds) - (plan.kept_feeds if plan is not None else 0),
        report=report,
        cache_notes=tuple(cache.notes),
        seconds=time.perf_counter() - started,
    )
