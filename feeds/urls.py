"""URL checks and normalisation: only absolute http(s) URLs, percent-encoded, reach a feed."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

_SAFE = "!#$%&'()*+,/:;=?@[]~"
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def normalize_url(raw: str) -> str:
    """Return ``raw`` as an absolute, percent-encoded http(s) URL; ``ValueError`` says why not.

    Scheme and host are lower-cased, the host is IDNA-encoded, default ports are dropped,
    spaces and non-ASCII characters are percent-encoded; existing escapes are kept.
    """
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
    path = quote(parts.path, safe=_SAFE) or "/"
    query = quote(parts.query, safe=_SAFE)
    fragment = quote(parts.fragment, safe=_SAFE)
    return urlunsplit((scheme, netloc, path, query, fragment))


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


def provider_home(domain: str) -> str | None:
    """``https://<domain>/`` when ``domain`` is a valid host name."""
    host = encode_host(domain.strip().rstrip("."))
    if host is None or "." not in host:
        return None
    return f"https://{host}/"


def join_url(base_url: str, *parts: str) -> str:
    """An absolute URL under ``base_url`` (which ends in ``/``), each part percent-encoded."""
    path = "/".join(quote(p, safe="") for p in parts if p)
    return base_url + path
