"""URL checks and normalisation: only absolute http(s) URLs, percent-encoded, reach a feed."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

# What may stand unescaped (RFC 3986) in a path, and in a query or fragment; "%" is kept
# so that existing escapes survive (a stray "%" is escaped separately).
_SAFE_PATH = "!$%&'()*+,/:;=@~"
_SAFE_QUERY = _SAFE_PATH + "?"
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


# A URL that normalize_url would return unchanged: lower-case http(s) scheme and host name
# (whose last label has a letter: all-digit hosts are IP addresses, checked the long way),
# no port, user or backslash, and only characters that need no escaping. Most URLs are like
# this, and the check is ten times cheaper than taking the URL apart.
# Possessive quantifiers: no part can give back what it took (a label ends at ".", the path
# at "?" or "#", the query at "#"), so they match what the plain ones match, but without
# keeping backtracking state for every character: 0.54 µs instead of 1.65 µs on a 100
# character URL (tests/test_urls.py checks both spellings agree).
_ALREADY_NORMAL = re.compile(
    r"https?://(?:(?!-)[a-z0-9-]{1,63}+(?<!-)\.)++(?!-)(?=[0-9-]*+[a-z])[a-z0-9-]{1,63}+(?<!-)"
    r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]++|%[0-9A-Fa-f]{2})*+"
    r"(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]++|%[0-9A-Fa-f]{2})*+)?"
    r"(?:#(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]++|%[0-9A-Fa-f]{2})*+)?)?"
)
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def normalize_url(raw: str) -> str:
    """Return ``raw`` as an absolute, percent-encoded http(s) URL; ``ValueError`` says why not.

    Scheme and host are lower-cased, the host is IDNA-encoded, default ports are dropped,
    spaces and non-ASCII characters are percent-encoded; existing escapes are kept.
    """
    if (
        _ALREADY_NORMAL.fullmatch(raw)
        and "xn--" not in raw
        and "/." not in raw
        and not raw.endswith(("?", "#"))  # an empty query or fragment is dropped
        and "?#" not in raw
    ):
        return raw if raw.find("/", 8) >= 0 else raw + "/"
    return _normalize(raw)


def _normalize(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ValueError("empty URL")
    if _CONTROL.search(text):
        raise ValueError(f"control characters in URL {text[:80]!r}")
    if text.startswith("//"):
        raise ValueError(f"protocol-relative URL {text[:80]!r}: write http:// or https://")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"malformed URL {text[:80]!r}: {e}") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValueError(f"relative URL {text[:80]!r}: only absolute http(s) URLs are published")
    if scheme not in ("http", "https"):
        raise ValueError(f"{scheme}: URL {text[:80]!r}: only http and https are published")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL without a host {text[:80]!r}")
    ascii_host = encode_host(host)
    if ascii_host is None:
        raise ValueError(f"bad host name in URL {text[:80]!r}")
    netloc = ascii_host
    if parts.username is not None:
        raise ValueError(f"URL with user credentials {text[:80]!r}")
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{ascii_host}:{port}"
    path = _quote(_remove_dot_segments(parts.path), _SAFE_PATH) or "/"
    query = _quote(parts.query, _SAFE_QUERY)
    fragment = _quote(parts.fragment, _SAFE_QUERY)
    return urlunsplit((scheme, netloc, path, query, fragment))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: ``/a/./b/../c`` is ``/a/c``, the canonical form of a path."""
    if "/." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _quote(part: str, safe: str) -> str:
    """Percent-encode what must be, keep valid escapes, encode a stray ``%`` as ``%25``."""
    return _STRAY_PERCENT.sub("%25", quote(part, safe=safe))


def encode_host(host: str) -> str | None:
    """The ASCII (IDNA) form of a host name or IP literal, or ``None`` when it is not one."""
    host = host.lower()
    if host.startswith("[") or re.fullmatch(r"[0-9.]+", host):
        return host if re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", host) else None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return ascii_host


@lru_cache(maxsize=65536)
def provider_home(domain: str) -> str | None:
    """``https://<domain>/`` when ``domain`` is a valid host name."""
    host = encode_host(domain.strip().rstrip("."))
    if host is None or "." not in host:
        return None
    return f"https://{host}/"


def join_url(base_url: str, *parts: str) -> str:
    """An absolute URL under ``base_url`` (which ends in ``/``), each part percent-encoded.

    The parts are encoded one by one, each once a run: a URL is mostly a new combination
    of parts seen before (a feed's folder, a file name), and encoding all of its parts
    anew took four times as long (the index page's 5,000 links: 25 ms of a run)."""
    return base_url + "/".join([_encoded(p) for p in parts if p])


@lru_cache(maxsize=65536)
def _encoded(part: str) -> str:
    return quote(part, safe="")
