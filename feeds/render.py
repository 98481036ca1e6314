"""Stage 4: render every feed in every configured format, and the site pages.

An article's entry is rendered once per format (:func:`entries`), however many feeds
hold it, and spliced into each of their documents. Feeds name their articles by source
number (``Feed.members``) and the entries arrive as a stream, in the order the feeds
first need them (:func:`needed`, :func:`render_stream`); the stream can be rendered by
worker processes. Nothing here reads the clock or the disk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, replace

from feeds.config import Config
from feeds.errors import Problem, Severity
from feeds.formats import FEED_FORMATS, GROUP_PAGE, SITE_PAGES
from feeds.formats.common import Context, FormatInfo
from feeds.model import Article, Feed, FeedKind, Site

Entries = tuple[str, ...]
"""One article's entry in each configured format, in ``Context.formats`` order, then its
entry on a group page, then its provider's logo URL (``""``: none), which a provider
feed takes as its icon."""


def context_for(site: Site, config: Config) -> Context:
    infos = tuple(FEED_FORMATS[name].info for name in config.formats)
    return Context(config=config, site=site, formats=infos)


def feed_files(feed: Feed, context: Context) -> tuple[str, ...]:
    """The output paths of one feed, one per format, then its group page (if it has one)."""
    folder = feed.folder
    prefix = f"{folder}/" if folder else ""
    paths = [prefix + info.filename for info in context.formats]
    if _has_page(feed):
        paths.append(prefix + GROUP_PAGE.info.filename)
    return tuple(paths)


def _has_page(feed: Feed) -> bool:
    """Topic and provider feeds have a page; the site feed's page is the index; archive
    documents have none."""
    return feed.kind is not FeedKind.SITE and not feed.is_archive


def _path(feed: Feed, info: FormatInfo) -> str:
    return f"{feed.folder}/{info.filename}" if feed.folder else info.filename


def is_kept(feed: Feed, context: Context, keep: Collection[str]) -> bool:
    """Whether every file of ``feed`` is in ``keep``: known to be current, not rendered."""
    return bool(keep) and all(path in keep for path in feed_files(feed, context))


def entries(article: Article, context: Context) -> Entries:
    """``article``'s entry in every configured format, and on a group page."""
    provider = article.provider
    logo = provider.image.url if provider is not None and provider.image is not None else ""
    return tuple(
        [FEED_FORMATS[info.name].entry(article, context) for info in context.formats]
        + [GROUP_PAGE.entry(article, context), logo]
    )


@dataclass(frozen=True, slots=True)
class Capped:
    """A feed document that lost its oldest items to fit in ``max_feed_bytes``."""

    path: str
    kept: int
    items: int
    size: int
    """The bytes the whole document would have had."""


OnCapped = Callable[[Capped], None]


def capped_warning(capped: Capped) -> Problem:
    """The warning that names a capped feed document."""
    left_out = capped.items - capped.kept
    return Problem(
        path=capped.path,
        line=0,
        field="max_feed_bytes",
        message=f"{left_out} oldest of {capped.items} items left out: with them the feed would be "
        f"{capped.size:,} bytes",
        severity=Severity.WARNING,
    )


def documents(
    feed: Feed, context: Context, texts: list[Entries], on_capped: OnCapped | None = None
) -> Iterator[tuple[str, bytes]]:
    """The files of one feed, given the entries of its articles in feed order.

    Each feed format is capped at ``max_feed_bytes`` on its own (see :func:`_capped`);
    ``on_capped`` is told of every document that was."""
    page = len(context.formats)
    if feed.kind is FeedKind.PROVIDER:
        logo = next((text[page + 1] for text in texts if text[page + 1]), None)
        feed = replace(feed, icon=logo)
    for position, info in enumerate(context.formats):
        items = [text[position] for text in texts]
        path = _path(feed, info)
        data = FEED_FORMATS[info.name].document(feed, context, items)
        size = len(data)
        if size > context.config.max_feed_bytes:
            data, kept = _capped(feed, context, info.name, items, size)
            if on_capped is not None:
                on_capped(Capped(path, kept, len(items), size))
        yield path, data
    if _has_page(feed):
        items = [text[page] for text in texts]
        yield _path(feed, GROUP_PAGE.info), GROUP_PAGE.document(feed, context, items)


def _capped(
    feed: Feed, context: Context, name: str, items: list[str], size: int
) -> tuple[bytes, int]:
    """The document with as many of the newest ``items`` as fit in ``max_feed_bytes``
    (none, when even its head does not), and how many that is.

    Items are newest first, so the oldest go. The count is guessed from the items' sizes
    (the document is its head, the items and a separator of at most two bytes between
    two items), then corrected by rendering: the result depends on the items alone, so an
    incremental and a cold build cap a feed alike."""
    cap = context.config.max_feed_bytes
    render = FEED_FORMATS[name].document
    sizes = [len(item.encode("utf-8")) for item in items]
    budget = cap - (size - sum(sizes))
    kept = 0
    while kept < len(items) and budget >= sizes[kept]:
        budget -= sizes[kept]
        kept += 1
    data = render(feed, context, items[:kept])
    while len(data) > cap and kept:
        kept -= 1
        data = render(feed, context, items[:kept])
    return data, kept


def to_render(site: Site, context: Context, keep: Collection[str]) -> list[Feed]:
    """The feeds (then the archive documents) whose files are not all known to be
    current, in output order."""
    return [feed for feed in (*site.feeds, *site.archives) if not is_kept(feed, context, keep)]


def needed(feeds: Iterable[Feed]) -> list[int]:
    """The source numbers of the articles ``feeds`` hold, each once, in first-use order:
    the order :func:`render_stream` consumes entries in."""
    return list(dict.fromkeys(index for feed in feeds for index in feed.members))


def render_stream(
    site: Site,
    config: Config,
    keep: Collection[str],
    stream: Iterator[tuple[int, Entries]],
    *,
    pages: bool = True,
    on_capped: OnCapped | None = None,
) -> tuple[tuple[str, ...], Iterator[tuple[str, bytes]]]:
    """Every output path, and a stream of (path, bytes), one feed at a time.

    ``stream`` gives (source number, entries) for :func:`needed` of the rendered feeds,
    in that order. An entry is held only until the last feed that uses it is rendered (at
    100,000 articles, entries held between feeds peaked at 6,318 articles, about 60 MB).
    Feeds whose every file is in ``keep`` are not rendered (see :func:`is_kept`). The site
    pages depend on every feed: they come last in the stream, after the feeds they link
    to, unless ``pages`` is false (they are known to be current).
    """
    context = context_for(site, config)
    rendered = to_render(site, context, keep)
    probe = next((feed for feed in rendered if _has_page(feed)), None)
    if probe is not None:  # a broken group template fails the build before anything is written
        GROUP_PAGE.document(probe, context, [])
    site_pages: dict[str, bytes] = {}
    for page in SITE_PAGES if pages else ():
        _merge(site_pages, page(site, context))
    paths = tuple(p for feed in rendered for p in feed_files(feed, context)) + tuple(site_pages)
    uses = Counter(index for feed in rendered for index in feed.members)

    def files() -> Iterator[tuple[str, bytes]]:
        held: dict[int, Entries] = {}
        for feed in rendered:
            for index in feed.members:
                while index not in held:
                    number, texts = next(stream)
                    held[number] = texts
            feed_texts = [held[index] for index in feed.members]
            yield from documents(feed, context, feed_texts, on_capped)
            del feed_texts
            for index in feed.members:
                uses[index] -= 1
                if not uses[index]:
                    del held[index]
        yield from site_pages.items()

    return paths, files()


def _merge(files: dict[str, bytes], new: dict[str, bytes]) -> None:
    for path, data in new.items():
        if path in files:
            raise AssertionError(f"two outputs for {path}")
        files[path] = data
