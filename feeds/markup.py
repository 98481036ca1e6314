"""The Markdown body of an article, rendered to HTML and sanitised with nh3."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from feeds.text import fix_mojibake, xml_safe

if TYPE_CHECKING:
    import markdown

# Markdown and nh3 are imported when a body first needs them (20 ms of a run that reads a
# few plain-paragraph bodies, which never do).

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
    import nh3

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
        import markdown

        renderer = _local.markdown = markdown.Markdown(output_format="html")
    return renderer


# A body of plain paragraphs: lines of printable ASCII words, each line starting with a
# letter (no indentation, list, heading or quote), with none of the characters that
# Markdown or HTML give a meaning to (such as "*_`[]<>&#" and the backslash), with single
# spaces and none at a line's end (two make a line break). Markdown makes one <p> of each
# run of lines, which the sanitiser keeps as it is.
_PLAIN_WORD = r"[A-Za-z0-9,.;:!?'\"()%/-]"
_PLAIN_LINE = rf"[A-Za-z]{_PLAIN_WORD}*+(?:[ ]{_PLAIN_WORD}++)*+"
_PLAIN_BODY = re.compile(rf"\n*+{_PLAIN_LINE}(?:\n++{_PLAIN_LINE})*+\n*+")
_BLANK_LINES = re.compile(r"\n\n+")


def render_body(body: str) -> str | None:
    """The body as sanitised HTML, or ``None`` when there is no body."""
    if len(body) <= MAX_BODY_CHARS and _PLAIN_BODY.fullmatch(body):
        return "\n".join(f"<p>{p}</p>" for p in _BLANK_LINES.split(body.strip("\n")))
    return _render_markdown(body)


def _render_markdown(body: str) -> str | None:
    """:func:`render_body` through Markdown and the sanitiser: every body."""
    if not body.strip():
        return None
    renderer = _markdown()
    html = renderer.reset().convert(fix_mojibake(body[:MAX_BODY_CHARS]))
    return sanitize_html(html) or None
