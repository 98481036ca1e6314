"""The fast RSS/Atom writer gives the same bytes as the all-feedgen reference renderer."""

from __future__ import annotations

from pathlib import Path

import feedgen_reference
import pytest
import yaml
from conftest import NOW, REPO, article, choose, examples, read_content, render, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Config
from feeds.frontmatter import split_front_matter
from feeds.group import Selection
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
