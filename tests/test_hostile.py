"""Hostile and broken input: never a traceback, a hang, an invalid feed, or a leak.

One test per class of input from the hostile-input issue, then property tests that
throw arbitrary text into every field of whole articles.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
import yaml
from conftest import NOW, article, examples, run_build, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.build import BuildOptions, build
from feeds.collect import MAX_FILE_BYTES
from feeds.config import Config
from feeds.errors import Severity

STRICT_XML = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=True)


def check_output(output: Path) -> dict[str, bytes]:
    """Every written file parses strictly and sits inside the output; return them all."""
    files: dict[str, bytes] = {}
    root = output.resolve()
    for path in output.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        assert path.resolve().is_relative_to(root), path
        data = path.read_bytes()
        files[path.relative_to(output).as_posix()] = data
        if path.suffix in (".xml", ".opml"):
            etree.fromstring(data, STRICT_XML)
            if path.suffix == ".xml":
                parsed = feedparser.parse(data)
                assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        elif path.suffix == ".json":
            json.loads(data)
    return files


def build_and_check(tmp_path: Path, files: dict[str, str | bytes], **options):
    result, output = run_build(tmp_path, files, **options)
    return result, check_output(output)


def problem_fields(result) -> dict[str, str]:
    return {
        p.path.rsplit("/", 1)[-1]: p.field for p in result.problems if p.severity is Severity.ERROR
    }


# -- text ------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "nul \x00 bell \x07 esc \x1b vt \x0b ff \x0c del \x7f c1 \x85\x9f",
    "nonchars \ufffe \uffff",
    "cdata end ]]> and ]]]]><![CDATA[>",
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "&bogus; &#0; &#xD800; &#x110000; &#99999999; &amp;amp; &",
    "rtl \u202eevil\u202c \u200f mark \u2066isolate\u2069",
    "emoji 🚀👩‍👩‍👧 flags 🇺🇦 and astral 𝔘𝔫𝔦",
    "mojibake â€™ Ã©tÃ© and double Ã¢â‚¬â„¢",
    "literal \\r\\n escapes \\t and real \r\n newlines",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_hostile_text_in_every_text_field(tmp_path: Path, text: str) -> None:
    files = {
        "a.md": article(
            title="T " + text,
            excerpt=text,
            topics=["Topic " + text],
            provider={"name": text, "domain": "p.example.com"},
            images=[{"url": "https://p.example.com/i.jpg", "title": text}],
            related=[
                {
                    "title": "R " + text,
                    "excerpt": text,
                    "webUrl": "https://r.example.com/1",
                    "provider": {"name": text, "domain": text},
                }
            ],
            body=text.replace("\x00", ""),  # a raw NUL makes the file binary (tested below)
        )
    }
    result, out = build_and_check(tmp_path, files)
    assert result.errors == ()
    rss = out["rss.xml"].decode()
    assert "<script" not in out["feed.json"].decode().lower() or "content_html" not in rss
    parsed = feedparser.parse(out["rss.xml"])
    assert parsed.entries[0].title.startswith("T ")


def test_lone_surrogates_from_yaml_escapes(tmp_path: Path) -> None:
    text = (
        '---\ntitle: "bad \\ud800 surrogate \\udfff"\npublishedDateTime: 2025-01-01\n'
        'webUrl: https://x.example.com/\nexcerpt: "\\uDBFF\\uDC00 pair and lone \\uDC00"\n---\n'
    )
    result, out = build_and_check(tmp_path, {"a.md": text})
    assert result.errors == ()
    assert json.loads(out["feed.json"])["items"][0]["title"] == "bad surrogate"


def test_three_megabyte_excerpt_is_truncated_not_fatal(tmp_path: Path) -> None:
    result, out = build_and_check(tmp_path, {"a.md": article(excerpt="word " * 600_000)})
    assert result.errors == ()
    summary = json.loads(out["feed.json"])["items"][0]["summary"]
    assert 1000 < len(summary) <= 5000 and summary.endswith("…")


def test_html_body_is_sanitised_by_a_real_sanitiser(tmp_path: Path) -> None:
    body = (
        '<p onclick="x()">Hi <a href="javascript:alert(1)">link</a>'
        '<iframe src="https://evil.example.com"></iframe><style>*{}</style></p>'
    )
    _result, out = build_and_check(tmp_path, {"a.md": article(body=body)})
    html = json.loads(out["feed.json"])["items"][0]["content_html"]
    assert "onclick" not in html and "javascript:" not in html
    assert "<iframe" not in html and "<style" not in html and "Hi" in html


# -- names that become paths -------------------------------------------------------------

PATH_NAMES = [
    "../../x",
    "/",
    ".",
    "..",
    "a/b",
    "CON",
    "nul",
    "x" * 400,
    "C",
    "C++",
    "C#",
    "c",
    "Москва",
    "京都",
    "..\\..\\win",
    "a\x00b",
    "~",
    "$HOME",
    "%2e%2e",
    "index.html",
]


def test_names_that_become_paths_stay_inside_and_unique(tmp_path: Path) -> None:
    files = {
        f"{i}.md": article(n=i, topics=[name], provider={"name": name, "domain": name})
        for i, name in enumerate(PATH_NAMES)
    }
    files["empty.md"] = article(n=99, topics=["", "   "], provider={"name": "", "domain": "  "})
    result, out = build_and_check(tmp_path, files)
    assert result.errors == ()
    topic_dirs = {p.split("/")[1] for p in out if p.startswith("topics/")}
    provider_dirs = {p.split("/")[1] for p in out if p.startswith("providers/")}
    assert len(topic_dirs) == len(PATH_NAMES) - 1  # "C" and "c" are one topic
    # "c"/"C" are one provider; "." and ".." are no domain at all (reported, no provider feed)
    assert len(provider_dirs) == len(PATH_NAMES) - 3
    assert (
        sorted(p.field for p in result.problems if p.field.startswith("provider"))
        == ["provider.domain"] * 3
    )
    for slug in topic_dirs | provider_dirs:
        assert slug not in ("", ".", "..") and len(slug.encode()) < 200
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://x.example.com/",
        "/relative/path",
        "//x.example.com/proto",
        "   ",
        "http://",
        "https://exa mple.com/",
    ],
)
def test_bad_article_urls_are_reported(tmp_path: Path, url: str) -> None:
    result, out = build_and_check(
        tmp_path, {"a.md": article(webUrl=url, originalUrl=None), "ok.md": article(n=2)}
    )
    assert len(json.loads(out["feed.json"])["items"]) == 1
    assert result.problems and result.problems[0].field == "webUrl"


def test_bad_image_and_related_urls_are_dropped_with_a_warning(tmp_path: Path) -> None:
    files = {
        "a.md": article(
            images=[{"url": "javascript:x"}, {"url": "https://ok.example.com/i.png"}],
            related=[
                {"title": "x", "webUrl": "data:,x"},
                {"title": "y", "webUrl": "https://r.example.com/y"},
            ],
        )
    }
    result, out = build_and_check(tmp_path, files)
    assert result.errors == ()
    assert {p.field for p in result.problems} == {"images[0].url", "related[0].webUrl"}
    item = json.loads(out["feed.json"])["items"][0]
    assert item["image"] == "https://ok.example.com/i.png"
    assert [r["url"] for r in item["_feeds"]["related"]] == ["https://r.example.com/y"]


def test_internationalised_urls_are_encoded(tmp_path: Path) -> None:
    _result, out = build_and_check(
        tmp_path,
        {"a.md": article(webUrl="https://bücher.example.com/straße?q=ü b", originalUrl=None)},
    )
    item = json.loads(out["feed.json"])["items"][0]
    assert item["url"] == "https://xn--bcher-kva.example.com/stra%C3%9Fe?q=%C3%BC%20b"


# -- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2021-02-30T00:00:00Z", False),
        ("soon", False),
        ("12", False),
        ("null", False),
        ("2025-03-04T09:15:00+05:30", True),
        ("2025-03-04 10:00", True),
        ("Tue, 04 Mar 2025 09:15:00 GMT", True),
        ("2025-03-04", True),
        ("0001-01-01T00:00:00Z", False),
        ("9999-12-31T23:59:59Z", True),
        ("yesterday", False),
        ("1700000000", False),
        ("'2025-13-01'", False),
    ],
)
def test_dates(tmp_path: Path, value: str, ok: bool) -> None:
    text = f"---\ntitle: T\nwebUrl: https://x.example.com/\npublishedDateTime: {value}\n---\n"
    result, _out = build_and_check(tmp_path, {"a.md": text}, future=True)
    assert (result.errors == ()) is ok, result.problems
    if not ok:
        assert result.errors[0].field == "publishedDateTime" and result.errors[0].line == 4


# -- types -----------------------------------------------------------------------------------

WRONG_TYPES = {
    "title": 42,
    "excerpt": ["x"],
    "publishedDateTime": {"a": 1},
    "webUrl": 5,
    "published": "false",
    "removed": "yes",
    "deleted": 1,
    "topics": "AI",
    "related": {"title": "x"},
    "quality": [1],
    "heat": "hot",
    "provider": "IFEX",
    "type": 3,
    "images": "https://x.example.com/i.jpg",
    "category": ["news"],
}


@pytest.mark.parametrize("field", sorted(WRONG_TYPES))
def test_wrong_types_are_reported_never_guessed(tmp_path: Path, field: str) -> None:
    result, out = build_and_check(tmp_path, {"a.md": article(**{field: WRONG_TYPES[field]})})
    assert any(p.field.split(".")[0].split("[")[0] == field for p in result.problems), field
    if field in ("images",):  # a bad image list drops the image, keeps the article
        assert result.errors == ()
    else:
        assert json.loads(out["feed.json"])["items"] == []


def test_published_no_is_a_boolean_in_yaml_1_1(tmp_path: Path) -> None:
    text = article().replace("category: news", "category: news\npublished: no")
    result, out = build_and_check(tmp_path, {"a.md": text})
    assert result.errors == () and json.loads(out["feed.json"])["items"] == []


# -- YAML ------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    "---\n"
    + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "title: x\n---\n"
)


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("syntax", "---\ntitle: ok\nbad: [1, 2\nmore: x\n---\n", 4),
        ("python-tag", "---\ntitle: !!python/object/apply:os.system ['echo pwned']\n---\n", 2),
        ("custom-tag", "---\ntitle: !secret x\n---\n", 2),
        ("billion-laughs", BILLION_LAUGHS, 2),
        ("deep", "---\ntitle: " + "[" * 5000 + "]" * 5000 + "\n---\n", 2),
        ("deep-block", "---\n" + "".join(" " * i + f"k{i}:\n" for i in range(300)) + "---\n", 0),
        ("duplicate-keys", "---\ntitle: a\ntitle: b\npublishedDateTime: 2025-01-01\n---\n", 3),
        ("list-document", "---\n- title\n- x\n---\n", 2),
        ("scalar-document", "---\njust text\n---\n", 2),
        ("merge-key", "---\nbase: &b {title: x}\n<<: *b\n---\n", 0),
    ],
)
def test_yaml_attacks_are_reported(tmp_path: Path, name: str, text: str, line: int) -> None:
    result, _ = build_and_check(tmp_path, {f"{name}.md": text})
    (problem,) = result.errors
    assert problem.path.endswith(f"{name}.md")
    if line:
        assert problem.line == line, problem
    if name == "python-tag":
        assert not (tmp_path / "pwned").exists()


# -- files -----------------------------------------------------------------------------------


def test_broken_files(tmp_path: Path) -> None:
    good = article(n=1)
    files: dict[str, str | bytes] = {
        "empty.md": "",
        "only-fence.md": "---\n",
        "no-closing.md": "---\ntitle: x\npublishedDateTime: 2025-01-01\n",
        "bom.md": "\ufeff" + article(n=2),
        "crlf.md": article(n=3).replace("\n", "\r\n"),
        "latin1.md": article(n=4, title="caf\xe9").encode("latin-1"),
        "binary.md": bytes(range(256)) * 4,
        "with space ü.md": article(n=5),
        "notes.txt": "not an article",
        ".hidden/x.md": article(n=6),
        "good.md": good,
    }
    write_tree(tmp_path / "content", files)
    outside = tmp_path / "outside.md"
    outside.write_text(article(n=7))
    (tmp_path / "content" / "link.md").symlink_to(outside)
    (tmp_path / "content" / "inside-link.md").symlink_to(tmp_path / "content" / "good.md")
    result = build(
        Config(), BuildOptions(content=tmp_path / "content", output=tmp_path / "public", now=NOW)
    )
    check_output(tmp_path / "public")
    bad = {p.path.rsplit("/", 1)[-1] for p in result.problems}
    assert {
        "empty.md",
        "only-fence.md",
        "no-closing.md",
        "latin1.md",
        "binary.md",
        "link.md",
    } <= bad
    items = json.loads((tmp_path / "public" / "feed.json").read_text())["items"]
    titles = {i["title"] for i in items}
    assert {
        "Article number 1",
        "Article number 2",
        "Article number 3",
        "Article number 5",
    } <= titles
    assert "Article number 6" not in titles and "Article number 7" not in titles
    latin = next(p for p in result.problems if p.path.endswith("latin1.md"))
    assert "not UTF-8" in latin.message and latin.line == 3


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    big = article(excerpt="x" * (MAX_FILE_BYTES + 10))
    result, _ = build_and_check(tmp_path, {"big.md": big, "ok.md": article(n=2)})
    assert [p.message for p in result.errors] == ["file larger than 16 MiB: skipped"]


# -- lists -----------------------------------------------------------------------------------


def test_two_thousand_related_items_are_capped(tmp_path: Path) -> None:
    related = [{"title": f"R{i}", "webUrl": f"https://r.example.com/{i}"} for i in range(2000)]
    result, out = build_and_check(
        tmp_path, {"a.md": article(related=related)}, config=Config(max_related=50)
    )
    assert result.errors == ()
    assert len(json.loads(out["feed.json"])["items"][0]["_feeds"]["related"]) == 50


# -- properties --------------------------------------------------------------------------------

ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
SCALARS = st.one_of(
    ANY_TEXT,
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.dates().map(str),
)
FIELDS = {
    "title": st.one_of(ANY_TEXT, SCALARS),
    "excerpt": st.one_of(ANY_TEXT, SCALARS),
    "publishedDateTime": st.one_of(
        st.sampled_from(
            ["2025-01-01T00:00:00Z", "2099-01-01", "soon", "Tue, 04 Mar 2025 09:15:00 +0100"]
        ),
        SCALARS,
    ),
    "webUrl": st.one_of(
        st.just("https://news.example.com/a"),
        ANY_TEXT.map(lambda t: "https://news.example.com/" + t),
        SCALARS,
    ),
    "originalUrl": st.one_of(st.none(), ANY_TEXT.map(lambda t: "https://o.example.org/" + t)),
    "published": st.one_of(st.none(), st.booleans(), SCALARS),
    "removed": st.one_of(st.none(), st.booleans()),
    "topics": st.one_of(st.lists(st.one_of(ANY_TEXT, SCALARS), max_size=4), SCALARS),
    "provider": st.one_of(st.fixed_dictionaries({"name": ANY_TEXT, "domain": ANY_TEXT}), SCALARS),
    "related": st.one_of(
        st.lists(
            st.fixed_dictionaries(
                {
                    "title": ANY_TEXT,
                    "webUrl": ANY_TEXT.map(lambda t: "https://r.example.com/" + t),
                    "excerpt": ANY_TEXT,
                }
            ),
            max_size=3,
        ),
        SCALARS,
    ),
    "images": st.one_of(
        st.lists(st.fixed_dictionaries({"url": ANY_TEXT, "width": SCALARS}), max_size=2), SCALARS
    ),
}


@settings(max_examples=examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.fixed_dictionaries({}, optional=FIELDS), min_size=1, max_size=4),
    st.text(max_size=30),
)
def test_property_arbitrary_articles_never_break_the_build(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, object]], body: str
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    files: dict[str, str | bytes] = {}
    for i, record in enumerate(records):
        # A marker in the URL tells which record an output item came from.
        record["originalUrl"] = f"https://o.example.org/rec{i}/x"
        text = yaml.safe_dump(record, allow_unicode=True)
        files[f"{i}.md"] = "---\n" + text + "---\n" + body.replace("\x00", "")
    result, out = build_and_check(tmp, files)
    assert result.files_read == len(records)
    for item in json.loads(out["feed.json"])["items"]:
        i = int(item["id"].split("/rec")[1].split("/")[0])
        record = records[i]
        assert record.get("published") in (None, True), record
        assert record.get("removed") in (None, False), record
        assert record.get("publishedDateTime") != "2099-01-01", record
        assert isinstance(record.get("title"), str) and record["title"].strip()
        assert item["url"].startswith("https://")
