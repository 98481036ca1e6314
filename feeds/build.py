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
import itertools
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urlsplit

from feeds import tasks
from feeds.archive import (
    Histories,
    histories,
)
from feeds.cache import (
    Cache,
    Damaged,
    FeedPlan,
    Output,
    RunFacts,
    RunRecord,
    Settings,
    Written,
)
from feeds.choosing import Progress, choose, update_choice
from feeds.config import Config
from feeds.errors import BuildError, Problem, Severity
from feeds.fastyaml import expect as expect_front_matters
from feeds.group import (
    MARGIN,
    GroupKey,
    Selection,
)
from feeds.guard import Removal, removal_refused
from feeds.layout import Layout, lay_out
from feeds.lock import output_lock
from feeds.manifest import Manifest, is_intact, read_old
from feeds.model import (
    Counts,
    Feed,
    Site,
)
from feeds.parallel import Workers
from feeds.reported import problem_keys, read_reported, save_reported
from feeds.sources import (
    Scan,
    scan,
    template_files,
)
from feeds.write import WriteReport, nothing_written, write_output

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
    allow_removal: bool = True
    """False: refuse to write when the run would remove more than the configured
    ``max_removed_share`` of the topic and provider feeds the last run published (see
    :func:`~feeds.guard.removal_refused`); the command line sets it from ``--allow-removal``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildResult:
    problems: tuple[Problem, ...]
    files_read: int
    """Article files found; ``files_reread`` of them were read, the rest came from the cache."""
    files_reread: int
    articles: int
    """Usable articles read (published or not)."""
    counts: Counts = field(default_factory=Counts)
    """Articles published and held back (drafts, future, removed)."""
    feeds: int
    feeds_rendered: int
    """Feeds rendered this run; the others were known to be current and left alone."""
    documents_planned: int = 0
    """Feed and archive documents whose inputs this run looked at (fingerprinted): with
    archives on, an updated choice looks only at the archive documents its changes touch."""
    report: WriteReport | None
    """``None`` when nothing was written (check, or strict with problems)."""
    cache_notes: tuple[str, ...] = ()
    """Cache trouble that made this run colder (never wrong): for the log, not a failure."""
    seconds: float
    incremental: bool = False
    """The feeds were chosen by updating the last run's choice from the changed files."""
    refused: Removal | None = None
    """The run would have removed too many feeds and wrote nothing (see ``allow_removal``)."""
    new_problems: tuple[Problem, ...] | None = None
    """Of ``problems``, those the last writing run did not report for the same, unchanged
    files (see :mod:`feeds.reported`); ``None``: all of them are new."""

    @property
    def unreported(self) -> tuple[Problem, ...]:
        """What ``--quiet`` prints: the problems not reported before."""
        return self.problems if self.new_problems is None else self.new_problems

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


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
            # Everything the build made is old news to the collector: without the freeze,
            # its first pass after re-enabling would walk all of it (76 ms at 100k).
            gc.freeze()
            gc.enable()


def build(config: Config, options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Run the pipeline; raises :class:`~feeds.errors.FeedsError` only for whole-build failures."""
    lock = output_lock(options.output, options.lock_wait) if options.write else nullcontext()
    notes: list[str] = []
    with _no_cyclic_gc(), lock:
        for _ in range(ATTEMPTS):
            try:
                result = _build(config, options, progress)
            except tasks.ChangedDuringBuild:
                continue  # nothing was published: start over, seeing the files as they are now
            except Damaged as e:
                notes.extend(e.notes)  # discarded: start over from scratch
                continue
            return replace(result, cache_notes=(*notes, *result.cache_notes))
    raise BuildError(
        f"{options.content}: article files kept changing while they were read; try again"
    )


def _build(config: Config, options: BuildOptions, progress: Progress | None) -> BuildResult:
    started = time.perf_counter()
    show = progress or (lambda stage, done, total: None)
    selection = Selection(now=options.now, unpublished=options.unpublished, future=options.future)
    with (
        Cache.open(options.cache, read_only=not options.write) as cache,
        Workers(options.jobs) as workers,
        ExitStack() as cleanup,
    ):
        found = scan(options.content, options.jobs, since=cache.trusted_before)
        sources = found.sources
        if found.unreadable and options.write:
            # A folder that cannot be listed is a fault, not a deletion: publishing
            # without its articles would remove their feeds. Keep the last output as is.
            # Its problem is recorded beside the earlier ones, so --quiet says it once.
            return BuildResult(
                problems=found.problems,
                new_problems=_reported(options, found, found.problems, record=True, keep=True),
                files_read=len(sources),
                files_reread=0,
                articles=0,
                feeds=0,
                feeds_rendered=0,
                report=None,
                seconds=time.perf_counter() - started,
            )
        look = cache.look(
            options.content,
            _settings(config, selection),
            rels=found.rels,
            stamps=found.stamps,
            runs=found.runs,
            recent=found.recent,
            notes=tuple(str(problem) for problem in found.problems),
        )
        output, manifest = _output(options.output) if options.write else (None, None)
        last = look.last_run(output, selection.now) if output is not None else None
        if manifest is not None and last is not None and not (options.strict and last.problems):
            # Nothing changed since the last run: its output stands, its problems remain.
            problems = found.problems + last.problems
            return BuildResult(
                problems=problems,
                new_problems=_reported(options, found, problems, record=True),
                files_read=len(sources),
                files_reread=0,
                articles=last.articles,
                counts=last.counts,
                feeds=last.feeds,
                feeds_rendered=0,
                report=nothing_written(manifest),
                cache_notes=tuple(cache.notes),
                seconds=time.perf_counter() - started,
            )

        # Reading and rendering need YAML, Markdown, Jinja...: a third of the time of a
        # run that stopped above, so they are imported only now (and before any worker is
        # forked, which then shares them).
        import feeds.collect  # noqa: F401
        from feeds.render import (
            Capped,
            FeedFiles,
            Oversized,
            capped_warning,
            context_for,
            feed_files,
            is_kept,
            needed,
            output_stream,
            render_feeds,
            to_render,
        )
        from feeds.reuse import item_keys, record, reusable

        workers.share(config=config, prefix=sources.prefix)
        chosen = update_choice(config, selection, look, found, workers, show)
        if chosen is None:
            chosen = choose(config, selection, look, found, workers, show)
        site, hidden = chosen.site, chosen.choice.hidden
        problems = found.problems + chosen.problems

        writing = options.write and not (options.strict and problems)
        refused = None
        if writing and not options.allow_removal:
            refused = removal_refused(
                options.output,
                site,
                config.max_removed_share,
                manifest.files if manifest is not None else None,
            )
        if refused is not None:  # decided before anything is written, the cache included
            return BuildResult(
                problems=problems,
                new_problems=_reported(options, found, problems, record=False),
                files_read=len(sources),
                files_reread=chosen.files_reread,
                articles=chosen.choice.articles,
                counts=chosen.choice.counts,
                feeds=len(site.feeds),
                feeds_rendered=0,
                report=None,
                cache_notes=tuple(cache.notes),
                seconds=time.perf_counter() - started,
                incremental=chosen.incremental,
                refused=refused,
            )

        # Pass two: read the articles of the feeds that changed and render their entries.
        # Jinja's compiled templates are kept beside the cache (not by a run that only checks).
        compiled = str(options.cache / "templates") if options.cache and options.write else None
        context = context_for(site, config, compiled)
        digest = hashlib.sha256("\n".join(sorted(hidden)).encode()).hexdigest()
        chosen_site = site
        stored: dict[str, int] = {}  # with archives: the items each feed wrote last run
        # With archives, the layout is first the one where every feed writes every item it
        # holds (stored and updated per month, see feeds.layout). Only when a feed writes
        # fewer (max_feed_bytes) is it made from every brief and each feed's count
        # (feeds.archive.Histories), and the cache then keeps no layout.
        layout: Layout | None = None
        history: Histories | None = None
        if config.archives:
            if writing and output is not None:
                stored = look.written_counts(output)
            layout = lay_out(config, selection, look, chosen, found, output, manifest, digest)
            site = layout.site
        feed_counts: dict[str, int] = {}
        every = {(feed.kind, feed.key): len(feed.members) for feed in chosen_site.feeds}

        def planned() -> tuple[FeedPlan | None, frozenset[str]]:
            if not writing or output is None:
                return None, frozenset()
            feed_paths = [
                (feed, feed_files(feed, context)) for feed in (*site.feeds, *site.archives)
            ]
            made = look.plan_outputs(
                output,
                feed_paths,
                digest,
                shown=chosen.shown,
                digested=chosen.digested,
                looked=layout.looked if layout is not None else None,
            )
            keep = made.keep
            if layout is not None and layout.kept:
                keep = keep | layout.kept  # the archive documents no change touched
            # A feed's files are kept only with the count of items they hold: the
            # archives are laid out from it.
            unknown = [
                path
                for feed in (site.feeds if config.archives else ())
                if feed.folder not in stored
                for path in feed_files(feed, context)
            ]
            return made, keep.difference(unknown)

        plan, keep = planned()
        briefs = chosen.briefs
        rels = found.rels

        keys = item_keys(look.output_settings(digest), rels, found.stamps, look.recent)

        def entries(feeds: list[Feed]) -> Iterator[tuple[int, Entries]]:
            """The entries of the articles ``feeds`` hold, in the order
            :func:`~feeds.render.render_feeds` takes them: taken from the files the last
            runs wrote when they hold them (:mod:`feeds.reuse`), else read again and
            rendered (in the workers)."""
            wanted = needed(feeds)
            show("rendering", 0, len(wanted))
            reused: dict[int, Entries] = {}
            if plan is not None and output is not None:
                old = look.old_items(output, [feed.folder for feed in feeds])
                reused = reusable(feeds, context, old, wanted, keys, options.output)
            # Everything comes with the item: a worker that touched the parent's lists would
            # copy their memory pages (forked memory is shared until either side writes to it).
            items = [
                tasks.Wanted(i, rels[i], found.stamps[i], briefs(i))
                for i in wanted
                if i not in reused
            ]
            expect_front_matters(len(items))
            rendered = workers.map(tasks.render_one, items)
            for done, index in enumerate(wanted):
                texts = reused.get(index)
                if texts is None:
                    number, texts = next(rendered)
                    if texts is None:
                        raise tasks.ChangedDuringBuild(sources.label(number))
                if done % 1000 == 0:
                    show("rendering", done, len(wanted))
                yield index, texts

        drawn_items: dict[str, FeedFiles] = {}  # the last rendering of each feed document

        def draw(feeds: list[Feed]) -> Iterator[FeedFiles]:
            """Render ``feeds``, noting where their items are (see :mod:`feeds.reuse`)."""
            for done in render_feeds(feeds, context, entries(feeds), capped.append):
                # Its bytes are not kept: the written files' digests stand for them.
                drawn_items[done.feed.folder] = replace(
                    done, files=[(path, b"") for path, _ in done.files]
                )
                yield done

        workers.share(context=context_for(Site(), config, compiled), hidden=hidden)
        capped: list[Capped | Oversized] = []
        first: list[Feed] = []  # with archives: the subscription feeds, rendered first
        first_paths: list[str] = []
        spool = _Spool(options.output if plan is not None else None)
        cleanup.callback(spool.close)
        drawn: Iterator[FeedFiles] | None = None
        later: list[Feed] = []  # the feeds rendered after ``first``

        def feeds_first() -> None:
            """Render the subscription feeds (their files held aside), then, from the same
            stream of entries, the archives of the layout: ``first``, ``later``, ``drawn``,
            ``feed_counts`` and ``first_paths`` of this layout."""
            nonlocal first, later, drawn, feed_counts, first_paths
            first = [
                history.linked(feed) if history is not None else feed
                for feed in site.feeds
                if not is_kept(feed, context, keep)
            ]
            later = [feed for feed in site.archives if not is_kept(feed, context, keep)]
            drawn = draw(first + later)
            rendering = {feed.folder for feed in first}
            feed_counts = {
                feed.folder: stored[feed.folder]
                for feed in site.feeds
                if feed.folder not in rendering
            }
            first_paths = []
            for done in itertools.islice(drawn, len(first)):
                feed_counts[done.feed.folder] = done.written
                for path, data in done.files:
                    first_paths.append(path)
                    spool.add(path, data)

        if config.archives:
            # Which items each feed writes decides what its archives hold: the feeds are
            # rendered first, then the archives laid out from the counts the feeds were
            # last written with (every item, with ``layout``). A feed that now writes
            # another count changes the layout: the archives are then planned again and
            # rendered from a stream of their own.
            feeds_first()
            if layout is not None and _counts(chosen_site, feed_counts) != every:
                # A feed writes fewer than its items: the layout of every feed's count,
                # from every brief, and the feeds rendered again with the link for every
                # count they may write.
                drawn = None
                spool.close()
                spool = _Spool(options.output if plan is not None else None)
                cleanup.callback(spool.close)
                capped.clear()
                drawn_items.clear()
                layout = None
                assert chosen.every_brief is not None
                history = histories(config, selection, chosen.every_brief())
                site = history.laid_out(chosen_site, _counts(chosen_site, stored))
                plan, keep = planned()
                feeds_first()
            if history is not None and _counts(chosen_site, feed_counts) != _counts(
                chosen_site, stored
            ):
                drawn = None
                site = history.laid_out(chosen_site, _counts(chosen_site, feed_counts))
                subscription = {p for feed in site.feeds for p in feed_files(feed, context)}
                before = keep
                plan, keep = planned()  # again: what the new layout keeps
                # The feeds stay as the first plan found them (the same fingerprints).
                keep = frozenset(
                    [p for p in before if p in subscription]
                    + [p for p in keep if p not in subscription]
                )
                later = [feed for feed in site.archives if not is_kept(feed, context, keep)]
                drawn = draw(later)
            keep = keep.difference(first_paths)
        else:
            later = to_render(site, context, keep)
            drawn = draw(later)
        assert drawn is not None
        pages_kept = plan is not None and plan.pages_kept
        rendered = first + later
        paths, files = output_stream(site, context, later, drawn, pages=not pages_kept)
        paths = (*first_paths, *paths)
        files = itertools.chain(spool.files(), files)
        if plan is not None and not pages_kept:  # record what the pages were made from
            rendered_paths = {p for feed in rendered for p in feed_files(feed, context)}
            plan = plan.with_pages([p for p in paths if p not in rendered_paths])
        show("writing", 0, len(paths))
        if plan is not None:
            report = write_output(
                options.output,
                files,
                keep,
                paths,
                base_path=unquote(urlsplit(config.base_url).path),
                old=manifest,
                keep_parts=layout.kept_parts if layout is not None else (),
            )
        else:
            report = None
            for _ in files:  # check renders everything, to find what would fail
                pass
        workers.close()  # before saving the cache, which needs memory of its own
        written = None
        if plan is not None and report is not None and output is not None:
            facts = RunFacts(
                until=chosen.choice.until,
                problems=chosen.problems,
                articles=chosen.choice.articles,
                counts=chosen.choice.counts,
                feeds=len(site.feeds),
            )
            written = Written(
                root=output.root,
                plan=plan,
                digests=report.digests,
                manifest_sha256=report.manifest_sha256,
                facts=facts,
                counts=feed_counts,
                items={
                    folder: noted
                    for folder, done in drawn_items.items()
                    if (noted := record(done, keys, report.digests)) is not None
                },
            )
        archives = None
        if layout is not None:
            archives = layout.record
            if written is not None and report is not None:
                head = (written.root, look.output_settings(digest), report.manifest_sha256)
                archives = replace(archives, head=head)
        look.save(
            RunRecord(now=selection.now, choice=chosen.choice, written=written, archives=archives)
        )
        problems += tuple(map(capped_warning, capped))  # known once rendered
        new_problems = _reported(options, found, problems, record=report is not None)
    return BuildResult(
        problems=problems,
        new_problems=new_problems,
        files_read=len(sources),
        files_reread=chosen.files_reread,
        articles=chosen.choice.articles,
        counts=chosen.choice.counts,
        feeds=len(site.feeds),
        feeds_rendered=len(rendered),
        documents_planned=len(site.feeds) + len(site.archives),
        report=report,
        cache_notes=tuple(cache.notes),
        seconds=time.perf_counter() - started,
        incremental=chosen.incremental,
    )


def _counts(site: Site, by_folder: Mapping[str, int]) -> dict[GroupKey, int]:
    """How many items each subscription feed of ``site`` writes, by group, from
    ``by_folder`` (all of its items when not there)."""
    counts: dict[GroupKey, int] = {}
    for feed in site.feeds:
        every = len(feed.members)
        counts[feed.kind, feed.key] = min(by_folder.get(feed.folder, every), every)
    return counts


class _Spool:
    """Files rendered before the paths of the whole output are known, held aside in order
    until they are written: in memory, or past :data:`SPOOL_BYTES` in an unnamed
    temporary file in the output folder (gone with the process, whatever happens).
    ``folder`` ``None``: nothing is written, they are dropped."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._held: list[tuple[str, bytes]] = []
        self._bytes = 0
        self._file: BinaryIO | None = None
        self._sizes: list[tuple[str, int]] = []

    def add(self, path: str, data: bytes) -> None:
        if self._folder is None:
            return
        if self._file is None:
            self._held.append((path, data))
            self._bytes += len(data)
            if self._bytes <= SPOOL_BYTES:
                return
            import tempfile

            # Closed by close(), which the build's exit stack calls.
            self._file = tempfile.TemporaryFile(dir=self._folder)  # noqa: SIM115
            held, self._held = self._held, []
        else:
            held = [(path, data)]
        for rel, content in held:
            self._file.write(content)
            self._sizes.append((rel, len(content)))

    def files(self) -> Iterator[tuple[str, bytes]]:
        """The files held, in the order they came, each once."""
        held, self._held = self._held, []
        yield from held
        spooled = self._file
        if spooled is not None:
            spooled.seek(0)
            for path, size in self._sizes:
                yield path, spooled.read(size)
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


SPOOL_BYTES = 16 * 1024 * 1024
"""Files held aside (see :class:`_Spool`) past this many bytes go to a temporary file."""


def _settings(config: Config, selection: Selection) -> Settings:
    """What of ``config`` and ``selection`` the cache tells apart."""
    copied = tuple(
        value
        for value in (config.icon, config.favicon)
        if value is not None and not value.startswith(("http://", "https://"))
    )
    return Settings(
        everything=repr(config),
        reading=f"tz={config.timezone};max_related={config.max_related}",
        choosing=(
            f"items={config.items_per_feed};margin={MARGIN};groupings={','.join(config.groupings)};"
            f"unpublished={selection.unpublished};future={selection.future}"
        ),
        templates=tuple(template_files(config.templates)) if config.templates is not None else (),
        copied=copied,
    )


def _output(folder: Path) -> tuple[Output, Manifest]:
    """The output folder as the cache needs it (its files as the manifest records them),
    and the manifest as read (once a run: the write takes it from here)."""
    root = folder.resolve()
    manifest = read_old(root)
    output = Output(
        root=str(root),
        manifest=manifest,
        intact=lambda rel, entry: is_intact(root, rel, entry),
        digest=manifest.sha256,
        whole=manifest.intact,
    )
    return output, manifest


def _reported(
    options: BuildOptions,
    found: Scan,
    problems: tuple[Problem, ...],
    *,
    record: bool,
    keep: bool = False,
) -> tuple[Problem, ...] | None:
    """Of ``problems``, those the last writing run did not report for the same files
    (``None`` for a run that writes nothing: all of them); ``record``: note them all as
    reported now (see :mod:`feeds.reported`), ``keep``: beside those noted before (a run
    that saw only part of the content)."""
    if not options.write:
        return None
    keys = problem_keys(problems, found)
    before = read_reported(options.output)
    if record:
        save_reported(options.output, [*before, *keys] if keep else keys)
    return tuple(p for p, key in zip(problems, keys, strict=True) if key not in before)
