"""The site's icons: ``icon`` and ``favicon`` of ``feeds.yaml``, copied and linked.

Each is an absolute http(s) URL, used as it is, or a file (made absolute by
:func:`~feeds.config.load_config`) that the build copies to the top of the output as
``icon.<ext>`` or ``favicon.<ext>`` and links by its URL under ``base_url``. The site and
topic feeds carry them (JSON Feed ``icon`` and ``favicon``, Atom ``<icon>`` and ``<logo>``,
RSS ``<image>``); a provider feed carries its provider's logo instead (``Feed.icon``). The
index and group pages link the favicon.
"""

from __future__ import annotations

import os

from feeds.config import Config
from feeds.errors import BuildError
from feeds.formats.common import Context
from feeds.model import Feed, Site

KEYS = ("icon", "favicon")


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def output_name(config: Config, key: str) -> str | None:
    """The file name a configured icon file is copied to (``None``: none, or a URL)."""
    value: str | None = getattr(config, key)
    if value is None or is_url(value):
        return None
    return key + os.path.splitext(value)[1].lower()


def icon_url(config: Config, key: str) -> str | None:
    """The absolute URL of the configured ``icon`` or ``favicon``, if any."""
    value: str | None = getattr(config, key)
    if value is None or is_url(value):
        return value
    return config.base_url + (output_name(config, key) or "")


def favicon_href(config: Config, to_root: str = "") -> str | None:
    """The favicon's link from a page ``to_root`` below the top of the output."""
    value = config.favicon
    if value is None or is_url(value):
        return value
    return to_root + (output_name(config, "favicon") or "")


def feed_icons(feed: Feed, context: Context) -> tuple[str | None, str | None]:
    """(icon, favicon) of a feed: a provider's own logo, else the configured ones."""
    if feed.icon:
        return feed.icon, feed.icon
    return icon_url(context.config, "icon"), icon_url(context.config, "favicon")


def render_icons(site: Site, context: Context) -> dict[str, bytes]:
    """The configured icon files, copied (the only input a renderer reads from disk)."""
    files: dict[str, bytes] = {}
    for key in KEYS:
        name = output_name(context.config, key)
        if name is None:
            continue
        path: str = getattr(context.config, key)
        try:
            with open(path, "rb") as f:
                files[name] = f.read()
        except OSError as e:
            raise BuildError(f"{key}: cannot read {path}: {e.strerror}") from None
    return files
