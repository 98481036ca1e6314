"""Article bodies: CommonMark with GitHub's extensions, sanitised, links resolved; and the
fast path for plain paragraphs, which gives exactly what the full path gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import article, examples, load_json, run_build
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from feeds.markup import _PLAIN_BODY, _render_markdown, render_body

BASE = "https://news.example.com/2025/01/article.html"

# Mostly characters the fast path takes, with a few that Markdown or HTML read.
_SAFE = [*"aZq09,.;:!?'\"()%/-", "word", " word", " word", " "]
_UNSAFE = [
    *"*_`[]<>&#\\=+~|\t\xa0é",
    *["  ", "\n", "\n1. ", "\n- ", "\n    "],
    *["://", "www.", "WWW.", "http://a.co", " www.b.org", "x.com", "a@b.co"],
]
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
    assert render_body(body, BASE) == _render_markdown(body, BASE), body
    return _PLAIN_BODY.fullmatch(body) is not None


@settings(max_examples=examples(3000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies())
@example("")
@example("\n")
@example("\nOne paragraph.\n")
@example("One\ntwo lines.\n\n\n\nAnd 'another' \"one\" (with) 50% of a/b: yes; no? ok!\n\n")
@example("A line\n===")
@example("Text\n- item")
@example("Hard  \nbreak")
@example("E.g. a.b. c-d--e")
@example("See http://example.com/a for more")
@example("See www.example.com now")
@example("Tilde ~~struck~~ and a|b")
def test_plain_bodies_render_as_markdown_does(body: str) -> None:
    event("fast path" if check(body) else "Markdown")


@settings(max_examples=examples(1000), deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=60))
def test_arbitrary_ascii_bodies(body: str) -> None:
    event("fast path" if check(body) else "Markdown")


def test_plain_paragraphs_take_the_fast_path() -> None:
    body = "\nFirst paragraph, two lines:\nthe second.\n\nSecond (and last) one.\n"
    assert _PLAIN_BODY.fullmatch(body)
    assert render_body(body, BASE) == (
        "<p>First paragraph, two lines:\nthe second.</p>\n<p>Second (and last) one.</p>"
    )
    assert check(body)


# -- rendering --------------------------------------------------------------------------


def test_fenced_code_keeps_its_language_and_lines() -> None:
    body = '```csharp\nvar x = 1;\nif (x > 0) {\n    Run("<b>");\n}\n```\n'
    assert render_body(body, BASE) == (
        '<pre><code class="language-csharp">var x = 1;\nif (x &gt; 0) {\n'
        '    Run("&lt;b&gt;");\n}\n</code></pre>'
    )


def test_fence_languages_the_class_allows() -> None:
    assert 'class="language-c++"' in (render_body("```c++ extra words\nx\n```", BASE) or "")
    assert 'class="language-f#"' in (render_body("~~~f#\nx\n~~~", BASE) or "")
    # Not a language name: the block is kept, without the class.
    assert render_body('```{python} "x"\ny\n```', BASE) == "<pre><code>y\n</code></pre>"
    assert render_body("```\nplain\n```", BASE) == "<pre><code>plain\n</code></pre>"


def test_tables_keep_cells_and_alignment() -> None:
    body = "| Name | Count | Note |\n|:-----|------:|:----:|\n| a | 1 | *x* |\n| b | 22 |  |\n"
    assert render_body(body, BASE) == (
        "<table>\n<thead>\n<tr>\n"
        '<th align="left">Name</th>\n<th align="right">Count</th>\n<th align="center">Note</th>\n'
        "</tr>\n</thead>\n<tbody>\n<tr>\n"
        '<td align="left">a</td>\n<td align="right">1</td>\n<td align="center"><em>x</em></td>\n'
        "</tr>\n<tr>\n"
        '<td align="left">b</td>\n<td align="right">22</td>\n<td align="center"></td>\n'
        "</tr>\n</tbody>\n</table>"
    )


def test_strikethrough() -> None:
    assert render_body("Was ~~wrong~~ right.", BASE) == "<p>Was <s>wrong</s> right.</p>"
    assert render_body("<del>old</del> <s>older</s>", BASE) == "<p><del>old</del> <s>older</s></p>"


_REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("body", "html"),
    [
        (
            "See https://example.org/a?b=1.",
            f'<p>See <a href="https://example.org/a?b=1" {_REL}>https://example.org/a?b=1</a>.</p>',
        ),
        (
            "Or www.example.org/x, today.",
            f'<p>Or <a href="http://www.example.org/x" {_REL}>www.example.org/x</a>, today.</p>',
        ),
        (
            "<https://example.org/angle>",
            f'<p><a href="https://example.org/angle" {_REL}>https://example.org/angle</a></p>',
        ),
        # GitHub links neither bare host names nor other schemes; e-mail is not published.
        ("Edit main.py on example.com.", "<p>Edit main.py on example.com.</p>"),
        (
            "ftp://example.org/f and //example.org/g",
            "<p>ftp://example.org/f and //example.org/g</p>",
        ),
        ("Write to news@example.org.", "<p>Write to news@example.org.</p>"),
        ("`https://example.org/code`", "<p><code>https://example.org/code</code></p>"),
    ],
)
def test_autolinks(body: str, html: str) -> None:
    assert render_body(body, BASE) == html


def test_raw_html_is_sanitised() -> None:
    body = (
        '<div onclick="steal()">Hi <script>alert(1)</script><b style="color:red">bold</b>'
        '<a href="javascript:alert(1)">js</a> <a href=" JAVA\tSCRIPT:x">js2</a>'
        '<img src="data:image/png;base64,AAAA" onerror="x()"><iframe src="https://e.org/"></iframe>'
        "<code class='language-js evil'>k</code><code class='evil'>k</code></div>\n"
    )
    html = render_body(body, BASE)
    assert html == (
        f"Hi <b>bold</b><a {_REL}>js</a> <a {_REL}>js2</a><img>"
        '<code class="language-js">k</code><code>k</code>'
    )
    for bad in ("script", "onclick", "onerror", "javascript", "style", "iframe", "data:"):
        assert bad not in (html or "").lower()


def test_markdown_links_to_other_schemes_are_dropped() -> None:
    assert render_body("[x](javascript:alert(1)) [m](mailto:a@b.org)", BASE) == (
        f"<p>[x](javascript:alert(1)) <a {_REL}>m</a></p>"
    )


@pytest.mark.parametrize(
    ("target", "resolved"),
    [
        ("/about", "https://news.example.com/about"),
        ("img/a.png", "https://news.example.com/2025/01/img/a.png"),
        ("../x", "https://news.example.com/2025/x"),
        ("?q=1", "https://news.example.com/2025/01/article.html?q=1"),
        ("#part-2", "https://news.example.com/2025/01/article.html#part-2"),
        ("//cdn.example.net/p.png", "https://cdn.example.net/p.png"),
        (" /spaced ", "https://news.example.com/spaced"),
        ("https://other.example.org/y", "https://other.example.org/y"),
        ("http://plain.example.org/", "http://plain.example.org/"),
    ],
)
def test_relative_urls_resolve_against_the_article(target: str, resolved: str) -> None:
    markdown = render_body(f"[link](<{target}>) ![pic](<{target}>)", BASE)
    assert markdown == (
        f'<p><a href="{resolved}" {_REL}>link</a> <img src="{resolved}" alt="pic"></p>'
    )
    raw = render_body(f'<p><a href="{target}">link</a> <img src="{target}" alt="pic"></p>', BASE)
    assert raw == markdown


def test_without_a_base_relative_urls_are_dropped() -> None:
    assert render_body("[a](/about) [b](https://e.org/)", None) == (
        f'<p><a {_REL}>a</a> <a href="https://e.org/" {_REL}>b</a></p>'
    )


def test_bodies_resolve_against_web_url_else_original_url(tmp_path: Path) -> None:
    body = "See [the notes](notes/) and ![chart](/img/c.png).\n\n```\nx\n```\n"
    both = article(
        n=1,
        body=body,
        originalUrl="https://orig.example.org/a/1",
        webUrl="https://web.example.com/b/1",
    )
    only = article(n=2, body=body, originalUrl="https://orig.example.org/a/2", webUrl=None)
    result, out = run_build(tmp_path, {"one.md": both, "two.md": only})
    assert result.problems == ()
    items = {i["id"]: i["content_html"] for i in load_json(out / "feed.json")["items"]}
    assert 'href="https://web.example.com/b/notes/"' in items["https://orig.example.org/a/1"]
    assert 'src="https://web.example.com/img/c.png"' in items["https://orig.example.org/a/1"]
    assert 'href="https://orig.example.org/a/notes/"' in items["https://orig.example.org/a/2"]
    assert 'src="https://orig.example.org/img/c.png"' in items["https://orig.example.org/a/2"]


# Neither markdown-it-py's wheel nor linkify-it-py's ships the CommonMark spec examples
# (spec.txt lives in their source repositories only): a table of representative cases from
# the spec instead, with what they give once sanitised.
COMMONMARK = [
    ("# ATX heading\n\nSetext\n======", "<h1>ATX heading</h1>\n<h1>Setext</h1>"),
    ("Hard  \nbreak and\\\nbackslash break", "<p>Hard<br>\nbreak and<br>\nbackslash break</p>"),
    (
        "*em* _em_ **strong** __strong__",
        "<p><em>em</em> <em>em</em> <strong>strong</strong> <strong>strong</strong></p>",
    ),
    ("foo*bar*baz and snake_case_word", "<p>foo<em>bar</em>baz and snake_case_word</p>"),
    ("    indented code\n    two", "<pre><code>indented code\ntwo\n</code></pre>"),
    ("``a `tick` b``", "<p><code>a `tick` b</code></p>"),
    ("> quote\nlazy line", "<blockquote>\n<p>quote\nlazy line</p>\n</blockquote>"),
    (
        "1. one\n2. two\n\n- a\n- b",
        "<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>",
    ),
    ("3) three", '<ol start="3">\n<li>three</li>\n</ol>'),
    (
        "- a\n\n  continued\n- b",
        "<ul>\n<li>\n<p>a</p>\n<p>continued</p>\n</li>\n<li>\n<p>b</p>\n</li>\n</ul>",
    ),
    ("***\n---\n___", "<hr>\n<hr>\n<hr>"),
    ("\\*not em\\* &amp; &copy; &#35;", "<p>*not em* &amp; © #</p>"),
    (
        '[ref][1]\n\n[1]: https://e.org/r "T"',
        f'<p><a href="https://e.org/r" title="T" {_REL}>ref</a></p>',
    ),
    ("[a](/a b)", "<p>[a](/a b)</p>"),
    ("![alt *em*](https://e.org/i.png)", '<p><img src="https://e.org/i.png" alt="alt em"></p>'),
    ("a <b>raw</b> c", "<p>a <b>raw</b> c</p>"),
    ("<!-- comment -->\n\ntext", "<p>text</p>"),
    ("é – “quotes” -- ...", "<p>é – “quotes” -- ...</p>"),
]


@pytest.mark.parametrize(("body", "html"), COMMONMARK)
def test_commonmark(body: str, html: str) -> None:
    assert render_body(body, BASE) == html
