"""The body fast path gives exactly what Markdown and the sanitiser give."""

from __future__ import annotations

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from feeds.markup import _PLAIN_BODY, _render_markdown, render_body

# Mostly characters the fast path takes, with a few that Markdown or HTML read.
_SAFE = [*"aZq09,.;:!?'\"()%/-", "word", " word", " word", " "]
_UNSAFE = [*"*_`[]<>&#\\=+\t\xa0é", "  ", "\n", "\n1. ", "\n- ", "\n    "]
_CHARS = st.sampled_from(_SAFE * 40 + _UNSAFE)
_LINE_STARTS = st.sampled_from(
    ["A", "b", "Word "] * 12
    + ["", "-", "- ", "1. ", "#", "> ", "    ", "===", "---", "* ", "<p>", "&amp;"]
)
_EDGES = st.sampled_from(["", "", "\n", "\n\n", " ", "\n "])


@st.composite
def _bodies(draw: st.DrawFn) -> str:
    lines = draw(
        st.lists(
            st.tuples(_LINE_STARTS, st.lists(_CHARS, max_size=12).map("".join)).map("".join),
            max_size=6,
        )
    )
    text = "".join(draw(st.sampled_from(["\n", "\n", "\n\n", "\n\n\n"])) + line for line in lines)
    return draw(_EDGES) + text[1:] + draw(_EDGES)


def check(body: str) -> bool:
    """Assert both paths agree on ``body``; whether the fast path took it."""
    assert render_body(body) == _render_markdown(body), body
    return _PLAIN_BODY.fullmatch(body) is not None


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies())
@example("")
@example("\n")
@example("\nOne paragraph.\n")
@example("One\ntwo lines.\n\n\n\nAnd 'another' \"one\" (with) 50% of a/b: yes; no? ok!\n\n")
@example("A line\n===")
@example("Text\n- item")
@example("Hard  \nbreak")
@example("E.g. a.b. c-d--e")
def test_plain_bodies_render_as_markdown_does(body: str) -> None:
    event("fast path" if check(body) else "Markdown")


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=60))
def test_arbitrary_ascii_bodies(body: str) -> None:
    event("fast path" if check(body) else "Markdown")


def test_plain_paragraphs_take_the_fast_path() -> None:
    body = "\nFirst paragraph, two lines:\nthe second.\n\nSecond (and last) one.\n"
    assert _PLAIN_BODY.fullmatch(body)
    assert render_body(body) == (
        "<p>First paragraph, two lines:\nthe second.</p>\n<p>Second (and last) one.</p>"
    )
    assert check(body)
