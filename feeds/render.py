"""Stage 4: render every feed in every configured format, and the site pages.

Hands on an ordered mapping of output paths (``/``-separated, relative to the output
folder) to bytes. Nothing here reads the clock or the disk.
"""

from __future__ import annotations

from collections.abc import Collection

from feeds.config import Config
from feeds.formats import FEED_FORMATS, SITE_PAGES
from feeds.formats.common import Context, FormatInfo
from feeds.model import Feed, Site


def context_for(site: Site, config: Config) -> Context:
    infos = tuple(FEED_FORMATS[name].info for name in config.formats)
    return Context(config=config, site=site, formats=infos)


def feed_files(feed: Feed, context: Context) -> tuple[str, ...]:
    """The output paths of one feed, one per format."""
    return tuple(_path(feed, info) for info in context.formats)


def _path(feed: Feed, info: FormatInfo) -> str:
    return f"{feed.folder}/{info.filename}" if feed.folder else info.filename


def render_feed(feed: Feed, context: Context) -> dict[str, bytes]:
    """The files of one feed, keyed by output path."""
    return {
        _path(feed, info): FEED_FORMATS[info.name].render(feed, context) for info in context.formats
    }


def is_kept(feed: Feed, context: Context, keep: Collection[str]) -> bool:
    """Whether every file of ``feed`` is in ``keep``: known to be current, not rendered."""
    return bool(keep) and all(path in keep for path in feed_files(feed, context))


def render_site(
    site: Site, config: Config, keep: Collection[str] = frozenset()
) -> dict[str, bytes]:
    """Every output file, keyed by output path; two renderers writing one path is a bug.

    Feeds whose every file is in ``keep`` are not rendered (see :func:`is_kept`). The site
    pages depend on every feed and are always rendered.
    """
    context = context_for(site, config)
    files: dict[str, bytes] = {}
    for page in SITE_PAGES:
        _merge(files, page(site, context))
    for feed in site.feeds:
        if not is_kept(feed, context, keep):
            _merge(files, render_feed(feed, context))
    return files


def _merge(files: dict[str, bytes], new: dict[str, bytes]) -> None:
    for path, data in new.items():
        if path in files:
            raise AssertionError(f"two outputs for {path}")
        files[path] = data
