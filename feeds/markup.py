"""The Markdown body of an article, rendered to HTML and sanitised with nh3."""

from __future__ import annotations

import threading

import markdown
import nh3

from feeds.text import fix_mojibake, xml_safe

MAX_BODY_CHARS = 200_000
"""Longer bodies are cut before rendering."""

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


def sanitize_html(html: str) -> str:
    """Keep only harmless markup and http(s) links; used for every HTML we emit as HTML.

    Cleaned again afterwards: the sanitiser turns character references such as ``&#0;``
    into U+FFFD, which we never publish.
    """
    clean = nh3.clean(
        xml_safe(html),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
    )
    return xml_safe(clean).strip()


_local = threading.local()


def _markdown() -> markdown.Markdown:
    """One Markdown converter per thread: building one costs more than converting a body."""
    renderer: markdown.Markdown | None = getattr(_local, "markdown", None)
    if renderer is None:
        renderer = _local.markdown = markdown.Markdown(output_format="html")
    return renderer


def render_body(body: str) -> str | None:
    """The body as sanitised HTML, or ``None`` when there is no body."""
    if not body.strip():
        return None
    renderer = _markdown()
    html = renderer.reset().convert(fix_mojibake(body[:MAX_BODY_CHARS]))
    return sanitize_html(html) or None
