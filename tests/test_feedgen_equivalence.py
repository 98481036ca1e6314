"""The fast RSS/Atom writer gives the same bytes as the all-feedgen reference renderer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedgen_reference
import pytest
import yaml
from conftest import NOW, REPO, article, choose, examples, read_content, render, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Config
from feeds.formats import xml
from feeds.frontmatter import split_front_matter
from feeds.group import Selection
from feeds.model import Feed, FeedKind, History, Site
from feeds.render import context_for

GOLDEN_CONTENT = REPO / "tests" / "golden" / "small" / "content"


def assert_same(content: Path, config: Config) -> int:
    collection = read_content(content, config.tz, config.max_related)
    chosen = choose(
        collection.articles,
        Selection(now=NOW, unpublished=True, future=True),
        title=config.title,
        items_per_feed=config.items_per_feed,
    )
    files = render(chosen, config)
    context = context_for(chosen.site, config)
    compared = 0
    for feed in chosen.site.feeds:
        prefix = f"{feed.folder}/" if feed.folder else ""
        articles = chosen.articles_of(feed)
        expected_rss = feedgen_reference.render_rss(feed, articles, context)
        expected_atom = feedgen_reference.render_atom(feed, articles, context)
        assert files[prefix + "rss.xml"].decode() == expected_rss.decode(), feed.folder
        assert files[prefix + "atom.xml"].decode() == expected_atom.decode(), feed.folder
        compared += 2
    return compared


@pytest.mark.parametrize("content", [REPO / "content", GOLDEN_CONTENT], ids=["bundled", "golden"])
def test_same_bytes_as_feedgen(content: Path) -> None:
    assert assert_same(content, Config(base_url="https://f.example.com/x/")) > 10


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "title": TEXT,
                "excerpt": st.one_of(st.just(""), TEXT),
                "topics": st.lists(TEXT, max_size=3),
                "provider": st.fixed_dictionaries({"name": TEXT, "domain": TEXT}),
                "related": st.lists(
                    st.fixed_dictionaries(
                        {
                            "title": TEXT,
                            "webUrl": TEXT.map(lambda t: "https://r.example.com/" + t),
                            "excerpt": TEXT,
                        }
                    ),
                    max_size=2,
                ),
                "images": st.lists(
                    st.fixed_dictionaries(
                        {"url": st.just("https://i.example.com/a b.png"), "title": TEXT}
                    ),
                    max_size=1,
                ),
            }
        ),
        min_size=1,
        max_size=5,
    ),
    st.text(max_size=40),
)
def test_property_same_bytes_as_feedgen(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, object]], body: str
) -> None:
    tmp = tmp_path_factory.mktemp("eq")
    files: dict[str, str | bytes] = {}
    for i, record in enumerate(records):
        text = article(n=i, **record, body=body.replace("\x00", ""))
        yaml.safe_load(split_front_matter(text).front)  # the file holds what was meant
        files[f"{i}.md"] = text
    write_tree(tmp / "content", files)
    assert_same(tmp / "content", Config())


_XML_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\t\n\r"),
    min_size=1,
    max_size=20,
)
"""Text XML can hold (lxml refuses the rest, and the build cleans it from what it reads)."""
_URL = st.sampled_from(
    ["https://i.example/a.png", 'https://i.example/a b.png?x=1&y="2"', "https://i.example/<>"]
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    title=_XML_TEXT,
    base_url=st.sampled_from(["https://a.example/", "https://b.example/x/"]),
    language=st.sampled_from(["en", "pt-BR", "de"]),
    icon=st.none() | _URL,
    favicon=st.none() | _URL,
    hubs=st.lists(_URL, max_size=2, unique=True),
    refresh=st.none() | st.integers(1, 10_000),
    stylesheet=st.booleans(),
    kind=st.sampled_from(FeedKind),
    name=_XML_TEXT,
    # Before the year 1000 feedgen writes the year in three digits; the head, like every
    # item's date, in four (as RFC 822 wants).
    updated=st.none() | st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)),
    feed_icon=st.none() | _URL,
    history=st.none()
    | st.builds(History, prev=st.none() | st.just("archive/2026-01"))
    | st.builds(
        History,
        month=st.just("2026-02"),
        page=st.integers(1, 3),
        prev=st.none() | st.just("archive/2026-01"),
        next=st.none() | st.just("archive/2026-03"),
    ),
)
def test_property_the_head_is_feedgens_for_any_settings(
    title: str,
    base_url: str,
    language: str,
    icon: str | None,
    favicon: str | None,
    hubs: list[str],
    refresh: int | None,
    stylesheet: bool,
    kind: FeedKind,
    name: str,
    updated: datetime | None,
    feed_icon: str | None,
    history: History | None,
) -> None:
    """The channel or feed head written as text is the one feedgen writes (with what the
    product adds after it: hubs, refresh hint, archive links), byte for byte."""
    config = Config(
        title=title,
        base_url=base_url,
        language=language,
        icon=icon,
        favicon=favicon,
        hubs=tuple(hubs),
        refresh_minutes=refresh,
        stylesheet=stylesheet,
    )
    key = "" if kind is FeedKind.SITE else "k"
    feed = Feed(
        kind=kind, key=key, name=name, slug=key, total=1, updated=updated, icon=feed_icon,
        history=history,
    )  # fmt: skip
    site_feed = Feed(kind=FeedKind.SITE, key="", name=title, slug="", total=1)
    site = Site(feeds=(feed,) if kind is FeedKind.SITE else (site_feed, feed))
    context = context_for(site, config)
    entries = ["    <item>x &amp; y</item>\n"]
    assert xml.render_rss(feed, context, entries) == feedgen_reference.head_rss(
        feed, context, entries
    )
    entries = ["  <entry>x</entry>\n"]
    assert xml.render_atom(feed, context, entries) == feedgen_reference.head_atom(
        feed, context, entries
    )
