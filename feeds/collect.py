"""Stage 2: read every article file under the content folder into :class:`Article` values.

Each file is read on its own by :func:`read_article`, a pure function of the file's
bytes, so that files can be read in parallel and cached. A file that cannot be used
yields ``Problem`` values of severity ERROR and no article; a value that cannot be used
(one bad image, one bad related item) is dropped with a WARNING and the article kept.
Duplicates (two files with one canonical URL) are resolved here: the newest wins.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from feeds.dates import parse_date
from feeds.errors import Problem, Severity
from feeds.fastyaml import load_yaml_fast
from feeds.frontmatter import Document, YamlProblem, load_yaml, split_front_matter
from feeds.markup import render_body
from feeds.model import Article, Image, Provider, RelatedItem, Topic
from feeds.slugs import group_key
from feeds.sources import Source
from feeds.text import SUMMARY_LIMIT, TITLE_LIMIT, plain_text, truncate, xml_safe
from feeds.urls import normalize_url, provider_home

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Larger article files are reported and skipped."""
MAX_TOPICS = 100
"""More topics on one article are reported and skipped past this many."""


@dataclass(frozen=True, slots=True)
class FileResult:
    """What reading one file gave: an article or not, and its problems."""

    article: Article | None
    problems: tuple[Problem, ...]


class _Reader:
    """Reads one front matter mapping, collecting problems with their lines."""

    def __init__(self, source: Source, doc: Document, offset: int, zone: tzinfo, max_related: int):
        self.source = source
        self.doc = doc
        self.data = doc.data
        self.offset = offset
        self.zone = zone
        self.max_related = max_related
        self.problems: list[Problem] = []
        self.fatal = False

    def line(self, key: str, mapping: object = None) -> int:
        mapping = self.data if mapping is None else mapping
        line = self.doc.line_of(mapping, key)
        return line + self.offset if line else self.offset

    def report(
        self,
        severity: Severity,
        field: str,
        message: str,
        mapping: object = None,
        key: str | None = None,
    ) -> None:
        """Note a problem at the line of ``key`` (default: the field's last part)."""
        if severity is Severity.ERROR:
            self.fatal = True
        line = self.line(key or field.split(".")[-1], mapping)
        self.problems.append(
            Problem(
                path=self.source.label, line=line, field=field, message=message, severity=severity
            )
        )

    def error(
        self, field: str, message: str, mapping: object = None, key: str | None = None
    ) -> None:
        """The file cannot be used: it is skipped."""
        self.report(Severity.ERROR, field, message, mapping, key)

    def warn(
        self, field: str, message: str, mapping: object = None, key: str | None = None
    ) -> None:
        """One value cannot be used: it is dropped and the article kept."""
        self.report(Severity.WARNING, field, message, mapping, key)

    # -- typed field access -------------------------------------------------------------

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.error(key, "missing" if key not in self.data else "empty")
            return None
        if not isinstance(value, str):
            self.error(key, f"must be text, not {_kind(value)}")
            return None
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"must be a whole number, not {_kind(value)}")
            return None
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            # An ambiguous flag never publishes: the whole file is skipped.
            self.error(key, f"must be true or false, not {_kind(value)} {_short(value)}")
            return not default
        return value

    def url(
        self,
        key: str,
        mapping: dict[str, Any] | None = None,
        field: str | None = None,
        *,
        warn: bool = False,
    ) -> str | None:
        mapping = self.data if mapping is None else mapping
        field = field or key
        value = mapping.get(key)
        if value is None:
            return None
        report = self.warn if warn else self.error
        if not isinstance(value, str):
            report(field, f"must be a URL, not {_kind(value)}", mapping, key)
            return None
        if not value.strip():
            self.warn(field, "empty URL ignored", mapping, key)
            return None
        try:
            return normalize_url(value)
        except ValueError as e:
            report(field, str(e), mapping, key)
            return None

    # -- compound fields --------------------------------------------------------------

    def image(self, raw: object, field: str) -> Image | None:
        if not isinstance(raw, dict):
            self.warn(field, f"must be a mapping with a url, not {_kind(raw)}")
            return None
        url = self.url("url", raw, f"{field}.url", warn=True)
        if url is None:
            if raw.get("url") is None:
                self.warn(f"{field}.url", "missing", raw, "url")
            return None
        width, height = raw.get("width"), raw.get("height")
        title = raw.get("title")
        return Image(
            url=url,
            width=width if _positive(width) else None,
            height=height if _positive(height) else None,
            title=plain_text(title) or None if isinstance(title, str) else None,
        )

    def first_image(self, raw: object, field: str) -> Image | None:
        if raw is None:
            return None
        if not isinstance(raw, list):
            self.warn(field, f"must be a list of images, not {_kind(raw)}")
            return None
        for index, item in enumerate(raw):
            image = self.image(item, f"{field}[{index}]")
            if image is not None:
                return image
        return None

    def provider(self, raw: object, field: str, *, strict: bool) -> Provider | None:
        report = self.error if strict else self.warn
        if raw is None:
            return None
        if not isinstance(raw, dict):
            report(field, f"must be a mapping with name and domain, not {_kind(raw)}")
            return None
        domain, name = raw.get("domain"), raw.get("name")
        if domain is not None and not isinstance(domain, str):
            report(f"{field}.domain", f"must be text, not {_kind(domain)}", raw, "domain")
            return None
        if name is not None and not isinstance(name, str):
            report(f"{field}.name", f"must be text, not {_kind(name)}", raw, "name")
            return None
        key = xml_safe(domain or "").strip().rstrip(".").lower()
        if not key:
            if strict:
                self.warn(
                    f"{field}.domain", "missing: the article is in no provider feed", raw, "domain"
                )
            return None
        images = raw.get("images")
        return Provider(
            name=truncate(plain_text(name or ""), TITLE_LIMIT) or key,
            domain=key,
            url=provider_home(key),
            image=self.first_image(images, f"{field}.images") if images is not None else None,
        )

    def topics(self) -> tuple[Topic, ...]:
        raw = self.data.get("topics")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("topics", f"must be a list of topics, not {_kind(raw)}")
            return ()
        if len(raw) > MAX_TOPICS:
            self.error("topics", f"more than {MAX_TOPICS} topics")
            return ()
        seen: dict[str, Topic] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, str):
                self.error(f"topics[{index}]", f"must be text, not {_kind(item)}", key="topics")
                continue
            name = truncate(plain_text(item), 200)
            key = group_key(name)
            if not key:  # nothing but spaces, hyphens and underscores
                self.warn(f"topics[{index}]", "empty topic ignored", key="topics")
                continue
            seen.setdefault(key, Topic(key=key, name=name))
        return tuple(seen.values())

    def related(self, article_ids: tuple[str, ...]) -> tuple[RelatedItem, ...]:
        raw = self.data.get("related")
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("related", f"must be a list of articles, not {_kind(raw)}")
            return ()
        items: list[RelatedItem] = []
        seen = set(article_ids)
        for index, item in enumerate(raw):
            field = f"related[{index}]"
            if len(items) >= self.max_related:
                break
            if not isinstance(item, dict):
                self.warn(field, f"must be a mapping, not {_kind(item)}", key="related")
                continue
            url = None
            for key in ("webUrl", "originalUrl", "ampWebUrl"):
                if item.get(key) is not None:
                    url = self.url(key, item, f"{field}.{key}", warn=True)
                    break
            if url is None:
                if not any(item.get(k) is not None for k in ("webUrl", "originalUrl", "ampWebUrl")):
                    self.warn(field, "no webUrl: item ignored", key="related")
                continue
            if url in seen:
                continue  # points back at the article, or repeats an earlier item
            seen.add(url)
            title = item.get("title")
            if not isinstance(title, str) or not plain_text(title):
                self.warn(f"{field}.title", "missing or not text: item ignored", item, "title")
                continue
            excerpt = item.get("excerpt")
            published = None
            if item.get("publishedDateTime") is not None:
                try:
                    published = parse_date(item["publishedDateTime"], self.zone)
                except ValueError as e:
                    self.warn(
                        f"{field}.publishedDateTime",
                        f"{e}: date left out",
                        item,
                        "publishedDateTime",
                    )
            kind = item.get("type")
            items.append(
                RelatedItem(
                    url=url,
                    title=truncate(plain_text(title), TITLE_LIMIT),
                    summary=truncate(plain_text(excerpt), SUMMARY_LIMIT)
                    if isinstance(excerpt, str)
                    else "",
                    published=published,
                    provider=self.provider(item.get("provider"), f"{field}.provider", strict=False),
                    image=self.first_image(item.get("images"), f"{field}.images"),
                    kind=plain_text(kind) or None if isinstance(kind, str) else None,
                )
            )
        return tuple(items)

    # -- the common case in a straight line -------------------------------------------
    # Each ``quick_*`` method gives what its careful twin above gives when that reports no
    # problem, and ``None`` (or ``_UNUSUAL``) for anything else: then the careful methods
    # read the whole file again, with the same problems in the same order as always.

    @staticmethod
    def quick_url(value: object) -> str | None:
        """A URL that normalises, or ``None`` (anything else: the careful path decides)."""
        if type(value) is not str:
            return None
        try:
            return normalize_url(value)
        except ValueError:
            return None

    @staticmethod
    def quick_first_image(raw: object) -> Image | _Unusual | None:
        if raw is None:
            return None
        if type(raw) is not list:
            return _UNUSUAL
        if not raw:
            return None
        item = raw[0]  # the first image is used when it is good; a bad one is a warning
        if type(item) is not dict:
            return _UNUSUAL
        url = _Reader.quick_url(item.get("url"))
        if url is None:
            return _UNUSUAL
        width, height = item.get("width"), item.get("height")
        title = item.get("title")
        return Image(
            url=url,
            width=width if _positive(width) else None,
            height=height if _positive(height) else None,
            title=plain_text(title) or None if isinstance(title, str) else None,
        )

    @staticmethod
    def quick_provider(raw: object, *, strict: bool) -> Provider | _Unusual | None:
        if raw is None:
            return None
        if type(raw) is not dict:
            return _UNUSUAL
        domain, name = raw.get("domain"), raw.get("name")
        if (domain is not None and type(domain) is not str) or (
            name is not None and type(name) is not str
        ):
            return _UNUSUAL
        provider = _plain_provider(domain, name)
        if provider is None:
            return _UNUSUAL if strict else None
        images = raw.get("images")
        if images is None:
            return provider
        image = _Reader.quick_first_image(images)
        if isinstance(image, _Unusual):
            return image
        return Provider(name=provider.name, domain=provider.domain, url=provider.url, image=image)

    @staticmethod
    def quick_related(
        raw: object, ids: tuple[str, str], zone: tzinfo, max_related: int
    ) -> tuple[RelatedItem, ...] | _Unusual:
        if raw is None:
            return ()
        if type(raw) is not list:
            return _UNUSUAL
        items: list[RelatedItem] = []
        seen = set(ids)
        for item in raw:
            if len(items) >= max_related:
                break
            if type(item) is not dict:
                return _UNUSUAL
            value = item.get("webUrl")
            if value is None:
                value = item.get("originalUrl")
                if value is None:
                    value = item.get("ampWebUrl")
            url = _Reader.quick_url(value)
            if url is None:
                return _UNUSUAL
            if url in seen:
                continue
            seen.add(url)
            title = item.get("title")
            if type(title) is not str:
                return _UNUSUAL
            title = plain_text(title)
            if not title:
                return _UNUSUAL
            published = item.get("publishedDateTime")
            if published is not None:
                try:
                    published = parse_date(published, zone)
                except ValueError:
                    return _UNUSUAL
            provider = _Reader.quick_provider(item.get("provider"), strict=False)
            image = _Reader.quick_first_image(item.get("images"))
            if isinstance(provider, _Unusual) or isinstance(image, _Unusual):
                return _UNUSUAL
            excerpt = item.get("excerpt")
            kind = item.get("type")
            items.append(
                RelatedItem(
                    url=url,
                    title=truncate(title, TITLE_LIMIT),
                    summary=truncate(plain_text(excerpt), SUMMARY_LIMIT)
                    if isinstance(excerpt, str)
                    else "",
                    published=published,
                    provider=provider,
                    image=image,
                    kind=_label(kind) or None if isinstance(kind, str) else None,
                )
            )
        return tuple(items)

    @staticmethod
    def quick(
        source: Source, data: dict[Any, Any], body: str, zone: tzinfo, max_related: int
    ) -> FileResult | None:
        """The article of a file whose every field is well-formed, else ``None``."""
        for key in data:
            if type(key) is not str:
                return None
        get = data.get
        title = get("title")
        excerpt = get("excerpt")
        published = get("publishedDateTime")
        original = get("originalUrl")
        web = get("webUrl")
        draft = get("published")
        removed = get("removed")
        kind = get("type")
        category = get("category")
        quality = get("quality")
        heat = get("heat")
        topics_raw = get("topics")
        if (
            type(title) is not str
            or (excerpt is not None and type(excerpt) is not str)
            or published is None
            or (draft is not None and type(draft) is not bool)
            or (removed is not None and type(removed) is not bool)
            or (kind is not None and type(kind) is not str)
            or (category is not None and type(category) is not str)
            or (quality is not None and type(quality) is not int)
            or (heat is not None and type(heat) is not int)
        ):
            return None
        if not removed:
            deleted = get("deleted")
            if deleted is not None and type(deleted) is not bool:
                return None
            removed = deleted is True
        title = truncate(plain_text(title), TITLE_LIMIT)
        if not title:
            return None
        try:
            published = parse_date(published, zone)
        except ValueError:
            return None
        if original is not None:
            original = _Reader.quick_url(original)
            if original is None:
                return None
        if web is not None:
            # Usually the same text as originalUrl: normalised once.
            web = original if web == get("originalUrl") else _Reader.quick_url(web)
            if web is None:
                return None
        elif original is None:
            return None
        topics: dict[str, Topic] = {}
        if topics_raw is not None:
            if type(topics_raw) is not list or len(topics_raw) > MAX_TOPICS:
                return None
            for item in topics_raw:
                if type(item) is not str:
                    return None
                topic = _topic(item)
                if topic is None:
                    return None
                if topic.key not in topics:
                    topics[topic.key] = topic
        provider = _Reader.quick_provider(get("provider"), strict=True)
        image = _Reader.quick_first_image(get("images"))
        canonical = original or web or ""
        link = web or original or ""
        related = _Reader.quick_related(get("related"), (canonical, link), zone, max_related)
        if (
            isinstance(provider, _Unusual)
            or isinstance(image, _Unusual)
            or isinstance(related, _Unusual)
        ):
            return None
        article = Article(
            id=canonical,
            url=link,
            external_url=original if original and original != link else None,
            title=title,
            summary=truncate(plain_text(excerpt), SUMMARY_LIMIT) if excerpt else "",
            content_html=render_body(body, link),
            published=published,
            kind=_label(kind or "article") or "article",
            category=_label(category) or None if category else None,
            provider=provider,
            topics=tuple(topics.values()),
            image=image,
            related=related,
            quality=quality,
            heat=heat,
            draft=draft is False,
            removed=removed is True,
            source=source.rel,
        )
        return FileResult(article, ())


# Providers and topics repeat from article to article (600 providers and 306 topics in
# the 100,000 articles of corpus-100000-seed-2026, read 221,725 and 249,910 times): each
# is read once per process. A value read again is the same object, which is equal.


@functools.lru_cache(maxsize=16384)
def _plain_provider(domain: str | None, name: str | None) -> Provider | None:
    """The provider ``_Reader.quick_provider`` reads, without its image, or ``None`` when
    it has no domain."""
    key = xml_safe(domain or "").strip().rstrip(".").lower()
    if not key:
        return None
    return Provider(
        name=truncate(plain_text(name or ""), TITLE_LIMIT) or key,
        domain=key,
        url=provider_home(key),
        image=None,
    )


_label = functools.lru_cache(maxsize=4096)(plain_text)
"""``plain_text`` of the ``type`` and ``category`` of articles and related items, which
repeat: 46 ns for a value read before, against 150 ns for ``plain_text``."""


@functools.lru_cache(maxsize=16384)
def _topic(item: str) -> Topic | None:
    """The topic ``_Reader.topics`` reads from ``item``, or ``None`` when it is empty."""
    name = truncate(plain_text(item), 200)
    key = group_key(name)
    if not key:
        return None
    return Topic(key=key, name=name)


class _Unusual:
    """What a ``_Reader.quick_*`` method gives for a value the careful path must read."""


_UNUSUAL = _Unusual()


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000


_BOM = b"\xef\xbb\xbf"


def decode_text(raw: bytes) -> str:
    """``raw`` as UTF-8 (a BOM dropped) with ``\\n`` line ends; :class:`UnicodeDecodeError`
    as ``raw.decode("utf-8-sig")`` raises it.

    The ``utf-8-sig`` codec runs Python code around the UTF-8 decoder: 1.3 µs against
    0.6 µs on a 2 KB file without a BOM, which decodes alike. Replacing ``\\r`` costs a
    scan even when there is none: 2.3 µs, where looking for one first takes 0.2 µs.
    """
    text = raw.decode("utf-8-sig") if raw.startswith(_BOM) else raw.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_article(
    source: Source, raw: bytes, zone: tzinfo, max_related: int, *, fast_yaml: bool = True
) -> FileResult:
    """Read one article file's bytes; never raises for anything the file may contain."""

    def fail(line: int, field: str, message: str) -> FileResult:
        return FileResult(
            None, (Problem(path=source.label, line=line, field=field, message=message),)
        )

    if len(raw) > MAX_FILE_BYTES:
        return fail(0, "", f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: skipped")
    if b"\x00" in raw:
        return fail(0, "", "binary file (contains NUL bytes): skipped")
    try:
        text = decode_text(raw)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        return fail(line, "", f"not UTF-8 text (bad byte 0x{raw[e.start]:02x} at offset {e.start})")
    try:
        split = split_front_matter(text)
    except YamlProblem as e:
        return fail(e.line, e.field, e.message)
    offset = split.first_line - 1
    fast = load_yaml_fast(split.front) if fast_yaml else None
    if fast is not None:
        result = _read_fields(
            source, Document(data=fast, lines={}), split.body, offset, zone, max_related
        )
        if not result.problems:
            return result
        # Problems are reported with their lines, which only PyYAML's reading knows.
    try:
        doc = load_yaml(split.front)
    except YamlProblem as e:
        return fail(e.line + offset, e.field, e.message)
    return _read_fields(source, doc, split.body, offset, zone, max_related)


def _read_fields(
    source: Source, doc: Document, body: str, offset: int, zone: tzinfo, max_related: int
) -> FileResult:
    quick = _Reader.quick(source, doc.data, body, zone, max_related)
    if quick is not None:
        return quick
    r = _Reader(source, doc, offset, zone, max_related)
    data = doc.data
    for key in data:
        if not isinstance(key, str):
            r.error(str(key), "keys must be text", key=str(key))
    title_raw = r.string("title", required=True)
    title = truncate(plain_text(title_raw), TITLE_LIMIT) if title_raw is not None else ""
    if title_raw is not None and not title:
        r.error("title", "empty")
    excerpt_raw = r.string("excerpt")
    summary = truncate(plain_text(excerpt_raw), SUMMARY_LIMIT) if excerpt_raw else ""

    published = None
    if data.get("publishedDateTime") is None:
        r.error("publishedDateTime", "missing" if "publishedDateTime" not in data else "empty")
    else:
        try:
            published = parse_date(data["publishedDateTime"], zone)
        except ValueError as e:
            r.error("publishedDateTime", str(e))

    original = r.url("originalUrl")
    web = r.url("webUrl")
    if original is None and web is None and not r.fatal:
        r.error("webUrl", "missing: an article needs webUrl or originalUrl")
    draft = not r.flag("published", True)
    removed = r.flag("removed", False) or r.flag("deleted", False)
    kind = r.string("type") or "article"
    category = r.string("category")
    quality = r.integer("quality")
    heat = r.integer("heat")
    provider = r.provider(data.get("provider"), "provider", strict=True)
    topics = r.topics()
    image = r.first_image(data.get("images"), "images")
    canonical = original or web or ""
    link = web or original or ""
    related = r.related((canonical, link))
    if r.fatal or published is None:
        return FileResult(None, tuple(r.problems))
    article = Article(
        id=canonical,
        url=link,
        external_url=original if original and original != link else None,
        title=title,
        summary=summary,
        content_html=render_body(body, link),
        published=published,
        kind=plain_text(kind) or "article",
        category=plain_text(category) or None if category else None,
        provider=provider,
        topics=topics,
        image=image,
        related=related,
        quality=quality,
        heat=heat,
        draft=draft,
        removed=removed,
        source=source.rel,
    )
    return FileResult(article, tuple(r.problems))


def read_bytes(path: str) -> tuple[bytes, os.stat_result]:
    """The bytes of the file at ``path`` (at most ``MAX_FILE_BYTES + 1``: enough to tell
    that it is too large) and its status taken after reading; raises :class:`OSError`.

    One ``read`` sized by ``fstat``: a buffered ``read(MAX_FILE_BYTES + 1)`` allocated
    16 MiB for every file and took 33 µs on a 2 KB file against 6.5 µs here.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _read_fd(fd, min(os.fstat(fd).st_size, MAX_FILE_BYTES) + 1), os.fstat(fd)
    finally:
        os.close(fd)


_FIRST_READ = 64 * 1024
"""What :func:`_read_only` asks for at first: all of a usual article file."""


def _read_only(path: str) -> bytes:
    """:func:`read_bytes` without the status, which :func:`read_source` does not use.

    Without ``fstat`` to size the first ``read``, which asks for 64 KiB instead (and reads
    on if it gets them all): 4.7 µs on a 2 KB file, where ``read_bytes`` takes 6.3 µs.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _read_fd(fd, min(_FIRST_READ, MAX_FILE_BYTES + 1))
    finally:
        os.close(fd)


def _read_fd(fd: int, want: int) -> bytes:
    """The bytes of the open file ``fd``, at most ``MAX_FILE_BYTES + 1``: a first read of
    ``want`` bytes (a shorter one is the end of the file), then on to the end when it gave
    them all (the file is larger than ``want``, or has grown since ``fstat`` sized it)."""
    raw = os.read(fd, want)
    if len(raw) == want <= MAX_FILE_BYTES:
        parts = [raw]
        size = len(raw)
        while size <= MAX_FILE_BYTES and (more := os.read(fd, MAX_FILE_BYTES + 1 - size)):
            parts.append(more)
            size += len(more)
        raw = b"".join(parts)
    return raw


def read_source(
    source: Source, zone: tzinfo, max_related: int, *, fast_yaml: bool = True
) -> FileResult:
    """Read one file from disk (see :func:`read_article`)."""
    try:
        raw = _read_only(source.path)
    except OSError as e:
        problem = Problem(path=source.label, line=0, field="", message=f"cannot read: {e.strerror}")
        return FileResult(None, (problem,))
    return read_article(source, raw, zone, max_related, fast_yaml=fast_yaml)
