"""The Markdown body of an article, rendered to HTML as CommonMark with GitHub's extensions
(tables, strikethrough, fenced code, autolinks) and sanitised with nh3.

Links and images are resolved against the article's own URL: a feed is read far from the
page the body was written for, and every reader would resolve ``/about`` or ``img/a.png``
against a different URL (the feed's, or none).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from feeds.text import fix_mojibake, xml_safe

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore

# markdown-it and nh3 are imported when a body first needs them (40 ms of a run that reads
# a few plain-paragraph bodies, which never do).

MAX_BODY_CHARS = 200_000
"""Longer bodies are cut before rendering."""

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
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
    "code": {"class"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
}
_URL_SCHEMES = {"http", "https"}
_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]+")
_ALIGNMENTS = {"left", "center", "right"}
# What browsers strip from both ends of a URL attribute (and urljoin would not).
_URL_SPACE = " \t\n\f\r"


def _attribute_filter(base: str | None) -> Callable[[str, str, str], str | None]:
    """nh3's per-attribute check: ``href`` and ``src`` resolved against ``base`` (dropped
    when there is none, or when the result is not http(s)); ``class`` kept on ``code`` for
    a fenced block's language alone; ``align`` and ``start`` kept for the values they
    take."""

    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute == "href" or attribute == "src":
            value = value.strip(_URL_SPACE)
            if base is not None:
                value = urljoin(base, value)
            # nh3 checks the scheme before this filter runs: what it returns is checked here.
            return value if urlsplit(value).scheme.lower() in _URL_SCHEMES else None
        if attribute == "class":
            languages = [name for name in value.split() if _LANGUAGE_CLASS.fullmatch(name)]
            return languages[0] if languages else None
        if attribute == "start":
            return value if value.isascii() and value.isdigit() else None
        if attribute == "align":
            value = value.strip().lower()
            return value if value in _ALIGNMENTS else None
        return value

    return keep


def sanitize_html(html: str, base: str | None = None) -> str:
    """Keep only harmless markup and http(s) links; used for every HTML we emit as HTML.

    Relative ``href`` and ``src`` values are resolved against ``base`` (an absolute URL);
    without one they are dropped. Cleaned again afterwards: the sanitiser turns character
    references such as ``&#0;`` into U+FFFD, which we never publish.
    """
    import nh3

    clean = nh3.clean(
        xml_safe(html),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter(base),
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return xml_safe(clean).strip()


class _GfmAutolinks:
    """linkify-it restricted to GitHub's autolinks: ``http://``, ``https://`` and ``www.``.

    linkify-it also links bare host names (``main.py``, ``example.com``), ``ftp:``,
    ``//host`` and e-mail addresses, which GitHub leaves as text (and the sanitiser would
    leave as an ``<a>`` without ``href``).
    """

    def __init__(self, inner: Any):
        self._inner = inner

    def pretest(self, text: str) -> bool:
        return bool(self._inner.pretest(text))

    def test(self, text: str) -> bool:
        return bool(self._inner.test(text))

    def match(self, text: str) -> list[Any]:
        return [link for link in self._inner.match(text) or () if _is_gfm_autolink(link)]

    def match_at_start(self, text: str) -> Any:
        link = self._inner.match_at_start(text)
        return link if link is not None and _is_gfm_autolink(link) else None


def _is_gfm_autolink(link: Any) -> bool:
    if link.schema:
        return link.schema in ("http:", "https:")
    return bool(link.raw[:4].lower() == "www.")


def _table_alignment(state: StateCore) -> None:
    """Table cells aligned with ``align``, not with ``style`` (which the sanitiser drops)."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs:
            style = token.attrs.pop("style", None)
            if isinstance(style, str) and style.startswith("text-align:"):
                token.attrs["align"] = style.removeprefix("text-align:")


_local = threading.local()


def _markdown() -> MarkdownIt:
    """One renderer per thread: building one costs more than rendering a body."""
    renderer: MarkdownIt | None = getattr(_local, "markdown", None)
    if renderer is None:
        from markdown_it import MarkdownIt

        # CommonMark with tables, strikethrough and autolinks (the linkify rules).
        renderer = MarkdownIt("gfm-like")
        renderer.linkify = _GfmAutolinks(renderer.linkify)
        renderer.core.ruler.push("table_alignment", _table_alignment)
        _local.markdown = renderer
    return renderer


# A body of plain paragraphs: lines of printable ASCII words, each line starting with a
# letter (no indentation, list, heading or quote), with none of the characters that
# Markdown or HTML give a meaning to (such as "*_`[]<>&#~|" and the backslash), with single
# spaces and none at a line's end (two make a line break), and nothing an autolink starts
# with ("://" or "www."). Markdown makes one <p> of each run of lines, which the sanitiser
# keeps as it is.
_PLAIN_WORD = r"[A-Za-z0-9,.;:!?'\"()%/-]"
_PLAIN_LINE = rf"[A-Za-z]{_PLAIN_WORD}*+(?:[ ]{_PLAIN_WORD}++)*+"
_PLAIN_BODY = re.compile(
    rf"(?!.*?(?:://|[wW]{{3}}\.))\n*+{_PLAIN_LINE}(?:\n++{_PLAIN_LINE})*+\n*+", re.S
)
_BLANK_LINES = re.compile(r"\n\n+")


def render_body(body: str, base: str | None) -> str | None:
    """The body as sanitised HTML, or ``None`` when there is no body.

    ``base`` is the URL that relative links and images in the body are resolved against:
    the article's link.
    """
    if len(body) <= MAX_BODY_CHARS and _PLAIN_BODY.fullmatch(body):
        return "\n".join(f"<p>{p}</p>" for p in _BLANK_LINES.split(body.strip("\n")))
    return _render_markdown(body, base)


def _render_markdown(body: str, base: str | None) -> str | None:
    """:func:`render_body` through markdown-it and the sanitiser: every body."""
    if not body.strip():
        return None
    html = _markdown().render(fix_mojibake(body[:MAX_BODY_CHARS]))
    return sanitize_html(html, base) or None
