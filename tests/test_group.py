"""Stage 3: selection of published articles and grouping into feeds (the build's
:class:`~feeds.group.Selector`, driven from articles in memory by ``conftest.choose``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from conftest import NOW, Chosen, choose, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.group import Selection, Selector, order_key, same_article
from feeds.model import Article, Brief, Counts, FeedKind, Provider, Topic, from_micros, micros
from feeds.slugs import group_key
from feeds.update import (
    Change,
    HeldBack,
    Shown,
    held_after,
    reselect,
    shown_after,
    touched,
)


def make(
    n: int,
    *,
    when: datetime | None = None,
    topics: tuple[str, ...] = ("AI",),
    domain: str | None = "news.example.com",
    provider_name: str = "News",
    draft: bool = False,
    removed: bool = False,
) -> Article:
    url = f"https://news.example.com/{n}"
    return Article(
        id=url,
        url=url,
        external_url=None,
        title=f"T{n}",
        summary="",
        body="",
        published=when or datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        kind="article",
        category=None,
        provider=Provider(name=provider_name, domain=domain) if domain else None,
        topics=tuple(Topic(key=group_key(t), name=t) for t in topics),
        image=None,
        related=(),
        quality=None,
        heat=None,
        draft=draft,
        removed=removed,
        source=f"{n}.md",
    )


def _group(articles, n=50, **selection) -> Chosen:
    return choose(articles, Selection(now=NOW, **selection), items_per_feed=n)


def _titles(chosen: Chosen, feed) -> list[str]:
    return [a.title for a in chosen.articles_of(feed)]


def test_site_topic_and_provider_feeds() -> None:
    site = _group(
        [make(1, topics=("AI", "Space")), make(2, topics=("ai",), domain="b.example.org")]
    ).site
    kinds = [(f.kind, f.slug, len(f.members)) for f in site.feeds]
    assert kinds == [
        (FeedKind.SITE, "", 2),
        (FeedKind.TOPIC, "ai", 2),
        (FeedKind.TOPIC, "space", 1),
        (FeedKind.PROVIDER, "b.example.org", 1),
        (FeedKind.PROVIDER, "news.example.com", 1),
    ]


def test_unpublished_removed_and_future_are_held_back_unless_asked() -> None:
    articles = [
        make(1),
        make(2, draft=True),
        make(3, removed=True),
        make(4, when=NOW + timedelta(seconds=1)),
        make(5, when=NOW),
    ]
    chosen = _group(articles)
    assert _titles(chosen, chosen.site.site_feed) == ["T5", "T1"]
    previews = _group(articles, unpublished=True, future=True)
    assert set(_titles(previews, previews.site.site_feed)) == {"T1", "T2", "T4", "T5"}


def test_newest_n_newest_first_ties_by_id() -> None:
    same = datetime(2025, 6, 1, tzinfo=UTC)
    articles = [make(i, when=same if i % 2 else None) for i in range(10)]
    chosen = _group(articles, n=4)
    feed = chosen.site.site_feed
    assert feed.total == 10
    assert feed.updated == max(a.published for a in articles)
    assert [a.id for a in chosen.articles_of(feed)] == sorted(
        (a.id for a in articles), key=lambda i: order_key(next(a for a in articles if a.id == i))
    )[:4]


def test_display_name_is_the_most_common_spelling_ties_deterministic() -> None:
    site = _group([make(1, topics=("ai",)), make(2, topics=("AI",)), make(3, topics=("AI",))])
    assert site.site.feeds[1].name == "AI"
    tie = _group([make(1, topics=("ai",)), make(2, topics=("AI",))])
    assert tie.site.feeds[1].name == "AI"  # "AI" < "ai": smallest spelling wins a tie


@st.composite
def corpora(draw: st.DrawFn) -> list[Article]:
    topic_names = st.sampled_from(["AI", "ai", "Ai", "Space", "C++", "C#", "Москва", "京都", "x y"])
    count = draw(st.integers(0, 40))
    out = []
    for n in range(count):
        out.append(
            make(
                n,
                when=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 5))),
                topics=tuple(draw(st.lists(topic_names, max_size=3))),
                domain=draw(st.sampled_from([None, "a.example.com", "b.example.org"])),
                draft=draw(st.booleans()),
                removed=draw(st.booleans()),
            )
        )
    return out


@settings(max_examples=examples(200), deadline=None)
@given(corpora(), st.integers(1, 7))
def test_property_every_feed_holds_exactly_the_newest_published_of_its_group(
    articles: list[Article], n: int
) -> None:
    chosen = _group(articles, n=n)
    site = chosen.site
    published = [a for a in articles if not a.draft and not a.removed]
    expect_site = sorted(published, key=order_key)[:n]
    assert chosen.articles_of(site.site_feed) == tuple(expect_site)
    seen_slugs = set()
    for feed in site.feeds[1:]:
        if feed.kind is FeedKind.TOPIC:
            members = [a for a in published if feed.key in {t.key for t in a.topics}]
        else:
            members = [a for a in published if a.provider and a.provider.domain == feed.key]
        assert members, "no feed without a published article"
        assert chosen.articles_of(feed) == tuple(sorted(members, key=order_key)[:n])
        assert feed.updated == max(a.published for a in members)
        assert feed.total == len(members)
        assert (feed.kind, feed.slug) not in seen_slugs
        seen_slugs.add((feed.kind, feed.slug))
    topic_keys = {t.key for a in published for t in a.topics}
    assert {f.key for f in site.feeds if f.kind is FeedKind.TOPIC} == topic_keys


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.integers(0, 30), max_size=30, unique=True), st.randoms())
def test_property_grouping_ignores_input_order(ns: list[int], rnd) -> None:
    articles = [make(n, topics=("AI", "Space")[: n % 3]) for n in ns]
    shuffled = list(articles)
    rnd.shuffle(shuffled)
    assert _view(_group(articles, n=5)) == _view(_group(shuffled, n=5))


def _view(chosen: Chosen) -> list[tuple[object, ...]]:
    """Each feed as readers see it: its fields, with its articles in place of the
    source numbers that name them."""
    return [
        (f.kind, f.key, f.name, f.slug, f.total, f.updated, chosen.articles_of(f))
        for f in chosen.site.feeds
    ]


def _naive(articles: list[Article], n: int) -> dict[tuple[str, str], tuple[str, ...]]:
    """The specification, in the simplest code: keep the publishable copies, dedupe them
    (newest wins, ties: first), then select."""
    winners: dict[str, Article] = {}
    for a in articles:
        if a.draft or a.removed:
            continue
        if a.id not in winners or a.published > winners[a.id].published:
            winners[a.id] = a
    published = list(winners.values())
    groups: dict[tuple[str, str], list[Article]] = {("site", ""): published}
    for a in published:
        for key in {t.key for t in a.topics}:
            groups.setdefault(("topic", key), []).append(a)
        if a.provider:
            groups.setdefault(("provider", a.provider.domain), []).append(a)
    return {g: tuple(a.title for a in sorted(m, key=order_key)[:n]) for g, m in groups.items()}


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 8),
            st.integers(0, 6),
            st.lists(st.sampled_from(["AI", "Space", "ai"]), max_size=2),
            st.sampled_from([None, "a.example.com", "b.example.org"]),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.integers(1, 4),
)
def test_property_streaming_selection_with_duplicates_matches_the_naive_one(rows, n) -> None:
    articles = []
    for position, (ident, hour, topics, domain, draft) in enumerate(rows):
        a = make(
            ident,
            when=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=hour),
            topics=tuple(topics),
            domain=domain,
            draft=draft,
        )
        articles.append(replace(a, title=f"T{position}"))
    chosen = _group(articles, n=n)
    got = {(f.kind.value, f.key): tuple(_titles(chosen, f)) for f in chosen.site.feeds}
    expected = _naive(articles, n)
    assert got == {g: t for g, t in expected.items() if t or g == ("site", "")}


# -- updating a selection from a few changes (reselect) ------------------------------------

_KEYS = st.sampled_from(["ai", "space", "rust", "go"])


@st.composite
def _briefs(draw: st.DrawFn, n: int) -> list[Brief | None]:
    """``n`` files, each a published article (ids unique) or not an article at all."""
    out: list[Brief | None] = []
    for i in range(n):
        if draw(st.integers(0, 9)) == 0:
            out.append(None)
            continue
        keys = draw(st.lists(_KEYS, max_size=3))
        domain = draw(st.sampled_from([None, "a.example", "b.example"]))
        out.append(
            Brief(
                id=f"https://x.example/{i}",
                url=f"https://x.example/{i}",
                published=draw(st.integers(0, 40)) * 1_000_000,
                draft=False,
                removed=False,
                topics=tuple((k, draw(st.sampled_from([k, k.upper()]))) for k in keys),
                provider=(domain, draw(st.sampled_from(["A", "B"]))) if domain else None,
            )
        )
    return out


def _states(briefs: list[Brief | None], n: int) -> dict:
    rels = [f"{i:03d}.md" for i in range(len(briefs))]
    selector = Selector(Selection(now=NOW), items_per_feed=n, rels=rels)
    for index, brief in enumerate(briefs):
        if brief is not None:
            selector.add(index, brief)
    selector.finish("Site")
    return selector.states


@settings(max_examples=examples(300), deadline=None)
@given(st.data(), st.integers(1, 4))
def test_property_reselect_gives_what_choosing_from_every_article_gives(data, n) -> None:
    before = data.draw(_briefs(data.draw(st.integers(0, 25))))
    after = list(before)
    changes = []
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(after)))
        if index == len(after):
            after.append(None)  # a new file
        replacement = data.draw(_briefs(1))[0]
        if replacement is not None:  # keep ids unique: the id follows the file
            replacement = replacement._replace(
                id=f"https://x.example/{index}", url=f"https://x.example/{index}"
            )
        changes.append((index, replacement))
        after[index] = replacement
    old_states = _states(before, n)
    first: dict[int, Brief | None] = {}
    for index, _ in changes:
        first.setdefault(index, before[index] if index < len(before) else None)
    change_list = [Change(f"{i:03d}.md", first[i], after[i]) for i in sorted(first)]
    affected = touched(change_list, ("topics", "providers"))
    result = reselect(
        {g: old_states.get(g) for g in affected},
        change_list,
        items_per_feed=n,
    )
    new_states = _states(after, n)
    if result is None:  # allowed only when too many candidates left a group
        return
    for group in affected:
        expected = new_states.get(group)
        got = result[group]
        if expected is None or got is None:
            assert expected is got
            continue
        assert got.total == expected.total and got.names == expected.names
        # Both know the group's newest articles exactly; the full choice may know more.
        assert got.record(n) == expected.record(n)
        shared = min(len(got.candidates), len(expected.candidates))
        assert got.candidates[:shared] == expected.candidates[:shared]
        assert got.complete <= expected.complete


def test_reselect_refuses_what_it_cannot_know() -> None:
    briefs = [
        Brief(f"https://x.example/{i}", f"https://x.example/{i}", i, False, False, (), None)
        for i in range(6)
    ]
    states = _states(briefs, 1)  # keeps 2 candidates of 6
    site = (FeedKind.SITE, "")
    drop = [Change(f"{i:03d}.md", briefs[i], None) for i in (5, 4)]
    assert reselect({site: states[site]}, drop[:1], items_per_feed=1)
    assert reselect({site: states[site]}, drop, items_per_feed=1) is None


_WORDS = st.sampled_from(["a", "b", "c", "A", "B"])


@given(
    topics=st.lists(st.tuples(_WORDS, _WORDS), max_size=5),
    provider=st.none() | st.tuples(_WORDS, _WORDS),
    groupings=st.sampled_from([(), ("topics",), ("providers",), ("topics", "providers")]),
)
def test_selector_groups_are_groups_of(
    topics: list[tuple[str, str]],
    provider: tuple[str, str] | None,
    groupings: tuple[str, ...],
) -> None:
    from feeds.group import groups_of

    brief = Brief("id", "id", 0, False, False, tuple(topics), provider)
    selector = Selector(Selection(now=NOW), items_per_feed=3, groupings=groupings)
    expected = groups_of(brief, "topics" in groupings, "providers" in groupings)
    assert selector._groups(brief) == expected
    assert selector._groups(brief) == expected  # again, from the shared pairs


# -- what an update sees of changed files (shown_after, held_after) ------------------------


def _brief(n: int, published: int = 0, *, draft: bool = False, removed: bool = False) -> Brief:
    url = f"https://x.example/{n}"
    return Brief(url, url, published, draft, removed, (), None)


def test_shown_after_follows_the_duplicate_rule_over_every_copy() -> None:
    a, b = _brief(1, 1), _brief(1, 2)  # two copies of one id: b, newer, is shown
    last = {"a.md": a, "b.md": b}

    def files_of(ids):
        return {i: ("a.md", "b.md") for i in ids}

    def briefs_of(rels):
        return {rel: last[rel] for rel in rels}

    def after(*changes: Change, related_published_only: bool = False):
        return shown_after(
            changes,
            (same_article("c/a.md", "c/b.md", a.id),),
            Selection(now=NOW),
            files_of,
            briefs_of,
            "c/",
            related_published_only,
        )

    older = b._replace(published=0)  # b edited to be older than a: a is shown now
    assert after(Change("b.md", b, older)) == Shown(
        [Change("b.md", b, None), Change("a.md", None, a)],
        (same_article("c/b.md", "c/a.md", a.id),),
    )
    newer = b._replace(published=3)  # still shown: the groups see it change
    assert after(Change("b.md", b, newer)) == Shown(
        [Change("b.md", b, newer)], (same_article("c/a.md", "c/b.md", a.id),)
    )
    # A removed copy, or several copies with related_published_only: choose again.
    assert after(Change("b.md", b, b._replace(removed=True))) is None
    assert after(Change("b.md", b, newer), related_published_only=True) is None


def test_held_after_counts_what_is_held_back_and_knows_what_it_cannot() -> None:
    due = micros(NOW) + 10
    counts, until = Counts(published=5, drafts=1, future=1), from_micros(due)
    draft, sooner = _brief(1, draft=True), _brief(2, due - 5)
    assert held_after(
        [Change("1.md", None, draft), Change("2.md", None, sooner)],
        counts,
        until,
        Selection(now=NOW),
        False,
    ) == HeldBack(Counts(published=5, drafts=2, future=2), from_micros(due - 5))
    # The article due next leaves the future: which one comes next is not known here.
    gone = Change("3.md", _brief(3, due), None)
    assert held_after([gone], counts, until, Selection(now=NOW), False) is None
    # With related_published_only, a draft changes which related items are hidden.
    assert (
        held_after([Change("1.md", None, draft)], counts, until, Selection(now=NOW), True) is None
    )
