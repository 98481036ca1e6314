"""Stage 4: render every feed in every configured format, and the site pages.

Hands on an ordered mapping of output paths (``/``-separated, relative to the output
folder) to bytes. Nothing here reads the clock or the disk.
"""

from __future__ import annotations

from feeds.config import Config
from feeds.formats import FEED_FORMATS, SITE_PAGES
from feeds.formats.common import Context
from feeds.model import Article, Feed, Site


def context_for(site: Site, config: Config) -> Context:
    infos = tuple(FEED_FORMATS[name].info for name in config.formats)
    return Context(config=config, site=site, formats=infos)


class Renderer:
    """Renders feeds, each article's entry once per format however many feeds hold it."""

    def __init__(self, site: Site, config: Config) -> None:
        self.context = context_for(site, config)
        self._entries: dict[tuple[str, str], str] = {}

    def entry(self, name: str, article: Article) -> str:
        key = (name, article.id)
        text = self._entries.get(key)
        if text is None:
            text = self._entries[key] = FEED_FORMATS[name].entry(article, self.context)
        return text

    def feed(self, feed: Feed) -> dict[str, bytes]:
        """The files of one feed, keyed by output path."""
        files: dict[str, bytes] = {}
        for info in self.context.formats:
            path = f"{feed.folder}/{info.filename}" if feed.folder else info.filename
            entries = [self.entry(info.name, article) for article in feed.articles]
            files[path] = FEED_FORMATS[info.name].document(feed, self.context, entries)
        return files


def render_site(site: Site, config: Config) -> dict[str, bytes]:
    """Every output file, keyed by output path; two renderers writing one path is a bug."""
    renderer = Renderer(site, config)
    files: dict[str, bytes] = {}
    for page in SITE_PAGES:
        _merge(files, page(site, renderer.context))
    for feed in site.feeds:
        _merge(files, renderer.feed(feed))
    return files


def _merge(files: dict[str, bytes], new: dict[str, bytes]) -> None:
    for path, data in new.items():
        if path in files:
            raise AssertionError(f"two outputs for {path}")
        files[path] = data
