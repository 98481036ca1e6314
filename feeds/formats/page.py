"""The page of a topic or provider: ``topics/<slug>/index.html``, ``providers/<slug>/index.html``.

A group page is one more per-feed output: each article's entry is an HTML fragment,
written here as text once per article (like the RSS, Atom and JSON Feed items) and
spliced into the page of every group that holds it; the page around the entries comes
from the ``group.html`` template (overridable like ``index.html``, see templating). The
page's links are relative (``rss.xml``, ``../../index.html``), so it works opened from
disk and from any host; the autodiscovery links are absolute, as in the feeds.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from feeds.formats.common import EPOCH, Context, FormatInfo, per_config
from feeds.formats.icons import favicon_href
from feeds.model import Article, Feed, Image, RelatedItem

if TYPE_CHECKING:
    import jinja2

PAGE = FormatInfo("html", "index.html", "text/html; charset=utf-8", "Page")
TEMPLATE = "group.html"
TO_ROOT = "../../"
"""From a group page (``topics/<slug>/``, ``providers/<slug>/``) to the top of the output."""


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _image(image: Image, css: str) -> str:
    size = f' width="{image.width}" height="{image.height}"' if image.width and image.height else ""
    alt = _e(image.title or "")
    return f'<img class="{css}" src="{_e(image.url)}" alt="{alt}"{size} loading="lazy">'


def _related(item: RelatedItem) -> str:
    provider = (
        f' <span class="meta" dir="auto">{_e(item.provider.name)}</span>'
        if item.provider is not None
        else ""
    )
    return f'<li><a href="{_e(item.url)}" dir="auto">{_e(item.title)}</a>{provider}</li>\n'


def page_entry(article: Article, context: Context) -> str:
    """One article on a group page: title, provider, date, excerpt, lead image, related."""
    out = [f'<article class="item">\n<h3 dir="auto"><a href="{_e(article.url)}">']
    out.append(f'{_e(article.title)}</a></h3>\n<p class="meta">')
    if article.provider is not None:
        out.append(f'<span dir="auto">{_e(article.provider.name)}</span> · ')
    when = article.published
    out.append(f'<time datetime="{when.isoformat()}">{when.strftime("%Y-%m-%d")}</time></p>\n')
    if article.image is not None:
        out.append(_image(article.image, "lead") + "\n")
    if article.summary:
        out.append(
            f'<p class="excerpt" dir="auto">{html.escape(article.summary, quote=False)}</p>\n'
        )
    if article.related:
        out.append('<ul class="related" aria-label="Related">\n')
        out.extend(_related(item) for item in article.related)
        out.append("</ul>\n")
    out.append("</article>")
    return "".join(out)


def _environment(context: Context) -> jinja2.Environment:
    """One Jinja environment per configuration: a build renders many group pages."""
    from feeds.formats.templating import environment  # Jinja: only when a page is made

    return environment(context.config.templates, context.compiled)


_env = per_config(_environment)


def _archive_href(feed: Feed, context: Context) -> str | None:
    """The newest archive document, relative to the group's page (``None``: none)."""
    history = feed.history
    if history is None or history.prev is None:
        return None
    inside = history.prev.removeprefix(feed.group_folder + "/")
    return f"{inside}/{context.formats[0].filename}"


def render_page(feed: Feed, context: Context, entries: list[str]) -> bytes:
    """The group's page from the ``group.html`` template, its entries spliced in."""
    from markupsafe import Markup

    from feeds.formats.templating import render_with

    links = [
        {
            "label": info.label,
            "url": context.file_url(feed, info.filename),
            "href": info.filename,
            "type": info.media_type,
        }
        for info in context.formats
    ]
    return render_with(
        _env(context),
        TEMPLATE,
        config=context.config,
        feed={
            "kind": feed.kind.value,
            "name": feed.name,
            "title": context.title(feed),
            "description": context.description(feed),
            "count": len(entries),  # not the group's total: see the template
            "newest": feed.updated,
            "links": links,
            "archive_href": _archive_href(feed, context),
        },
        entries=[Markup(entry) for entry in entries],
        index_href=TO_ROOT + "index.html",
        root_href=TO_ROOT,
        updated=feed.updated or EPOCH,
        favicon_href=favicon_href(context.config, TO_ROOT),
    )
