"""The YAML gate: the fast front-matter path gives PyYAML's result or steps aside.

The property everywhere: ``load_yaml_fast(text)`` is ``None``, or equal to what PyYAML
reads (``load_yaml(text).data``) with the same types all the way down (``True`` is not
``1``, ``1.0`` is not ``1``, datetimes carry the same ``tzinfo``). When ``load_yaml``
refuses the text, the fast path must return ``None``.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import examples, modules_after_build
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate
from feeds import fastyaml
from feeds.fastyaml import load_yaml_fast
from feeds.frontmatter import YamlProblem, load_yaml, split_front_matter

REPO = Path(__file__).resolve().parent.parent
SEED = REPO.parent / "shared" / "seeds" / "000_944ab56ac52e7950.txt"


@pytest.fixture(autouse=True, scope="module")
def _gate_compiled() -> None:
    """The gate as a build has it after its first few files (before, PyYAML reads alone)."""
    fastyaml._before_gate = 0


def same(a: Any, b: Any, where: str = "$") -> None:
    """Assert ``a`` and ``b`` are equal values of the same types, recursively."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{index}]")
    elif isinstance(a, (float, datetime, date)):
        # repr tells -0.0 from 0.0, nan from nan, and timezone.utc from a fixed offset.
        assert repr(a) == repr(b), f"{where}: {a!r} != {b!r}"
        if isinstance(a, datetime):
            assert a.tzinfo == b.tzinfo and a.utcoffset() == b.utcoffset(), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def check(text: str) -> Any:
    """Assert the property for ``text``; return the fast result."""
    fast = load_yaml_fast(text)
    try:
        reference = load_yaml(text).data
    except Exception:  # YamlProblem; any other exception would be a bug in load_yaml
        assert fast is None, f"PyYAML refuses this text but the fast path gave {fast!r}"
        return None
    if fast is not None:
        same(fast, reference)
    return fast


def front(path: Path) -> str:
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    return split_front_matter(text).front


# -- real and generated articles ------------------------------------------------------


def test_bundled_content_and_seed() -> None:
    paths = sorted((REPO / "content").rglob("*.md"))
    assert paths
    fast = [check(front(p)) for p in paths]
    # Two bundled files quote their date ("2025-05-07 10:00"): those go to PyYAML.
    assert sum(r is not None for r in fast) >= len(paths) - 3
    if SEED.exists():
        assert check(front(SEED)) is not None


def test_generated_corpus(tmp_path: Path) -> None:
    generate(tmp_path, 300, seed=7)
    paths = sorted(tmp_path.rglob("*.md"))
    assert len(paths) == 300
    fallbacks = [p for p in paths if check(front(p)) is None]
    assert not fallbacks, f"seed-shaped files should all take the fast path: {fallbacks[:3]}"


# -- values that YAML 1.1 and YAML 1.2 read differently --------------------------------

TRICKY = [
    # booleans and nulls of YAML 1.1 only, in every case
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "y",
    "n",
    "Y",
    "N",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "~",
    "null",
    "Null",
    "NULL",
    # numbers
    "0",
    "-0",
    "+0",
    "00",
    "017",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "-1:20:30.5",
    "12",
    "-1",
    "+12",
    "1.5",
    "-1.5",
    "1.",
    ".5",
    "1e3",
    "1.0e+3",
    "1.5E-3",
    "-0.0",
    ".inf",
    "-.inf",
    ".Inf",
    ".nan",
    ".NaN",
    "=",
    "<<",
    "99999999999999999999999",
    # timestamps
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14T21:59:43.10-05:00",
    "2002-12-14",
    "2001-12-14 21:59:43.10 -5",
    "2001-12-15 2:59:43.10",
    "2021-09-20T22:36:00Z",
    "2021-09-20T22:36:00",
    "2021-09-20T22:36:00.1234567Z",
    "2021-09-20T22:36:00-00:00",
    "2021-09-20T22:36:00+23:59",
    "2021-02-29",
    "2020-02-29",
    "2021-02-30T00:00:00Z",
    "2021-04-31",
    "0000-01-01",
    "2021-13-01",
    "2021-9-1",
    "2021-09-20T24:00:00Z",
    "12:30:00",
    "12:30",
    # quoted look-alikes and escapes
    '"2021-09-20"',
    "'2021-09-20T22:36:00Z'",
    '"12:30:00"',
    '" 2021-09-20"',
    '"yes"',
    "'no'",
    '"017"',
    '""',
    "''",
    '"\\x41"',
    '"\\u263A"',
    '"\\N"',
    '"\\_"',
    '"\\L\\P"',
    '"\\e\\0\\a\\b\\t\\v\\f"',
    '"\\/"',
    '"\\ "',
    '"\\U0001F600"',
    '"\\ud83d\\ude00"',
    '"\\x85"',
    '"\\xff"',
    '"a\\"b"',
    "'it''s'",
    '"\\q"',
    '"\\x4"',
    '"\\x32021-09-20"',
    # strings
    "plain text",
    "café",
    "Москва",
    "京都",
    "a #comment",
    "a#b",
    "a: b",
    "a:b",
    "-x",
    "- x",
    "? x",
    "[a, b]",
    "{a: 1}",
    "[]",
    "{}",
    "&a x",
    "*a",
    "!!str 1",
    "!!python/object:os.system",
    "|",
    ">",
    "%x",
    "@x",
    "`x`",
    "5G",
    "3D printing",
    "C++",
    "C#",
    "x\u2028y",
    "x\x85y",
    "a\u00a0",
    "\u00a0a",
    "x\ufeffy",
    "\x01",
    "a\tb",
    "'unterminated",
    '"unterminated',
    "_0",
    "__1",
    "_1_",
    "_.5",
    "-_1",
    "AI",
    "Computer Vision",
    "article",
    "ifex.org",
    "https://example.com/a b",
]


@pytest.mark.parametrize("value", TRICKY)
def test_tricky_values(value: str) -> None:
    check(f"key: {value}\n")
    check(f"list:\n  - {value}\n  - x\n")
    check(f"{value}: 1\nother: 2\n")


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "No",
        "ON",
        "017",
        "1_000",
        "1:20",
        "1e3",
        '"2021-09-20"',
        "0o17",
        ".inf",
    ],
)
def test_differences_fall_back(value: str) -> None:
    assert load_yaml_fast(f"key: {value}\n") is None


def test_days_that_do_not_exist_are_text_on_both_paths() -> None:
    """Timestamps of the years, month-days and forms of time the gate takes read alike: a
    real day as a date, an impossible one (2021-02-30, year 0) as its text. (Every year
    from 0 to 9999 was checked once; these are the years where leap days differ.)"""
    days = ["01-31", "02-28", "02-29", "02-30", "02-31", "04-31", "06-31", "09-31", "11-31"]
    forms = ["", "T00:00:00Z", " 23:59:59.123456789-12:00", "T10:00:00.5+05:30", " 00:00:00"]
    years = [0, 1, 4, 100, 400, 1900, 2000, 2020, 2021, 2100, 9996, 9999]
    text = "".join(
        f"k{year}_{day}_{number}: {year:04d}-{day}{form}\n"
        for year in years
        for day in days
        for number, form in enumerate(forms)
    )
    read = check(text)  # the same as load_yaml, and not None
    assert read is not None
    assert len(read) == len(years) * len(days) * len(forms)
    assert read["k2021_02-30_0"] == "2021-02-30" and read["k0_01-31_0"] == "0000-01-31"
    assert read["k2020_02-29_0"] == date(2020, 2, 29)
    assert read["k1900_02-29_1"] == "1900-02-29T00:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key: load_yaml reports it
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "<<: {a: 1}\n",  # merge key
        "a: !!binary aGVsbG8=\n",  # tags
        "- 1\n- 2\n",  # not a mapping
        "just text\n",
        "",
        "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 70)),  # deep nesting
        "a: |\n  block\n",
        "a: >\n  folded\n",
        "a: multi\n  line\n",
        'a: "multi\n  line"\n',
        "a: [1, 2]\n",
        "a:\tb\n",
        "a: b\r\nc: d\n",
    ],
)
def test_refused_shapes_fall_back(text: str) -> None:
    assert load_yaml_fast(text) is None
    check(text)


def test_fast_values() -> None:
    text = (
        'title: "Caf\\u00e9 \\"crème\\""\n'
        "date: 2021-09-20T22:36:00Z\n"
        "offset: 2001-12-14T21:59:43.10-05:00\n"
        "day: 2024-02-29\n"
        "quality: 33\n"
        "heat: -1\n"
        "ratio: 0.5\n"
        "published: false\n"
        "none:\n"
        "provider:\n  name: IFEX  # a comment\n  domain: ifex.org\n"
        "topics:\n  - Computer Vision\n  - 'C++'\n  - Москва\n"
        "images: []\n"
    )
    data = check(text)
    assert data is not None
    assert data["published"] is False
    assert data["date"].tzinfo is not None
    assert data["provider"] == {"name": "IFEX", "domain": "ifex.org"}


# -- generated documents --------------------------------------------------------------

_PLAIN_WORDS = st.sampled_from([t for t in TRICKY if "\n" not in t])
_KEYS = st.one_of(
    st.sampled_from(
        [
            "title",
            "a",
            "b",
            "yes",
            "on",
            "No",
            "y",
            "<<",
            "1",
            "2001-01-01",
            "a b",
            "'q'",
            '"q"',
            "~",
            "x-y",
            "é",
        ]
    ),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)
_ESCAPES = st.sampled_from(
    [
        "\\x41",
        "\\u263A",
        "\\N",
        "\\_",
        "\\L",
        "\\P",
        "\\e",
        "\\0",
        "\\t",
        "\\\\",
        '\\"',
        "\\/",
        "\\ ",
        "\\ud800",
        "\\U0001F600",
        "\\x85",
        "\\U00110000",
        "\\z",
        "\\u00e9",
    ]
)
_ODD_CHARACTERS = ("é", "京", "\u00a0", "\u2028", "\x85", "\t", "\ufeff", "😀")
_TEXT = st.text(
    alphabet=st.sampled_from([*"ab 0123456789-:.#'\"\\,[]{}&*!|>%@`?TtZz+_", *_ODD_CHARACTERS]),
    max_size=24,
)


@st.composite
def _scalars(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(_PLAIN_WORDS)
    if kind == 1:
        return draw(_TEXT)
    if kind == 2:
        parts = draw(
            st.lists(
                st.one_of(_TEXT.map(lambda s: s.replace('"', "").replace("\\", "")), _ESCAPES),
                max_size=4,
            )
        )
        return '"' + "".join(parts) + '"'
    if kind == 3:
        return "'" + draw(_TEXT).replace("'", "''") + "'"
    if kind == 4:
        moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
        form = draw(
            st.sampled_from(
                [
                    "%Y-%m-%d",
                    "%Y-%m-%dT%H:%M:%SZ",
                    "%Y-%m-%d %H:%M:%S",
                    "%Y-%m-%dT%H:%M:%S.%f+05:30",
                    "%Y-%m-%dt%H:%M:%S-00:00",
                ]
            )
        )
        text = moment.strftime(form)
        return draw(st.sampled_from([text, f'"{text}"', f"'{text}'", text.replace("-", "-0", 1)]))
    number = draw(
        st.one_of(
            st.integers(-(10**20), 10**20).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
        )
    )
    return draw(
        st.sampled_from(
            [
                number,
                f"0{number}",
                number.replace("e", "E"),
                number.replace("1", "1_"),
                f'"{number}"',
            ]
        )
    )


_SAFE_TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ 019-:.,/#'_é京😀")), max_size=16)


@st.composite
def _likely_fast_scalars(draw: st.DrawFn) -> str:
    """Scalars of the shapes the fast path takes, and their near misses."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(
            st.from_regex(r"[A-Za-z\u00e9\u4eac][A-Za-z0-9 .,/()'_#:-]{0,15}", fullmatch=True)
        )
    if kind == 1:
        return str(draw(st.integers(-(10**25), 10**25)))
    if kind == 2:
        return repr(draw(st.floats()))
    if kind == 3:
        year = draw(st.integers(0, 9999))
        month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
        hour, minute, second = (
            draw(st.integers(0, 24)),
            draw(st.integers(0, 60)),
            draw(st.integers(0, 60)),
        )
        fraction = draw(st.sampled_from(["", ".1", ".123456", ".1234567", ".999999999"]))
        zone = draw(st.sampled_from(["", "Z", "+05:30", "-00:00", "+23:59", "-12:00", "z", " Z"]))
        text = f"{year:04d}-{month:02d}-{day:02d}"
        if draw(st.booleans()):
            text += draw(st.sampled_from(["T", " ", "t"])) + f"{hour:02d}:{minute:02d}:{second:02d}"
            text += fraction + zone
        return text
    if kind == 4:
        parts = draw(
            st.lists(st.one_of(_SAFE_TEXT.map(lambda t: t.replace("\\", "")), _ESCAPES), max_size=4)
        )
        return '"' + "".join(parts).replace('"', "") + '"'
    if kind == 5:
        return "'" + draw(_SAFE_TEXT).replace("'", "''") + "'"
    return draw(st.sampled_from(["true", "false", "null", "~", "[]", "{}", "", "True", "yes"]))


_LIKELY_TREES = st.recursive(
    _likely_fast_scalars(),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True), children, max_size=4
        ),
    ),
    max_leaves=5,
)


def _render(value: Any, indent: int, out: list[str], prefix: str) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        first = True
        for key, item in value.items():
            lead = prefix if first else " " * len(prefix)
            first = False
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{lead}{key}:")
                _render(item, indent + len(prefix) + 2, out, "")
            else:
                out.append(f"{pad}{lead}{key}: {item if isinstance(item, str) else ''}".rstrip())
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                _render(item, indent, out, "- ")
            elif isinstance(item, list) and item:
                out.append(f"{pad}-")
                _render(item, indent + 2, out, "")
            else:
                out.append(f"{pad}- {item if isinstance(item, str) else ''}".rstrip())


_TREES = st.recursive(
    _scalars(),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_KEYS, children, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def _documents(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
        tree = draw(st.dictionaries(keys, _LIKELY_TREES, min_size=1, max_size=3))
    else:
        tree = draw(st.dictionaries(_KEYS, _TREES, min_size=1, max_size=5))
    lines: list[str] = []
    _render(tree, 0, lines, "")
    if draw(st.booleans()) and lines:  # a mutation: repeat, indent or drop a line
        index = draw(st.integers(0, len(lines) - 1))
        how = draw(st.integers(0, 2))
        if how == 0:
            lines.insert(index, lines[index])
        elif how == 1:
            lines[index] = " " + lines[index]
        else:
            del lines[index]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=examples(2000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
@example("publishedDateTime: 2021-09-20T22:36:00Z\npublished: false\nquality: 33\n")
@example("a: 2021-02-29\n")
@example('a: "\\ud83d\\ude00"\n')
@example("A: A\n_0:")
def test_generated_documents(text: str) -> None:
    event("fast path" if check(text) is not None else "PyYAML")


_PIECES = st.sampled_from(
    [
        *"ab1- :\n\"'#[]{}\\&*!|>?~.,",
        "yes",
        "2021-01-01",
        "\u2028",
        "\t",
        "12:30:00",
        "key: ",
        "\n  - ",
        "\n  ",
    ]
)


@settings(max_examples=examples(800), deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_arbitrary_text(text: str) -> None:
    event("fast path" if check(text) is not None else "PyYAML")


@settings(max_examples=examples(1000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents(), st.lists(st.tuples(st.integers(0, 40), st.integers(-3, 3)), max_size=4))
@example("a: 2001-12-14 21:59:43.10\n- 5", [])
@example("a: 1\nb:\n  - x\n", [(2, 1)])
def test_reindented_documents(text: str, shifts: list[tuple[int, int]]) -> None:
    """Block structure is read alike even when indentation goes wrong."""
    lines = text.split("\n")
    for index, shift in shifts:
        if lines and index < len(lines):
            line = lines[index]
            lines[index] = (
                " " * shift + line
                if shift > 0
                else line[min(-shift, len(line) - len(line.lstrip(" "))) :]
            )
    event("fast path" if check("\n".join(lines)) is not None else "PyYAML")


# -- values at the edges of what the gate takes, in the places a value goes -------------

_WORDS = [
    *[
        w
        for word in ("yes", "no", "on", "off", "true", "false", "null", "y", "n")
        for w in (word, word.upper(), word.title(), word.swapcase()[:1] + word[1:])
    ],
    "yeſ",
    "falſe",
    "YEſ",
    "yess",
    "nul",
    "nulls",
    "of",
    "offf",
    "tru",
    "truee",
    "fals",
    "ya",
    "na",
    "oN",
    "No_",
    "y1",
    "n-",
    "ſ",
]
_EDGES = [
    *_WORDS,
    *(
        f"{q}{inside}{q}"
        for q in "\"'"
        for inside in ("12:30", " 1-2", "1:", "1-", "a1-2", "\\x41")
    ),
    *("a #b: c", "a: b", "a:b", "a #", "a#", "a  b", "a :b", "(x", "/x", "$x", "é:", "x:"),
    *("-", "- -", "--", "-x", "- ", "#", "#x", " #x", "a:", "- a:"),
    *("-1", "-01", "1.5", "1.", "01", "-0.0", "2021-09-20 10:00:00", "2021-09-20T10:00:00.1Z"),
    *("1" * 18, "1" * 19, "-" + "9" * 18, "0." + "5" * 17, "0." + "5" * 18, "1.0" + "0" * 17),
    *(f"2021-09-20T10:00:00.{'1' * n}{zone}" for n in (8, 9, 10) for zone in ("", "Z", "+01:00")),
    *("2021-09-20T23:59:59-23:59", "2021-09-20T24:00:00", "2021-09-20 10:00:00 Z", "2021-9-20"),
]
"""Scalars at the edges of what the gate takes."""

_FORMS = ["{}", "a: {}", "a: {} ", "a: {} # c", "- {}", "- - {} ", "- {} # c", "{}: 1", "- {}:"]


def test_edges_read_as_pyyaml_reads_them() -> None:
    taken = [
        check(form.format(value) + end) for value in _EDGES for form in _FORMS for end in ("", "\n")
    ]
    assert any(r is not None for r in taken) and any(r is None for r in taken)


def test_articles_and_each_of_their_lines_read_as_pyyaml_reads_them(tmp_path: Path) -> None:
    generate(tmp_path, 50, seed=11)
    for p in sorted(tmp_path.rglob("*.md")):
        for line in front(p).split("\n"):
            for variant in (line, line + " ", line[:-1], line.replace(" ", "  ", 1), "- " + line):
                check(variant)


def test_the_gate_waits_for_the_first_front_matters() -> None:
    """A process reads its first front matters with PyYAML alone (one edit compiles no
    gate), and the gate after them."""
    text = "title: x\n"
    fastyaml._gate, fastyaml._before_gate = None, 2
    try:
        assert load_yaml_fast(text) is None and load_yaml_fast(text) is None
        assert fastyaml._gate is None
        assert load_yaml_fast(text) == {"title": "x"}
        assert fastyaml._gate is not None
    finally:
        fastyaml._before_gate = 0


def test_each_class_of_text_in_the_gate_takes_the_non_ascii_characters_pyyaml_takes() -> None:
    """The gate's classes are spelled by what they leave out (:data:`fastyaml._NOT_NA`):
    each one takes exactly the characters outside ASCII that PyYAML's reader accepts
    (``yaml.reader.Reader.NON_PRINTABLE``) and does not read as a line break or a BOM,
    checked on every code point."""
    import re

    from yaml.reader import Reader

    every = "".join(map(chr, range(0x80, 0x110000)))
    refused = {m.start() for m in Reader.NON_PRINTABLE.finditer(every)}
    breaks = {ord(c) - 0x80 for c in "\x85\u2028\u2029\ufeff"}
    pyyaml_takes = [i + 0x80 for i in range(len(every)) if i not in refused and i not in breaks]
    spelling = r"\[\^[^\]]*?" + re.escape(fastyaml._NOT_NA) + r"\]"
    classes = re.findall(spelling, fastyaml._GATE_PATTERN)
    assert len(set(classes)) == 5  # comments, double- and single-quoted, plain (first, rest)
    for spelled in set(classes):
        taken = [m.start() + 0x80 for m in re.finditer(spelled, every)]
        assert taken == pyyaml_takes, spelled


def test_a_process_told_how_many_front_matters_come_compiles_the_gate_if_they_repay_it() -> None:
    text = "title: x\n"
    fastyaml._gate = None
    try:
        fastyaml.expect(3)  # too few: PyYAML reads them all
        assert [load_yaml_fast(text) for _ in range(3)] == [None] * 3
        assert fastyaml._gate is None
        fastyaml.expect(fastyaml.PYYAML_FIRST)  # enough: compiled now, before any is read
        assert fastyaml._gate is not None
        assert load_yaml_fast(text) == {"title": "x"}
        fastyaml.expect(1)  # compiled: it stays
        assert load_yaml_fast(text) == {"title": "x"}
    finally:
        fastyaml._before_gate = 0


# -- splitting a file at its fences ------------------------------------------------------


def _split_or_problem(split: Any, text: str) -> object:
    try:
        result = split(text)
    except YamlProblem as e:
        return ("problem", e.line, e.message, e.field)
    return result if isinstance(result, tuple) else (result.front, result.body, result.first_line)


def _by_lines(text: str) -> tuple[str, str, int]:
    """The rule, line by line: a first line ``---``, up to the first later line that is
    ``---`` or ``...`` (either with spaces or tabs after it)."""
    if not text.strip():
        raise YamlProblem(1, "the file is empty")
    lines = text.split("\n")
    if lines[0].rstrip(" \t") != "---":
        raise YamlProblem(1, "the file does not start with a '---' front matter line")
    for index in range(1, len(lines)):
        if lines[index].rstrip(" \t") in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), 2
    raise YamlProblem(len(lines), "front matter has no closing '---' line")


_FENCE_PIECES = st.sampled_from(
    ["---", "...", "--- ", "---\t", "-- ", "x: 1", "a", " ", "\n", "\n", "\n", "\t", "\r", "."]
)


_FENCED = st.builds(
    lambda lines, body: "---\n" + "\n".join(lines) + "\n---\n" + body,
    st.lists(st.lists(_FENCE_PIECES, max_size=3).map("".join), max_size=6),
    st.lists(_FENCE_PIECES, max_size=6).map("".join),
)
"""Front matter and a body, and near misses."""


@settings(max_examples=examples(3000), deadline=None)
@given(st.one_of(st.lists(_FENCE_PIECES, max_size=20).map("".join), _FENCED))
@example("---\n---\n")
@example("---\n---\nbody")
@example("---\n...\n---\n")
@example("---\nx: 1\n--- \n---\n")
@example("---\n---")
@example("---")
@example("--- \t")
@example("")
@example("---\n---x\n---\n")
@example("---\n.\n...x\n---\n")
@example("---\na\n--\n---\n")
def test_split_front_matter_follows_the_rule_line_by_line(text: str) -> None:
    """``split_front_matter`` gives what the rule read line by line gives, problems too."""
    for candidate in (text, "---\n" + text):
        got = _split_or_problem(split_front_matter, candidate)
        assert got == _split_or_problem(_by_lines, candidate)


def test_a_build_whose_yaml_all_takes_the_fast_path_never_imports_pyyaml(tmp_path: Path) -> None:
    """``feeds.yaml`` compiles the gate (importing PyYAML costs more): the few front
    matters a one-edit build reads take the fast path too, and PyYAML is never imported.
    A problem in ``feeds.yaml`` is still reported with its line (PyYAML reads it then)."""
    content = tmp_path / "content"
    generate(content, 30, seed=5)
    config = tmp_path / "feeds.yaml"
    config.write_text("title: Site\nbase_url: https://x.example/\narchives: monthly\n")
    args = ["build", "--content", str(content), "--output", str(tmp_path / "out")]
    args += ["--cache", str(tmp_path / "cache"), "--config", str(config), "--jobs", "1"]

    def build() -> str:
        return modules_after_build(args, ("yaml",))

    build()
    first = sorted(content.rglob("*.md"))[0]
    first.write_text(first.read_text().replace("\ntitle: ", "\ntitle: Edited ", 1))
    assert build() == "0 False"
    config.write_text("title: Site\narchives: weekly\n")
    done = subprocess.run([sys.executable, "-m", "feeds", *args], capture_output=True, text=True)
    assert "feeds.yaml: 2: archives: must be monthly" in done.stderr
