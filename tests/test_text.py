"""Text cleaning: the fast path of plain_text agrees with the full one."""

from __future__ import annotations

import html
import re

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import text


def full(raw: str) -> str:
    unescaped = html.unescape(text._LITERAL_ESCAPES.sub(" ", raw))
    return text._SPACE.sub(" ", text.xml_safe(text.fix_mojibake(unescaped))).strip()


@settings(max_examples=examples(2000))
@given(
    st.text(
        alphabet=st.sampled_from(list(" !\"#$%&'()*+-./09:;<=>?@AZ[\\]^_`az{|}~\t\n\x7fé&")),
        max_size=12,
    )
)
def test_property_plain_text_fast_path_agrees(raw: str) -> None:
    assert text.plain_text(raw) == full(raw)


def test_examples() -> None:
    assert text.plain_text("It&#8217;s  here\\r\\nnow ") == "It’s here now"
    assert text.plain_text("â€™") == "’"
    assert text.plain_text("a\x00b\ufffdc") == "abc"
    assert text.truncate("word " * 10, 12) == "word word…"


@settings(max_examples=examples(2000))
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12))
def test_property_xml_safe_fast_path_agrees(raw: str) -> None:
    assert text.xml_safe(raw) == text._ILLEGAL.sub("", raw)


def test_xml_safe_fast_path_examples() -> None:
    for raw in ("news.example.com", "a\tb", "a\x7fb", "a\x00b", "", "é\ufffd"):
        assert text.xml_safe(raw) == text._ILLEGAL.sub("", raw)


_ALREADY_PLAIN_REFERENCE = re.compile(r"[!-%'-\[\]-~]+(?: [!-%'-\[\]-~]+)*")
"""The pattern of plain_text's fast path as first written, without possessive quantifiers."""


@settings(max_examples=examples(2000))
@given(
    st.lists(st.sampled_from(["a", "Z", "9", " ", "  ", "&", "\\", "~", "!", "\t", "é", "-"])).map(
        "".join
    )
)
def test_property_fast_path_pattern_agrees_with_its_reference(raw: str) -> None:
    got = text._ALREADY_PLAIN.fullmatch(raw) is not None
    assert got == (_ALREADY_PLAIN_REFERENCE.fullmatch(raw) is not None)
