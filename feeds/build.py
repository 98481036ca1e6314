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
from typing import TYPE_CHECKING

from feeds.cache import Cache, RunFacts
from feeds.config import Config
from feeds.errors import BuildError, Problem, Severity
from feeds.group import Selection, Selector, hide_related
from feeds.lock import output_lock
from feeds.model import Brief
from feeds.parallel import ordered_map
from feeds.sources import Source, scan
from feeds.write import WriteReport, write_output

if TYPE_CHECKING:
    from feeds.render import Entries

ATTEMPTS = 3
"""Builds started over when an article file changes between being chosen and rendered."""


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
    lock = output_lock(options.output, options.lock_wait) if options.write else nullcontext()
    with _no_cyclic_gc(), lock:
        for _ in range(ATTEMPTS):
            try:
                return _build(config, options, progress)
            except _ChangedDuringBuild:
                continue  # nothing was published: start over and see the file as it is now
    raise BuildError(
        f"{options.content}: article files kept changing while they were read; try again"
    )


class _ChangedDuringBuild(Exception):
    """An article read for rendering is not the one its brief was taken from."""


def _read_brief(source: Source, config: Config) -> tuple[Brief | None, tuple[Problem, ...]]:
    """Pass one, for every file that changed: what choosing the feeds needs, and problems."""
    from feeds.collect import read_source

    result = read_source(source, config.tz, config.max_related)
    article = result.article
    return (Brief.of(article) if article is not None else None), result.problems


def _build(config: Config, options: BuildOptions, progress: Progress | None) -> BuildResult:
    started = time.perf_counter()
    show = progress or (lambda stage, done, total: None)
    selection = Selection(now=options.now, unpublished=options.unpublished, future=options.future)
    with Cache.open(options.cache, config) as cache:
        found = scan(options.content, options.jobs)
        sources = found.sources
        last = (
            cache.last_run(options.content, options.output, found, selection)
            if options.write
            else None
        )
        if last is not None and not (options.strict and last.problems):
            # Nothing changed since the last run: its output stands, its problems remain.
            return BuildResult(
                problems=found.problems + last.problems,
                files_read=len(sources),
                files_reread=0,
                articles=last.articles,
                feeds=last.feeds,
                feeds_rendered=0,
                report=last.report,
                cache_notes=tuple(cache.notes),
                seconds=time.perf_counter() - started,
            )

        # Reading and rendering need YAML, Markdown, feedgen...: a third of the time of a
        # run that stopped above, so they are imported only now.
        from feeds.collect import read_source
        from feeds.render import context_for, entries, needed, render_stream, to_render

        # Pass one: the brief of every file, from the cache or read (in parallel) again.
        known = cache.known(options.content, found)
        to_read = [i for i in range(len(sources)) if i not in known]
        fresh = ordered_map(lambda i: _read_brief(sources[i], config), to_read, options.jobs)
        selector = Selector(
            selection,
            items_per_feed=config.items_per_feed,
            groupings=config.groupings,
            labels=[s.label for s in sources],
        )
        briefs: dict[int, Brief] = {}
        read_problems: list[Problem] = []
        for index in range(len(sources)):
            if index % 1000 == 0:
                show("reading", index, len(sources))
            held = known.get(index)
            brief, problems = (held.brief, held.problems) if held is not None else next(fresh)
            cache.remember(index, brief, problems)
            read_problems.extend(problems)
            if brief is not None:
                briefs[index] = brief
                selector.add(index, brief)
        usable = len(briefs)
        site = selector.finish(config.title)
        read_problems.extend(selector.problems)
        problems = found.problems + tuple(read_problems)

        # Pass two: read the articles of the feeds that changed and render their entries.
        context = context_for(site, config)
        writing = options.write and not (options.strict and problems)
        hidden = selector.hidden
        digest = hashlib.sha256("\n".join(sorted(hidden)).encode()).hexdigest()
        plan = cache.plan_feeds(options.output, site, context, digest) if writing else None
        keep = plan.keep if plan is not None else frozenset()
        rendered = to_render(site, context, keep)
        wanted = needed(rendered)
        show("rendering", 0, len(wanted))

        def render_one(index: int) -> tuple[int, Entries | None]:
            article = read_source(sources[index], config.tz, config.max_related).article
            if article is None or Brief.of(article) != briefs[index]:
                return index, None
            return index, entries(hide_related(article, hidden), context)

        def checked(stream: Iterator[tuple[int, Entries | None]]) -> Iterator[tuple[int, Entries]]:
            for done, (index, texts) in enumerate(stream):
                if texts is None:
                    raise _ChangedDuringBuild(sources[index].label)
                if done % 1000 == 0:
                    show("rendering", done, len(wanted))
                yield index, texts

        stream = checked(ordered_map(render_one, wanted, options.jobs, chunk=64))
        paths, files = render_stream(site, config, keep, stream)
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
        files_reread=len(to_read),
        articles=usable - len(selector.problems),
        feeds=len(site.feeds),
        feeds_rendered=len(rendered),
        report=report,
        cache_notes=tuple(cache.notes),
        seconds=time.perf_counter() - started,
    )
