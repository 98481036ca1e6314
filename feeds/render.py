"""Stage 4: render every feed in every configured format, and the site pages.

Hands on an ordered mapping of output paths (``/``-separated, relative to the output
folder) to bytes. Nothing here reads the clock or the disk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator

from feeds.config import Config
from feeds.formats import FEED_FORMATS, SITE_PAGES
from feeds.formats.common import Context, FormatInfo
from feeds.model import Article, Feed, Site


def context_for(site: Site, config: Config) -> Context:
    infos = tuple(FEED_FORMATS[name].info for name in config.formats)
    return Context(config=config, site=site, formats=infos)


def feed_files(feed: Feed, context: Context) -> tuple[str, ...]:
    """The output paths of one feed, one per format."""
    return tuple(_path(feed, info) for info in context.formats)


def _path(feed: Feed, info: FormatInfo) -> str:
    return f"{feed.folder}/{info.filename}" if feed.folder else info.filename


def is_kept(feed: Feed, context: Context, keep: Collection[str]) -> bool:
    """Whether every file of ``feed`` is in ``keep``: known to be current, not rendered."""
    return bool(keep) and all(path in keep for path in feed_files(feed, context))


class Renderer:
    """Renders feeds, each article's entry once per format however many feeds hold it.

    An entry is kept only until the last feed that holds its article has been rendered,
    so memory holds the entries still to be used, not every entry of the site.
    """

    def __init__(self, site: Site, config: Config, feeds: Collection[Feed] | None = None):
        self.context = context_for(site, config)
        self._entries: dict[tuple[str, str], str] = {}
        self._uses: Counter[str] = Counter(
            a.id for feed in (site.feeds if feeds is None else feeds) for a in feed.articles
        )
        self._left: dict[tuple[str, str], int] = {}

    def entry(self, name: str, article: Article) -> str:
        key = (name, article.id)
        text = self._entries.get(key)
        if text is None:
            text = FEED_FORMATS[name].entry(article, self.context)
            uses = self._uses.get(article.id, 1)
            if uses > 1:
                self._entries[key] = text
                self._left[key] = uses - 1
            return text
        left = self._left[key] - 1
        if left:
            self._left[key] = left
        else:
            del self._entries[key], self._left[key]
        return text

    def feed(self, feed: Feed) -> dict[str, bytes]:
        """The files of one feed, keyed by output path."""
        files: dict[str, bytes] = {}
        for info in self.context.formats:
            entries = [self.entry(info.name, article) for article in feed.articles]
            files[_path(feed, info)] = FEED_FORMATS[info.name].document(feed, self.context, entries)
        return files


def render_stream(
    site: Site, config: Config, keep: Collection[str] = frozenset()
) -> tuple[tuple[str, ...], Iterator[tuple[str, bytes]]]:
    """Every output path, and a stream of (path, bytes) rendered one feed at a time.

    Feeds whose every file is in ``keep`` are not rendered (see :func:`is_kept`). The site
    pages depend on every feed: they are always rendered, and come last in the stream,
    after the feeds they link to.
    """
    context = context_for(site, config)
    rendered = [feed for feed in site.feeds if not is_kept(feed, context, keep)]
    renderer = Renderer(site, config, rendered)
    pages: dict[str, bytes] = {}
    for page in SITE_PAGES:
        _merge(pages, page(site, renderer.context))
    paths = tuple(p for feed in rendered for p in feed_files(feed, context)) + tuple(pages)

    def stream() -> Iterator[tuple[str, bytes]]:
        for feed in rendered:
            yield from renderer.feed(feed).items()
        yield from pages.items()

    return paths, stream()


def _merge(files: dict[str, bytes], new: dict[str, bytes]) -> None:
    for path, data in new.items():
        if path in files:
            raise AssertionError(f"two outputs for {path}")
        files[path] = data
