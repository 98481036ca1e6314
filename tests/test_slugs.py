"""Group keys and slugs: which spellings are one topic, and the folder each feed gets."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from conftest import REPO, article, examples, run_build
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.slugs import MAX_READABLE, group_key, slugify

# name -> its exact slug. A slug is permanent once people subscribe: a change here
# moves a feed, so it must be a decision, not a side effect.
REAL_NAMES = {
    "COVID-19": "covid-19",
    "Wi-Fi": "wi-fi",
    "e-mail": "e-mail",
    "Model-driven apps": "model-driven-apps",
    "Power Apps": "power-apps",
    "Computer Vision": "computer-vision",
    "AI": "ai",
    "C": "c",
    "C++": "c-plus-plus-cedb1bac",
    "C#": "c-sharp-951a4d36",
    "c sharp": "c-sharp",  # not C#: a readable slug never ends like a hashed one
    ".NET": "net-fb74851c",  # a leading dot would be a hidden folder
    "F#": "f-sharp-3465c653",
    "Node.js": "node.js",
    "ASP.NET Core": "asp.net-core",
    "Москва": "москва",
    "京都": "京都",
    "भारत": "भारत",  # vowel signs are marks: readable too
    "Éducation": "éducation",
    "Education": "education",  # accents are not folded: another topic
    "Straße": "strasse",  # case folding, as for every other letter
    "ＡＩ": "ａｉ",  # widths are not folded (NFC, not NFKC): another topic than AI
    "deadbeef": "deadbeef-2baf1f40",  # reads like a hash: hashed
    "Release 20240101": "release-20240101-9a9fdf4a",
    "Release 2024": "release-2024",
    "CON": "con-1143da2b",  # reserved on Windows
    "con.txt": "con-txt-d3bde286",
    "Con game": "con-game",
    "../x": "x-d6b96a97",
    "a/b": "a-b-c14cddc0",
}


@pytest.mark.parametrize(("name", "slug"), REAL_NAMES.items())
def test_real_names_get_these_slugs(name: str, slug: str) -> None:
    assert slugify(group_key(name)) == slug


@pytest.mark.parametrize(
    "spellings",
    [
        ["Model-driven apps", "Model driven apps", "model-driven apps", "Model_driven_apps"],
        ["COVID-19", "covid 19", "Covid_19", "covid--19", " covid - 19 ", "COVID\u201119"],
        ["Wi-Fi", "WI FI", "wi_fi"],
        ["Éducation", unicodedata.normalize("NFD", "Éducation"), "ÉDUCATION"],
        ["Power Apps", "power\tapps", "power\u00a0apps", "POWER__APPS"],
    ],
)
def test_spellings_of_one_topic_share_key_and_slug(spellings: list[str]) -> None:
    assert len({group_key(s) for s in spellings}) == 1
    assert len({slugify(group_key(s)) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Éducation", "Education"),
        ("ＡＩ", "AI"),
        ("C", "C++"),
        ("C", "C#"),
        ("C++", "C#"),
        ("C#", "c sharp"),
        ("C++", "c plus plus"),
        ("wifi", "wi-fi"),  # a hyphen separates words; nothing joins them
        ("Node.js", "Node js"),
        ("COVID–19", "COVID-19"),  # an en dash is not a hyphen
    ],
)
def test_different_topics_stay_apart(a: str, b: str) -> None:
    assert group_key(a) != group_key(b)
    assert slugify(group_key(a)) != slugify(group_key(b))


def test_names_of_nothing_but_separators_have_no_key() -> None:
    assert group_key("-") == group_key("_ _") == group_key(" ") == ""


def test_provider_domains_are_their_own_slug() -> None:
    assert slugify("ifex.org", domain=True) == "ifex.org"
    assert slugify("news.example.com", domain=True) == "news.example.com"
    assert slugify("my-site.example", domain=True) == "my-site.example"
    assert slugify("a-12345678", domain=True) == "a-12345678-2e4b18ba"
    assert slugify("c++", domain=True) != slugify("c", domain=True)


def test_hostile_names_are_apart_and_safe() -> None:
    names = ["C", "C++", "C#", "../../x", "/", ".", "..", "a/b", "CON", "nul", "x" * 400]
    names += ["..\\..\\win", "a\x00b", "~", "$HOME", "%2e%2e", "index.html", "NUL.txt"]
    slugs = {slugify(group_key(n)) for n in names}
    assert len(slugs) == len(names)
    for slug in slugs:
        assert_path_safe(slug)


def test_the_readme_table_is_what_slugify_does() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    table = readme.split("| topic (any of these spellings) | folder |\n|---|---|\n")[1]
    rows = table.split("\n\n")[0].splitlines()
    checked = 0
    for row in rows:
        names, folders = (
            [re.findall(r"`([^`]*)`", part) for part in cell.split(" / ")]
            for cell in row.strip("|").split(" | ")
        )
        if not all(names):
            continue  # "a name over 60 characters": said in words
        assert len(names) == len(folders), row
        for spellings, (folder,) in zip(names, folders, strict=True):
            for name in spellings:
                assert f"topics/{slugify(group_key(name))}/" == folder, row
                checked += 1
    assert checked >= 25


# -- properties ----------------------------------------------------------------------------

_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{port}{i}" for port in ("com", "lpt") for i in [*"0123456789", "¹", "²", "³"]
}


def assert_path_safe(slug: str) -> None:
    assert slug and slug not in (".", "..")
    assert not slug.startswith((".", "-", " ")) and not slug.endswith((".", " "))
    assert not set(slug) & set('/\\\x00<>:"|?*%')
    assert all(unicodedata.category(ch)[0] in "LMN" or ch in "-." for ch in slug)
    assert len(slug.encode("utf-8")) <= 255
    assert slug.split(".")[0].casefold() not in _RESERVED


@settings(max_examples=examples(500), deadline=None)
@given(st.text())
@example("../../etc/passwd")
@example("..\\..\\win")
@example("a\x00b")
@example(".hidden")
@example("CON")
@example("com¹")
@example("x" * 400)
@example("京" * 400)
@example("+" * 400)
@example("\U00020000" * 100)
def test_property_slugs_are_path_safe_and_stable(text: str) -> None:
    for key, domain in ((group_key(text), False), (text, False), (text, True)):
        slug = slugify(key, domain=domain)
        assert_path_safe(slug)
        assert slugify.__wrapped__(key, domain=domain) == slug  # a pure function of the key


@settings(max_examples=examples(300), deadline=None)
@given(st.text())
def test_property_a_slug_is_the_key_itself_or_hashed(text: str) -> None:
    key = group_key(text)
    assert group_key(key) == key
    slug = slugify(key)
    if slug == key.replace(" ", "-"):
        assert len(key) <= MAX_READABLE
    else:
        tail = slug.rsplit("-", 1)[-1]
        assert len(tail) == 8 and set(tail) <= set("0123456789abcdef")


# Small alphabets make near-collisions likely: symbols and their words, separators, dots,
# hex digits that look like a hash.
_NEAR = st.text(alphabet="cC+#.-_ /plushar0123456789abcdef", max_size=14)
_NEAR_PAIRS = [
    ("c++", "c-plus-plus"),
    ("c++", "c plus plus"),
    ("c#", "c-sharp"),
    ("a b", "ab"),
    (".net", "net"),
    ("a.b", "a-b"),
    ("a/b", "a-b"),
    ("node.js", "node js"),
    ("con", "con-1143da2b"),
    ("c++", "c-plus-plus-cedb1bac"),
    ("", "e3b0c442"),
    ("x" * 70, "x" * 71),
]


def assert_apart_unless_one_key(a: str, b: str) -> None:
    ka, kb = group_key(a), group_key(b)
    if ka == kb:
        assert slugify(ka) == slugify(kb)
        return
    sa, sb = slugify(ka), slugify(kb)
    assert sa != sb
    # also on case- and normalization-insensitive file systems (macOS, Windows)
    assert (
        unicodedata.normalize("NFD", sa).casefold() != unicodedata.normalize("NFD", sb).casefold()
    )


@settings(max_examples=examples(1000), deadline=None)
@given(_NEAR | st.text(), _NEAR | st.text())
def test_property_distinct_keys_get_distinct_slugs(a: str, b: str) -> None:
    assert_apart_unless_one_key(a, b)


@pytest.mark.parametrize(("a", "b"), _NEAR_PAIRS)
def test_near_collisions_stay_apart(a: str, b: str) -> None:
    assert group_key(a) != group_key(b)
    assert_apart_unless_one_key(a, b)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_NEAR, max_size=40))
def test_property_many_keys_many_slugs(names: list[str]) -> None:
    keys = {group_key(n) for n in names}
    assert len({slugify(k) for k in keys}) == len(keys)


# -- end to end ----------------------------------------------------------------------------


def test_spellings_of_a_topic_make_one_feed(tmp_path: Path) -> None:
    files = {
        "1.md": article(n=1, topics=["COVID-19"]),
        "2.md": article(n=2, topics=["covid 19"]),
        "3.md": article(n=3, topics=["Covid_19"]),
        "4.md": article(n=4, topics=["COVID-19", "Wi-Fi"]),
        "5.md": article(n=5, topics=["-", "_ _"]),
    }
    result, public = run_build(tmp_path, files)
    assert result.errors == ()
    assert sorted(p.name for p in (public / "topics").iterdir()) == ["covid-19", "wi-fi"]
    feed = json.loads((public / "topics" / "covid-19" / "feed.json").read_text("utf-8"))
    assert sorted(item["id"] for item in feed["items"]) == [
        f"https://news.example.com/{n}" for n in (1, 2, 3, 4)
    ]
    assert "COVID-19" in feed["title"]  # the most common spelling
    item = next(i for i in feed["items"] if i["id"].endswith("/2"))
    assert item["tags"] == ["covid 19"]  # each article keeps its own spelling
    empty = [p for p in result.problems if p.path.endswith("5.md")]
    assert [p.message for p in empty] == ["empty topic ignored"] * 2
