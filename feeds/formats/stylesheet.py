"""``feed.xsl``: the XSLT stylesheet that makes RSS and Atom readable in a browser.

Written only when ``stylesheet: true``; the RSS and Atom files then carry an
``<?xml-stylesheet?>`` instruction pointing at it (see :mod:`feeds.formats.xml`). The
stylesheet is the ``feed.xsl`` template, so a ``templates`` folder can override it.
"""

from __future__ import annotations

from feeds.formats.common import Context
from feeds.model import Feed, Site

FILENAME = "feed.xsl"


def stylesheet_href(feed: Feed) -> str:
    """The stylesheet's URL relative to the feed's files.

    Relative, because browsers load XSLT only from the document's own origin: the
    same files then work under ``base_url``, under a sub-path, and in ``feeds serve``.
    """
    depth = len(feed.folder.split("/")) if feed.folder else 0
    return "../" * depth + FILENAME


def processing_instruction(feed: Feed) -> str:
    return f'<?xml-stylesheet type="text/xsl" href="{stylesheet_href(feed)}"?>\n'


def render_stylesheet(site: Site, context: Context) -> dict[str, bytes]:
    if not context.config.stylesheet:
        return {}
    from feeds.formats.templating import render_template  # Jinja: only when the file is made

    return {
        FILENAME: render_template(
            context.config.templates, context.compiled, FILENAME, config=context.config
        )
    }
