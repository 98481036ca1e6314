"""Stage 2: reading article files into Articles, and reporting the unusable ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from conftest import SEED, article, examples, read_content, write_tree
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from feeds.collect import Source, _Reader, decode_text, read_article
from feeds.dates import parse_date, to_utc
from feeds.errors import Severity
from feeds.frontmatter import Document, load_yaml
from feeds.sources import find_sources


def _collect(tmp_path: Path, files: dict[str, str | bytes], zone: object = UTC):
    write_tree(tmp_path / "content", files)
    return read_content(tmp_path / "content", zone, 50)  # type: ignore[arg-type]


def test_reads_every_field_of_a_seed_shaped_article(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {
            "a.md": article(
                title="Caf&eacute; news",
                excerpt="It&#8217;s here&nbsp;now\\r\\nand <MSFT.O> rose",
                related=[
                    {
                        "title": "Other",
                        "webUrl": "https://other.example.org/x",
                        "publishedDateTime": "2025-01-01T00:00:00Z",
                        "provider": {"name": "Other", "domain": "other.example.org"},
                    }
                ],
            )
        },
    )
    assert c.problems == ()
    (a,) = c.articles
    assert a.title == "Café news"
    assert a.summary == "It’s here\xa0now and <MSFT.O> rose".replace("\xa0", " ")
    assert a.published == datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
    assert a.id == a.url == "https://news.example.com/1"
    assert a.provider is not None and a.provider.domain == "news.example.com"
    assert [t.key for t in a.topics] == ["ai"]
    assert a.image is not None and a.image.width == 800
    assert [r.url for r in a.related] == ["https://other.example.org/x"]
    assert a.source == "a.md"


def test_finds_md_files_recursively_in_sorted_order_skipping_hidden(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "content",
        {
            "b/2.md": "x",
            "b/1.md": "x",
            "a.md": "x",
            ".hidden.md": "x",
            ".git/x.md": "x",
            "notes.txt": "x",
            "c/.draft/y.md": "x",
        },
    )
    sources, problems = find_sources(tmp_path / "content")
    assert [s.rel for s in sources] == ["a.md", "b/1.md", "b/2.md"]
    assert problems == ()


def test_published_removed_and_deleted_flags_are_carried(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {
            "a.md": article(n=1, published=False),
            "b.md": article(n=2, removed=True),
            "c.md": article(n=3, deleted=True),
            "d.md": article(n=4),
        },
    )
    flags = {a.source: (a.draft, a.removed) for a in c.articles}
    assert flags == {
        "a.md": (True, False),
        "b.md": (False, True),
        "c.md": (False, True),
        "d.md": (False, False),
    }


def test_ambiguous_published_flag_is_an_error_and_never_publishes(tmp_path: Path) -> None:
    c = _collect(tmp_path, {"a.md": article(published="false"), "b.md": article(n=2, published=0)})
    assert c.articles == ()
    assert [p.field for p in c.problems] == ["published", "published"]


def test_naive_dates_are_read_in_the_configured_zone(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {"a.md": article(publishedDateTime="2025-03-04 10:00")},
        zone=ZoneInfo("Europe/Berlin"),
    )
    assert c.articles[0].published == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def test_rfc822_and_offset_dates(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {
            "a.md": article(n=1, publishedDateTime="Tue, 04 Mar 2025 09:15:00 +0100"),
            "b.md": article(n=2, publishedDateTime="2025-03-04T09:15:00-05:00"),
        },
    )
    got = sorted(a.published for a in c.articles)
    assert got == [
        datetime(2025, 3, 4, 8, 15, tzinfo=UTC),
        datetime(2025, 3, 4, 14, 15, tzinfo=UTC),
    ]


def test_urls_with_spaces_are_percent_encoded_not_dropped(tmp_path: Path) -> None:
    c = _collect(
        tmp_path, {"a.md": article(webUrl="https://x.example.com/a story.html", originalUrl=None)}
    )
    assert c.articles[0].url == "https://x.example.com/a%20story.html"


def test_video_with_only_original_url(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {"v.md": article(type="video", webUrl=None, featuredContent="<iframe src='x'></iframe>")},
    )
    (a,) = c.articles
    assert a.url == a.id == "https://news.example.com/1"
    assert a.kind == "video"


def test_external_url_when_original_differs(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {
            "a.md": article(
                originalUrl="https://orig.example.org/a", webUrl="https://agg.example.com/a"
            )
        },
    )
    a = c.articles[0]
    assert (a.id, a.url, a.external_url) == (
        "https://orig.example.org/a",
        "https://agg.example.com/a",
        "https://orig.example.org/a",
    )


def test_duplicate_urls_are_all_read_and_left_to_the_choice_of_feeds(tmp_path: Path) -> None:
    # Which copy is published depends on the selection (drafts and future copies take no
    # part): tests/test_publication.py checks the choice.
    url = "https://news.example.com/same"
    c = _collect(
        tmp_path,
        {
            "a.md": article(n=1, title="First", webUrl=url, originalUrl=url),
            "b.md": article(n=5, title="Update", webUrl=url, originalUrl=url),
        },
    )
    assert [a.title for a in c.articles] == ["First", "Update"]
    assert c.problems == ()


def test_topics_merge_case_insensitively_and_drop_empty(tmp_path: Path) -> None:
    c = _collect(tmp_path, {"a.md": article(topics=["AI", "ai", "  ", "Ａｉ", "Climate"])})
    assert [t.key for t in c.articles[0].topics] == ["ai", "ａｉ", "climate"]
    assert any(p.field == "topics[2]" for p in c.problems)


def test_self_pointing_and_repeated_related_items_are_dropped(tmp_path: Path) -> None:
    own = "https://news.example.com/1"
    related = [
        {"title": "Me", "webUrl": own},
        {"title": "A", "webUrl": "https://o.example.org/a"},
        {"title": "A again", "webUrl": "https://o.example.org/a"},
    ]
    c = _collect(tmp_path, {"a.md": article(related=related)})
    assert [r.title for r in c.articles[0].related] == ["A"]


def test_unusable_files_are_reported_with_path_line_and_field(tmp_path: Path) -> None:
    c = _collect(
        tmp_path,
        {
            "bad-date.md": "---\ntitle: T\npublishedDateTime: soon\nwebUrl: https://x.example.com/\n---\n",
            "no-title.md": "---\npublishedDateTime: 2025-01-01\nwebUrl: https://x.example.com/2\n---\n",
            "bad-yaml.md": "---\ntitle: [unclosed\n---\n",
            "good.md": article(),
        },
    )
    lines = sorted(str(p) for p in c.problems)
    content = str(tmp_path / "content")
    assert lines == [
        f"{content}/bad-date.md:3: publishedDateTime: not a date: 'soon'",
        f"{content}/bad-yaml.md:3: bad YAML: while parsing a flow sequence"
        " did not find expected ',' or ']'",
        f"{content}/no-title.md:1: title: missing",
    ]
    assert [a.source for a in c.articles] == ["good.md"]


def test_secured_is_never_kept(tmp_path: Path) -> None:
    c = _collect(tmp_path, {"a.md": article(secured="TOPSECRET")})
    assert "TOPSECRET" not in repr(c.articles)


def test_the_shared_seed_reads_cleanly(tmp_path: Path) -> None:
    c = _collect(tmp_path, {"seed.md": SEED.read_bytes()})
    (a,) = c.articles
    assert c.problems == ()
    assert a.draft and a.title.startswith("Unregulated use of facial recognition")
    assert a.related[0].provider is not None and a.related[0].provider.domain == "dailydot.com"


# -- any front matter: an article, or errors placed on lines ---------------------------------

_TEXT = st.one_of(
    st.sampled_from(["Title", "A  b &amp; c", "", " ", "news", "é\x00\ufffd", "x" * 600]),
    st.text(max_size=8),
)
_URL = st.one_of(
    *[st.sampled_from(["https://news.example.com/a", "https://r.example.com/r"])] * 4,
    st.sampled_from(
        [
            *["https://news.example.com/a"] * 6,
            *["https://o.example.org/b"] * 6,
            "HTTPS://Example.COM/x y",
            "https://r.example.com/r",
            "javascript:x",
            "",
            " ",
        ]
    ),
    st.text(max_size=5).map(lambda t: "https://r.example.com/" + t),
)
_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 100_001),
    st.floats(allow_nan=False),
    _TEXT,
    st.lists(st.integers(), max_size=1),
    st.dictionaries(st.just("a"), st.integers(), max_size=1),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Asia/Kolkata")])),
)
_DATE = st.one_of(
    st.datetimes(
        min_value=datetime(1899, 12, 31, 20), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("America/New_York")])),
    st.sampled_from(["2025-01-01T00:00:00Z", "soon", "2025-03-04"]),
    _ANY,
)


def _sometimes(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """``strategy`` nine times in ten, else any value."""
    return st.integers(0, 9).flatmap(lambda n: strategy if n else _ANY)


_IMAGE = _sometimes(
    st.fixed_dictionaries(
        {"url": _sometimes(_URL)},
        optional={"width": _ANY, "height": _ANY, "title": _sometimes(_TEXT)},
    )
)
_IMAGES = _sometimes(st.lists(_IMAGE, max_size=2))
_PROVIDER = _sometimes(
    st.fixed_dictionaries(
        {},
        optional={
            "name": _sometimes(_TEXT),
            "domain": _sometimes(st.sampled_from(["news.example.com", "X.Example.", "", "local"])),
            "images": _IMAGES,
        },
    )
)
_RELATED = _sometimes(
    st.fixed_dictionaries(
        {},
        optional={
            "webUrl": _sometimes(_URL),
            "originalUrl": _sometimes(_URL),
            "ampWebUrl": _sometimes(_URL),
            "title": _sometimes(_TEXT),
            "excerpt": _sometimes(_TEXT),
            "publishedDateTime": _DATE,
            "provider": _PROVIDER,
            "images": _IMAGES,
            "type": _sometimes(_TEXT),
        },
    )
)
_FIELDS = {
    "title": _sometimes(_TEXT),
    "excerpt": _sometimes(_TEXT),
    "publishedDateTime": _DATE,
    "originalUrl": _sometimes(_URL),
    "webUrl": _sometimes(_URL),
    "published": _sometimes(st.booleans()),
    "removed": _sometimes(st.booleans()),
    "deleted": _sometimes(st.booleans()),
    "type": _sometimes(_TEXT),
    "category": _sometimes(_TEXT),
    "quality": _sometimes(st.integers()),
    "heat": _sometimes(st.integers()),
    "provider": _PROVIDER,
    "topics": _sometimes(st.lists(_sometimes(_TEXT), max_size=4)),
    "images": _IMAGES,
    "related": _sometimes(st.lists(_RELATED, max_size=4)),
}
_SOURCE = Source(path="/c/a.md", rel="a.md", label="c/a.md")


@settings(max_examples=examples(1000), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.fixed_dictionaries(
        {"title": _FIELDS["title"], "publishedDateTime": _DATE, "webUrl": _FIELDS["webUrl"]},
        optional={
            k: v for k, v in _FIELDS.items() if k not in ("title", "webUrl", "publishedDateTime")
        },
    ),
    st.sampled_from(["", "Body.", "*Body*"]),
    st.integers(0, 3),
)
def test_any_front_matter_is_an_article_or_errors_on_lines_of_the_file(
    data: dict[str, object], body: str, max_related: int
) -> None:
    """Whatever the values, a file gives an article exactly when none of its problems is
    an error, every problem is on a line of the front matter, and reading the mapping
    without key lines (as the fast YAML path gives it) finds the same article and the
    same problems: ``read_article`` reads such a file again for the lines alone."""
    zone = ZoneInfo("Europe/Paris")
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    raw = f"---\n{front}---\n{body}".encode()
    result = read_article(_SOURCE, raw, zone, max_related)
    errors = [p for p in result.problems if p.severity is Severity.ERROR]
    event("article" if result.article is not None else "errors")
    assert (result.article is None) == bool(errors)
    breaks = sum(front.count(c) for c in "\n\x85\u2028\u2029")  # YAML's line breaks
    assert all(1 <= p.line <= breaks + 1 for p in result.problems)
    assert all(str(p).startswith(f"{_SOURCE.label}:{p.line}: ") for p in result.problems)
    if result.article is not None:
        assert result.article.source == _SOURCE.rel and result.article.title

    doc = load_yaml(front)
    unplaced = _Reader(_SOURCE, Document(data=doc.data, lines={}), 1, zone, max_related)
    without_lines = unplaced.read(_SOURCE, body)
    assert repr(without_lines.article) == repr(result.article)
    assert [(p.field, p.message, p.severity) for p in without_lines.problems] == [
        (p.field, p.message, p.severity) for p in result.problems
    ]


@settings(max_examples=examples(1000))
@given(_DATE, st.sampled_from([UTC, ZoneInfo("Asia/Tokyo")]))
def test_parse_date_fast_path_agrees_with_to_utc(value: object, zone: tzinfo) -> None:
    if isinstance(value, datetime):
        try:
            expected: object = to_utc(value, zone)
        except ValueError as e:
            expected = str(e)
        try:
            got: object = parse_date(value, zone)
        except ValueError as e:
            got = str(e)
        assert repr(got) == repr(expected)


def test_read_bytes_reads_whole_files_and_stops_past_the_size_limit(
    tmp_path: Path, monkeypatch
) -> None:
    from feeds import collect

    monkeypatch.setattr(collect, "MAX_FILE_BYTES", 100)
    for size in (0, 1, 99, 100, 101, 5000):
        path = tmp_path / f"{size}.md"
        path.write_bytes(bytes(range(256)) * (size // 256) + bytes(size % 256))
        raw, st = collect.read_bytes(str(path))
        assert raw == path.read_bytes()[:101]
        assert st.st_size == size

    # The first read asks for 64 KiB, and reads on when it gets them all.
    limit = 3 * collect._FIRST_READ
    monkeypatch.setattr(collect, "MAX_FILE_BYTES", limit)
    for size in (0, 65535, 65536, 65537, 2 * 65536, limit, limit + 1, limit + 2, 4 * 65536):
        path = tmp_path / f"big-{size}.md"
        path.write_bytes(bytes(range(251)) * (size // 251) + bytes(size % 251))
        raw, st = collect.read_bytes(str(path))
        assert raw == path.read_bytes()[: limit + 1]
        assert st.st_size == size


def _decoded_or_error(decode: Callable[[bytes], str], raw: bytes) -> object:
    try:
        return decode(raw)
    except UnicodeDecodeError as e:
        return (type(e), e.start, e.end, e.reason, raw[e.start])


@settings(max_examples=examples(2000))
@given(
    st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb", b"\xef\xbb\xbf\xef\xbb\xbf"]),
    st.lists(
        st.sampled_from(
            [b"a", b"\n", b"\r", b"\r\n", b"\xc3\xa9", b"\xc3", b"\xff", b"\xe2\x80\xa8"]
        ),
        max_size=12,
    ).map(b"".join),
)
def test_decode_text_is_utf8_sig_with_unix_line_ends(bom: bytes, rest: bytes) -> None:
    """What read_article decodes with, and the error it reports, as before decode_text."""
    raw = bom + rest

    def reference(raw: bytes) -> str:
        return raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")

    assert _decoded_or_error(decode_text, raw) == _decoded_or_error(reference, raw)
