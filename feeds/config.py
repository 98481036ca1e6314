"""Stage 1: load and validate ``feeds.yaml`` into an immutable :class:`Config`.

Every key is checked; all problems are collected and raised together as one
:class:`~feeds.errors.ConfigError` whose lines name the key (and its line).
"""

from __future__ import annotations

import contextlib
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.errors import ConfigError
from feeds.urls import normalize_url

FEED_FORMATS = ("rss", "atom", "json")
GROUPINGS = ("topics", "providers")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration; the defaults are what a build uses without ``feeds.yaml``."""

    title: str = "feeds"
    description: str = "News by topic and by provider"
    base_url: str = "http://localhost:8000/"
    """Absolute http(s) URL of the published ``public/`` folder; always ends in ``/``."""
    language: str = "en"
    timezone: str = "UTC"
    """IANA zone for dates written without an offset."""
    items_per_feed: int = 50
    max_related: int = 50
    """Most related items carried per article (0 = none)."""
    related_published_only: bool = False
    """Carry only related items that name no article the content holds unpublished (drafts,
    future articles); by default only taken-down (removed/deleted) articles are left out."""
    formats: tuple[str, ...] = FEED_FORMATS
    groupings: tuple[str, ...] = GROUPINGS
    stylesheet: bool = False
    """Reference an XSL stylesheet from RSS and Atom so browsers show a readable page."""
    templates: str | None = None
    """A folder whose templates override the built-in ones (relative to the config file)."""
    icon: str | None = None
    """The site's icon: an absolute http(s) URL, or a file (relative to the config file)
    that the build copies into the output."""
    favicon: str | None = None
    """The site's favicon, like ``icon``."""
    archives: str | None = None
    """``"monthly"``: write every feed's complete history as RFC 5005 archive documents,
    one per month (see :mod:`feeds.archive`); ``None`` (the default): none."""
    max_removed_share: float = 0.5
    """The largest share of the topic and provider feeds published last time that one
    ``feeds build`` may remove without ``--allow-removal`` (1 turns the guard off)."""
    hubs: tuple[str, ...] = ()
    """WebSub hubs (absolute http(s) URLs): linked from every feed, and told after each
    writing build which feeds it rewrote."""
    refresh_minutes: int | None = None
    """How often readers should fetch the feeds: RSS ``<ttl>`` and ``sy:updatePeriod``/
    ``sy:updateFrequency``, and the ``max-age`` of the documented server blocks."""
    max_feed_bytes: int = 1_048_576
    """The largest feed document written; a feed over it loses its oldest items until
    it fits (each format on its own), with a warning naming the feed."""

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _base_url(value: Any) -> str:
    url = normalize_url(_text(value))
    if "?" in url or "#" in url:
        raise ValueError("must not have a query or fragment")
    return url if url.endswith("/") else url + "/"


def _language(value: Any) -> str:
    text = _text(value)
    if not _LANGUAGE.match(text):
        raise ValueError(f"not a language tag like 'en' or 'pt-BR': {text!r}")
    return text


def _timezone(value: Any) -> str:
    text = _text(value)
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = "use an IANA name like 'Europe/Berlin'"
        raise ValueError(f"unknown time zone {text!r} ({hint})") from None
    return text


def _count(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return check


def _choices(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"must be a list of names from: {', '.join(allowed)}")
        bad = [v for v in value if v not in allowed]
        if bad:
            raise ValueError(
                f"unknown {', '.join(map(repr, bad))}; choose from {', '.join(allowed)}"
            )
        return tuple(v for v in allowed if v in value)

    return check


def _icon(value: Any) -> str:
    """An absolute http(s) URL (normalised), or a file's path (checked by load_config)."""
    text = _text(value)
    if "://" in text:
        from feeds.urls import normalize_url

        url = normalize_url(text)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {text!r}")
        return url
    if not text.strip():
        raise ValueError("name a file or an http(s) URL")
    return text


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("must be a number from 0 to 1 (0.5: half)")
    return float(value)


def _hubs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of hub URLs")
    hubs: list[str] = []
    for text in value:
        if not text.strip().lower().startswith(("http://", "https://")):
            raise ValueError(f"not an absolute http(s) URL: {text!r}")
        url = normalize_url(text.strip())
        if not urlsplit(url).hostname:
            raise ValueError(f"not an absolute http(s) URL: {text!r}")
        if "#" in url:
            raise ValueError(f"a hub URL has no fragment: {text!r}")
        if url in hubs:
            raise ValueError(f"listed twice: {text!r}")
        hubs.append(url)
    return tuple(hubs)


ARCHIVES = ("monthly",)


def _archives(value: Any) -> str | None:
    if value is False or value == "off":
        return None
    if value not in ARCHIVES:
        raise ValueError(f"must be {' or '.join(ARCHIVES)} (or off), not {value!r}")
    return str(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "title": _text,
    "description": _text,
    "base_url": _base_url,
    "language": _language,
    "timezone": _timezone,
    "items_per_feed": _count(1, 10_000),
    "max_related": _count(0, 10_000),
    "related_published_only": _flag,
    "formats": _choices(FEED_FORMATS),
    "groupings": _choices(GROUPINGS),
    "stylesheet": _flag,
    "templates": _text,
    "icon": _icon,
    "favicon": _icon,
    "archives": _archives,
    "max_removed_share": _share,
    "hubs": _hubs,
    "refresh_minutes": _count(1, 525_600),
    "max_feed_bytes": _count(16_384, 1_073_741_824),
}
assert set(_CHECKS) == {f.name for f in fields(Config)}


def parse_config(data: Mapping[str, Any], path: str, lines: Mapping[str, int]) -> Config:
    """Validate a loaded mapping; raise one ConfigError listing every bad key."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{lines.get(key, 0)}: " if lines.get(key) else ""
        check = _CHECKS.get(key) if isinstance(key, str) else None
        if check is None:
            known = ", ".join(sorted(_CHECKS))
            problems.append(f"{where}{key}: unknown key (known keys: {known})")
            continue
        try:
            values[key] = check(value)
        except ValueError as e:
            problems.append(f"{where}{key}: {e}")
    if "formats" in values and not values["formats"]:
        problems.append("formats: name at least one format")
    if problems:
        raise ConfigError(path, tuple(problems))
    return Config(**values)


def load_config(path: Path | None) -> Config:
    """Read ``path`` (``None``: no configuration file, all defaults)."""
    if path is None:
        return Config()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(str(path), (f"cannot read: {e.strerror}",)) from None
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), (f"not UTF-8 text (byte {e.start})",)) from None
    config = _parsed(text, str(path))
    if config.templates is not None:
        folder = (path.parent / config.templates).resolve()
        if not folder.is_dir():
            raise ConfigError(str(path), (f"templates: no such folder: {folder}",))
        config = replace(config, templates=str(folder))
    return replace(
        config,
        icon=_icon_file(path, "icon", config.icon),
        favicon=_icon_file(path, "favicon", config.favicon),
    )


def _parsed(text: str, path: str) -> Config:
    """The settings ``text`` (a ``feeds.yaml``) holds. Read by the fast path when it can
    (:mod:`feeds.fastyaml`: the front matters read later then take it too, and PyYAML is
    never imported); a file it does not take, or one with a problem to report by line,
    is read by :func:`~feeds.frontmatter.load_yaml`."""
    from feeds.fastyaml import load_yaml_gated
    from feeds.frontmatter import YamlProblem, load_yaml

    data = load_yaml_gated(text)
    if data is not None:
        with contextlib.suppress(ConfigError):
            return parse_config(data, path, {})
    try:
        doc = load_yaml(text)
    except YamlProblem as e:
        field = f"{e.field}: " if e.field else ""
        raise ConfigError(path, (f"{e.line}: {field}{e.message}",)) from None
    return parse_config(doc.data, path, doc.lines.get(id(doc.data), {}))


def _icon_file(path: Path, key: str, value: str | None) -> str | None:
    """A URL as it is; a file's path made absolute (relative to the config file)."""
    if value is None or value.startswith(("http://", "https://")):
        return value
    file = (path.parent / value).resolve()
    if not file.is_file():
        raise ConfigError(str(path), (f"{key}: no such file: {file}",))
    return str(file)
