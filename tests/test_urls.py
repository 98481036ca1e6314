"""URL checks: only absolute http(s), percent-encoded; the fast path agrees with the full one."""

from __future__ import annotations

import re

import pytest
from conftest import examples
from hypothesis import event, given, settings
from hypothesis import strategies as st

from feeds.urls import _ALREADY_NORMAL, _normalize, join_url, normalize_url, provider_home


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Ex.COM/a b?q=ü#x", "https://ex.com/a%20b?q=%C3%BC#x"),
        ("https://münchen.example/straße", "https://xn--mnchen-3ya.example/stra%C3%9Fe"),
        ("http://x.example.com:80/", "http://x.example.com/"),
        ("https://x.example.com:8443/a", "https://x.example.com:8443/a"),
        ("https://x.example.com", "https://x.example.com/"),
        ("https://x.example.com/100%", "https://x.example.com/100%25"),
        ("  https://x.example.com/trim  ", "https://x.example.com/trim"),
        ("https://x.example.com/a/./b/../c", "https://x.example.com/a/c"),
        ("https://x.example.com/1/..", "https://x.example.com/"),
        ("https://x.example.com/[a]?q=[b]#f#g", "https://x.example.com/%5Ba%5D?q=%5Bb%5D#f%23g"),
    ],
)
def test_normalises(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://x.example.com/",
        "/relative",
        "relative",
        "//x.example.com/",
        "",
        "   ",
        "https://",
        "https://exa mple.com/",
        "https://a..b/",
        "https://user:pw@x.example.com/",
        "https://x.example.com/\x00",
    ],
)
def test_refuses(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(raw)


URLISH = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda s, h, p: f"{s}://{h}/{p}",
        st.sampled_from(["http", "https", "HTTP", "ftp"]),
        st.from_regex(r"[A-Za-z0-9.\-]{1,20}", fullmatch=True),
        st.text(max_size=30),
    ),
    st.from_regex(r"https?://[a-z0-9.\-]{1,20}(/[A-Za-z0-9%?#=&._~\-/]{0,30})?", fullmatch=True),
)


@settings(max_examples=examples(500))
@given(URLISH)
def test_property_fast_path_agrees_with_full_normalisation(raw: str) -> None:
    try:
        fast = normalize_url(raw)
    except ValueError:
        fast = None
    try:
        full = _normalize(raw)
    except ValueError:
        full = None
    assert fast == full
    if full is not None:
        assert normalize_url(full) == full  # idempotent


def test_helpers() -> None:
    assert provider_home("IFEX.org") == "https://ifex.org/"
    assert provider_home("../x") is None and provider_home("localhost") is None
    assert join_url("https://f.example.com/", "topics", "c++", "rss.xml") == (
        "https://f.example.com/topics/c%2B%2B/rss.xml"
    )


def test_all_digit_hosts_are_checked_as_ip_addresses() -> None:
    assert normalize_url("http://1.2.3.4/x") == "http://1.2.3.4/x"
    with pytest.raises(ValueError):
        normalize_url("http://0.0")


@pytest.mark.parametrize(
    "raw",
    [
        "http://x.example.com/a?",
        "http://x.example.com/a#",
        "http://x.example.com/a?#",
        "http://0c9.example.com/-/#",
    ],
)
def test_empty_query_or_fragment_is_dropped_on_both_paths(raw: str) -> None:
    assert normalize_url(raw) == _normalize(raw) == raw.rstrip("?#")


# The fast-path pattern as first written, without possessive quantifiers: the reference the
# faster spelling in feeds.urls must agree with on every text.
_ALREADY_NORMAL_REFERENCE = re.compile(
    r"https?://(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?!-)(?=[0-9-]*[a-z])[a-z0-9-]{1,63}(?<!-)"
    r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*"
    r"(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?"
    r"(?:#(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?)?"
)
_LABEL = st.one_of(
    st.from_regex(r"[a-z][a-z0-9]{0,3}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,4}", fullmatch=True),
    st.sampled_from(["a" * 63, "a" * 64, "xn--a", "0", "-a", "a-", "A", ""]),
)
_URL_PIECES = st.sampled_from(
    [*"az09-./?#%:@&=+~_[]\\", *["a", "/", "%2F"] * 3, "%zz", "%a", "xn--", "/.", "?#", " ", "é"]
)
_FAST_SHAPED = st.builds(
    lambda scheme, labels, rest: scheme + ".".join(labels) + "/" + "".join(rest),
    st.sampled_from(["https://", "http://", "https://", "HTTP://", "https:/"]),
    st.lists(_LABEL, min_size=1, max_size=4),
    st.lists(_URL_PIECES, max_size=20),
)


@settings(max_examples=examples(3000))
@given(st.one_of(_FAST_SHAPED, URLISH))
def test_fast_path_pattern_agrees_with_its_reference(raw: str) -> None:
    got = _ALREADY_NORMAL.fullmatch(raw) is not None
    event("fast" if got else "slow")
    assert got == (_ALREADY_NORMAL_REFERENCE.fullmatch(raw) is not None)
