"""The whole build, top to bottom, in one function with one error boundary.

load config -> collect articles -> select and group -> render per format -> write.
``now`` is a parameter: the only time the pipeline knows, used to hold back
future articles. The same content, config and ``now`` give byte-identical output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feeds.collect import find_sources, iter_results, read_source
from feeds.config import Config
from feeds.errors import Problem, Severity
from feeds.group import Selection, Selector
from feeds.lock import output_lock
from feeds.model import Article
from feeds.render import render_site
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
    jobs: int = 1
    """Worker processes for reading files; the output is the same for any number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    problems: tuple[Problem, ...]
    files_read: int
    articles: int
    """Usable articles read (published or not)."""
    feeds: int
    report: WriteReport | None
    """``None`` when nothing was written (check, or strict with problems)."""
    seconds: float

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) now and then during long builds; the CLI shows it on a terminal."""


def build(config: Config, options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Run the pipeline; raises :class:`~feeds.errors.FeedsError` only for whole-build failures."""
    started = time.perf_counter()
    sources, found_problems = find_sources(options.content)
    problems: list[Problem] = list(found_problems)
    selection = Selection(now=options.now, unpublished=options.unpublished, future=options.future)
    selector = Selector(
        selection,
        items_per_feed=config.items_per_feed,
        groupings=config.groupings,
        labels=[s.label for s in sources],
    )
    usable = 0
    results = iter_results(sources, config.tz, config.max_related, options.jobs)
    for index, result in enumerate(results):
        if progress is not None and index % 1000 == 0:
            progress("reading", index, len(sources))
        problems.extend(result.problems)
        if result.article is not None:
            usable += 1
            selector.add(index, result.article)

    def reread(indexes: list[int]) -> list[Article]:
        found = (read_source(sources[i], config.tz, config.max_related) for i in indexes)
        return [r.article for r in found if r.article is not None]

    site = selector.finish(config.title, reread)
    problems.extend(selector.problems)
    if progress is not None:
        progress("rendering", 0, len(site.feeds))
    files = render_site(site, config)
    if progress is not None:
        progress("writing", 0, len(files))
    report = None
    if options.write and not (options.strict and problems):
        with output_lock(options.output, options.lock_wait):
            report = write_output(options.output, files)
    return BuildResult(
        problems=tuple(problems),
        files_read=len(sources),
        articles=usable - len(selector.problems),
        feeds=len(site.feeds),
        report=report,
        seconds=time.perf_counter() - started,
    )
