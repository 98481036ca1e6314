"""Stage 2: reading article files into Articles, and reporting the unusable ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import SHARED, article, write_tree

from feeds.collect import collect, find_sources
from feeds.errors import Severity


def _collect(tmp_path: Path, files: dict[str, str | bytes], zone: object = UTC):
    write_tree(tmp_path / "content", files)
    return collect(tmp_path / "content", zone, 50)  # type: ignore[arg-type]


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


def test_duplicate_urls_keep_the_newest_and_report_the_other(tmp_path: Path) -> None:
    url = "https://news.example.com/same"
    c = _collect(
        tmp_path,
        {
            "a.md": article(n=1, title="First", webUrl=url, originalUrl=url),
            "b.md": article(n=5, title="Update", webUrl=url, originalUrl=url),
        },
    )
    assert [a.title for a in c.articles] == ["Update"]
    (p,) = c.problems
    assert p.severity is Severity.WARNING
    assert p.path.endswith("a.md") and "b.md" in p.message


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
    seed = SHARED / "seeds" / "000_944ab56ac52e7950.txt"
    if not seed.exists():
        import pytest

        pytest.skip(f"shared seed not found at {seed} (run from a checkout with ../shared)")
    c = _collect(tmp_path, {"seed.md": seed.read_bytes()})
    (a,) = c.articles
    assert c.problems == ()
    assert a.draft and a.title.startswith("Unregulated use of facial recognition")
    assert a.related[0].provider is not None and a.related[0].provider.domain == "dailydot.com"


def test_parallel_reading_gives_the_same_collection(tmp_path: Path, monkeypatch) -> None:
    import feeds.collect as collect_module

    files: dict[str, str | bytes] = {
        f"d{i % 7}/{i}.md": article(n=i, topics=[f"T{i % 5}"]) for i in range(600)
    }
    files["bad.md"] = "---\ntitle: x\n---\n"
    files["dup.md"] = article(n=3, title="Duplicate of 3")
    write_tree(tmp_path / "content", files)
    serial = collect(tmp_path / "content", UTC, 50, jobs=1)
    monkeypatch.setattr(collect_module, "PARALLEL_MIN_FILES", 10)
    monkeypatch.setattr(collect_module, "_CHUNK", 37)
    parallel = collect(tmp_path / "content", UTC, 50, jobs=3)
    assert parallel == serial
    assert len(serial.articles) == 600 and len(serial.problems) == 2
