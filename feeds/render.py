"""Stage 4: render every feed in every configured format, and the site pages.

An article's entry is rendered once per format (:func:`entries`), however many feeds
hold it, and spliced into each of their documents. Feeds name their articles by source
number (``Feed.members``) and the entries arrive as a stream, in the order the feeds
first need them (:func:`needed`, :func:`render_stream`); the stream can be rendered by
worker processes. Nothing here reads the clock or the disk.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
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


def context_for(site: Site, config: Config, compiled: str | None = None) -> Context:
    infos = tuple(FEED_FORMATS[name].info for name in config.formats)
    return Context(config=config, site=site, formats=infos, compiled=compiled)


def feed_files(feed: Feed, context: Context) -> tuple[str, ...]:
    """The output paths of one feed, one per format, then its group page (if it has one)."""
    folder = feed.folder
    prefix = f"{folder}/" if folder else ""
    paths = [prefix + info.filename for info in context.formats]
    if has_page(feed):
        paths.append(prefix + GROUP_PAGE.info.filename)
    return tuple(paths)


def has_page(feed: Feed) -> bool:
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
    archived: bool = False
    """Archives are on: what was left out is in the feed's archives."""


@dataclass(frozen=True, slots=True)
class Oversized:
    """An archive document over ``max_feed_bytes``: it keeps every item all the same
    (an item left out of an archive would be in no document)."""

    path: str
    size: int
    cap: int


OnCapped = Callable[[Capped | Oversized], None]


def capped_warning(capped: Capped | Oversized) -> Problem:
    """The warning that names a capped feed document, or an archive document over the cap."""
    if isinstance(capped, Oversized):
        message = (
            f"archive document of {capped.size:,} bytes, over the cap of {capped.cap:,}: "
            "it keeps every item (the history must hold them all); lower items_per_feed, "
            "the size of an archive page, to make it smaller"
        )
    else:
        left_out = capped.items - capped.kept
        message = (
            f"{left_out} oldest of {capped.items} items left out: with them the feed would be "
            f"{capped.size:,} bytes"
        )
        if capped.archived:
            message += "; they are in its archives"
    return Problem(
        path=capped.path,
        line=0,
        field="max_feed_bytes",
        message=message,
        severity=Severity.WARNING,
    )


@dataclass(frozen=True, slots=True)
class FeedFiles:
    """One feed rendered: its files, and how many of its items its feed documents hold."""

    feed: Feed
    """The feed as rendered: a subscription feed's ``history.prev`` is the link for
    :attr:`written` (see :attr:`~feeds.model.History.prevs`)."""
    written: int
    files: list[tuple[str, bytes]]
    spans: tuple[bytes, ...] = ()
    """For each of :attr:`files`, where its items are in its bytes: (start, end) of each
    one, from the feed's first member on, packed as :data:`SPANS` (``b""``: unknown), so
    that a later run can take them from the file (see :func:`entries_in`)."""
    logos: tuple[str, ...] = ()
    """The provider logo of each of the feed's members rendered (see :data:`Entries`)."""


SPANS = "I"
"""The :mod:`array` type of :attr:`FeedFiles.spans`."""


def spans_of(data: bytes, items: Sequence[str]) -> bytes:
    """Where each of ``items`` is in ``data``, in order (see :attr:`FeedFiles.spans`;
    ``b""`` when one is not found, or the document is too large to say)."""
    if len(data) >= 2**32:
        return b""
    found = array(SPANS)
    at = 0
    for item in items:
        raw = item.encode("utf-8")
        start = data.find(raw, at)
        if start < 0:
            return b""
        at = start + len(raw)
        found.extend((start, at))
    return found.tobytes()


def entries_in(data: bytes, spans: bytes) -> list[str]:
    """The items :func:`spans_of` found in ``data`` (none when ``spans`` does not fit
    ``data``: one after the other, inside it, each whole text)."""
    found = array(SPANS)
    if len(spans) % (2 * found.itemsize):
        return []
    found.frombytes(spans)
    if any(a > b for a, b in itertools.pairwise(found)) or (found and found[-1] > len(data)):
        return []
    try:
        return [data[found[i] : found[i + 1]].decode("utf-8") for i in range(0, len(found), 2)]
    except UnicodeDecodeError:
        return []


def render_feed(
    feed: Feed, context: Context, texts: list[Entries], on_capped: OnCapped | None = None
) -> FeedFiles:
    """The files of one feed, given the entries of its articles in feed order.

    A subscription feed writes the same newest items in every format: all of them, or,
    when a format's document would be over ``max_feed_bytes``, as many as every format's
    document fits in (see :func:`_fit`); ``on_capped`` is told of each such document. An
    archive document keeps every item; ``on_capped`` is told of each one over the cap."""
    page = len(context.formats)
    if feed.kind is FeedKind.PROVIDER:
        logo = next((text[page + 1] for text in texts if text[page + 1]), None)
        feed = replace(feed, icon=logo)
    paths = [_path(feed, info) for info in context.formats]
    items = [[text[position] for text in texts] for position in range(page)]
    cap = context.config.max_feed_bytes
    if feed.is_archive:
        written = len(texts)
        datas = [
            FEED_FORMATS[info.name].document(feed, context, its)
            for info, its in zip(context.formats, items, strict=True)
        ]
        for path, data in zip(paths, datas, strict=True):
            if len(data) > cap and on_capped is not None:
                on_capped(Oversized(path, len(data), cap))
    else:
        written, datas, sizes = _fit(feed, context, items)
        feed = _writing(feed, written)
        if written < len(texts) and on_capped is not None:
            for path, size in zip(paths, sizes, strict=True):
                on_capped(Capped(path, written, len(texts), size, feed.history is not None))
    files = list(zip(paths, datas, strict=True))
    spans = [spans_of(data, its[:written]) for data, its in zip(datas, items, strict=True)]
    if has_page(feed):
        shown = [text[page] for text in texts]
        document = GROUP_PAGE.document(feed, context, shown)
        files.append((_path(feed, GROUP_PAGE.info), document))
        spans.append(spans_of(document, shown))
    logos = tuple(text[page + 1] for text in texts)
    return FeedFiles(feed, written, files, tuple(spans), logos)


def _writing(feed: Feed, count: int) -> Feed:
    """``feed`` as it is written with its newest ``count`` items: linked to the newest
    archive document the others make (with archives on)."""
    history = feed.history
    if history is None or not history.prevs:
        return feed
    prev = history.prevs[count]
    return feed if prev == history.prev else replace(feed, history=replace(history, prev=prev))


def _fit(
    feed: Feed, context: Context, items: list[list[str]]
) -> tuple[int, list[bytes], list[int]]:
    """How many of the newest ``items`` (one list per format) every format's document
    holds, those documents, and each format's size with every item.

    All of them when every document fits in ``max_feed_bytes``. Otherwise the count is
    guessed from the items' sizes (a document is its head, the items and a separator of
    at most two bytes between two items: the smallest guess of all formats), then
    corrected by rendering every format with the link that count gives (with archives
    on): down until every document fits (none, when even a head does not), or up while
    one more item still fits. The result depends on the items and the links alone, so an
    incremental and a cold build cap a feed alike."""
    cap = context.config.max_feed_bytes
    makers = [FEED_FORMATS[info.name].document for info in context.formats]
    total = len(items[0]) if items else 0

    def render(count: int) -> list[bytes]:
        at = _writing(feed, count)
        return [make(at, context, its[:count]) for make, its in zip(makers, items, strict=True)]

    def fits(datas: list[bytes]) -> bool:
        return all(len(data) <= cap for data in datas)

    whole = render(total)
    sizes = [len(data) for data in whole]
    if fits(whole):
        return total, whole, sizes
    count = total
    for its, size in zip(items, sizes, strict=True):
        lengths = [len(item.encode("utf-8")) for item in its]
        budget = cap - (size - sum(lengths))
        kept = 0
        while kept < count and budget >= lengths[kept]:
            budget -= lengths[kept]
            kept += 1
        count = kept
    datas = render(count)
    if fits(datas):
        while count < total:
            more = render(count + 1)
            if not fits(more):
                break
            count, datas = count + 1, more
    else:
        while count and not fits(datas):
            count -= 1
            datas = render(count)
    return count, datas, sizes


def to_render(site: Site, context: Context, keep: Collection[str]) -> list[Feed]:
    """The feeds (then the archive documents) whose files are not all known to be
    current, in output order."""
    return [feed for feed in (*site.feeds, *site.archives) if not is_kept(feed, context, keep)]


def needed(feeds: Iterable[Feed]) -> list[int]:
    """The source numbers of the articles ``feeds`` hold, each once, in first-use order:
    the order :func:`render_stream` consumes entries in."""
    return list(dict.fromkeys(index for feed in feeds for index in feed.members))


def render_feeds(
    feeds: Sequence[Feed],
    context: Context,
    stream: Iterator[tuple[int, Entries]],
    on_capped: OnCapped | None = None,
) -> Iterator[FeedFiles]:
    """Render ``feeds`` one at a time (see :func:`render_feed`).

    ``stream`` gives (source number, entries) for :func:`needed` of ``feeds``, in that
    order. An entry is held only until the last feed that uses it is rendered (at
    100,000 articles, entries held between feeds peaked at 6,318 articles, about 60 MB)."""
    uses = Counter(index for feed in feeds for index in feed.members)
    held: dict[int, Entries] = {}
    for feed in feeds:
        for index in feed.members:
            while index not in held:
                number, texts = next(stream)
                held[number] = texts
        feed_texts = [held[index] for index in feed.members]
        yield render_feed(feed, context, feed_texts, on_capped)
        del feed_texts
        for index in feed.members:
            uses[index] -= 1
            if not uses[index]:
                del held[index]


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
    in that order (see :func:`render_feeds`). Feeds whose every file is in ``keep`` are
    not rendered (see :func:`is_kept`). See :func:`output_stream` for the site pages.
    """
    context = context_for(site, config)
    rendered = to_render(site, context, keep)
    drawn = render_feeds(rendered, context, stream, on_capped)
    return output_stream(site, context, rendered, drawn, pages=pages)


def output_stream(
    site: Site,
    context: Context,
    rendered: Sequence[Feed],
    drawn: Iterator[FeedFiles],
    *,
    pages: bool = True,
) -> tuple[tuple[str, ...], Iterator[tuple[str, bytes]]]:
    """Every output path of ``rendered`` and of the site pages, and a stream of (path,
    bytes): the files of ``rendered`` as ``drawn`` renders them, in that order, then the
    site pages. The site pages depend on every feed: they come last in the stream, after
    the feeds they link to, unless ``pages`` is false (they are known to be current)."""
    probe = next((feed for feed in rendered if has_page(feed)), None)
    if probe is not None:  # a broken group template fails the build before anything is written
        GROUP_PAGE.document(probe, context, [])
    site_pages: dict[str, bytes] = {}
    for page in SITE_PAGES if pages else ():
        _merge(site_pages, page(site, context))
    paths = tuple(p for feed in rendered for p in feed_files(feed, context)) + tuple(site_pages)

    def files() -> Iterator[tuple[str, bytes]]:
        for done in drawn:
            yield from done.files
        yield from site_pages.items()

    return paths, files()


def _merge(files: dict[str, bytes], new: dict[str, bytes]) -> None:
    for path, data in new.items():
        if path in files:
            raise AssertionError(f"two outputs for {path}")
        files[path] = data
