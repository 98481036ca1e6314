"""Shared test helpers: inline content trees, article text, a fixed ``now``, builds, and
the build's own choosing and rendering driven from articles in memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest
import yaml

from feeds.build import BuildOptions, BuildResult, build
from feeds.collect import read_source
from feeds.config import Config
from feeds.errors import Problem
from feeds.group import Selection, Selector, hide_related
from feeds.model import Article, Brief, Feed, Site
from feeds.render import context_for, entries, needed, render_stream
from feeds.sources import find_sources

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
"""``HYPOTHESIS_PROFILE=long pytest`` runs every property test with all its examples."""
EXAMPLES_CAP = 100
"""Examples each property test runs by default, whatever it asks for in a long run."""


def examples(wanted: int) -> int:
    """How many examples a property test that wants ``wanted`` runs in this session."""
    return wanted if LONG else min(wanted, EXAMPLES_CAP)


REPO = Path(__file__).resolve().parent.parent
SCHEMAS = Path(__file__).resolve().parent / "schemas"
"""The RFC 4287 RELAX NG and JSON Feed schemas, kept with the tests (sources: SOURCES.md)."""
SEED = REPO / "content" / "2021" / "000_944ab56ac52e7950.md"
"""An article file straight from the source data, byte for byte."""


def article(**fields: Any) -> str:
    """An article file's text: defaults for every required field, overridden by ``fields``.

    A field set to ``None`` is left out of the file.
    """
    n = fields.pop("n", 1)
    data: dict[str, Any] = {
        "category": "news",
        "title": f"Article number {n}",
        "excerpt": f"Summary of article {n}.",
        "publishedDateTime": datetime(2025, 1, 1, tzinfo=UTC).replace(
            hour=n % 24, minute=n // 24 % 60
        ),
        "originalUrl": f"https://news.example.com/{n}",
        "webUrl": f"https://news.example.com/{n}",
        "type": "article",
        "quality": 10,
        "heat": -1,
        "provider": {"name": "Example News", "domain": "news.example.com"},
        "topics": ["AI"],
        "images": [
            {
                "url": f"https://news.example.com/{n}.jpg",
                "width": 800,
                "height": 600,
                "isCached": True,
            }
        ],
        "secured": "SECRET-BLOB-" + str(n),
    }
    body = fields.pop("body", "")
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return "---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False) + "---\n" + body


@dataclass(frozen=True)
class Read:
    """What :func:`read_content` found: every usable article (copies of one id included)
    and every problem, in file order."""

    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]
    files: int


def read_content(content: Path, zone: tzinfo = UTC, max_related: int = 50) -> Read:
    """Every article file below ``content``, found and read as a build finds and reads it
    (:func:`~feeds.sources.find_sources`, :func:`~feeds.collect.read_source`)."""
    sources, problems = find_sources(content)
    results = [read_source(source, zone, max_related) for source in sources]
    return Read(
        articles=tuple(r.article for r in results if r.article is not None),
        problems=problems + tuple(p for r in results for p in r.problems),
        files=len(results),
    )


@dataclass(frozen=True)
class Chosen:
    """The feeds the build's :class:`~feeds.group.Selector` chose from some articles."""

    site: Site
    """The feeds, naming their articles by source number (``Feed.members``)."""
    articles: Sequence[Article]
    """The articles chosen from, by source number."""
    hidden: frozenset[str]
    """Ids and links that related items must not name (:attr:`Selector.hidden`)."""

    def articles_of(self, feed: Feed) -> tuple[Article, ...]:
        """``feed``'s articles, newest first, as the build renders them (related items
        naming a hidden article left out)."""
        return tuple(hide_related(self.articles[i], self.hidden) for i in feed.members)


def choose(
    articles: Iterable[Article],
    selection: Selection | None = None,
    *,
    title: str = "Site",
    items_per_feed: int = 50,
    groupings: tuple[str, ...] = ("topics", "providers"),
    related_published_only: bool = False,
) -> Chosen:
    """Choose the feeds of ``articles`` (in source order) as a build chooses them: each
    article's :class:`~feeds.model.Brief` into a :class:`~feeds.group.Selector`."""
    kept = tuple(articles)
    selector = Selector(
        selection or Selection(now=NOW),
        items_per_feed=items_per_feed,
        groupings=groupings,
        related_published_only=related_published_only,
    )
    for index, item in enumerate(kept):
        selector.add(index, Brief.of(item))
    return Chosen(site=selector.finish(title), articles=kept, hidden=selector.hidden)


def render(chosen: Chosen, config: Config) -> dict[str, bytes]:
    """Every file of ``chosen`` (feeds, group pages, site pages), rendered as a build
    renders them: entries of :func:`~feeds.render.needed` articles streamed into
    :func:`~feeds.render.render_stream`."""
    context = context_for(Site(), config)
    stream = (
        (i, entries(hide_related(chosen.articles[i], chosen.hidden), context))
        for i in needed(chosen.site.feeds)
    )
    _, files = render_stream(chosen.site, config, (), stream)
    return dict(files)


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> text or bytes) under ``root``; return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def modules_after_build(args: list[str], names: tuple[str, ...]) -> str:
    """Run ``feeds`` with ``args`` in a new process: its exit code, then for each of
    ``names`` whether that module was imported by then, as one line (``0 False True``)."""
    run = (
        "import sys; from feeds.cli import main; code = main(sys.argv[2:]);"
        " print(code, *(name in sys.modules for name in sys.argv[1].split(',')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", run, ",".join(names), *args], capture_output=True, text=True
    )
    return done.stdout.splitlines()[-1]


def run_build(
    tmp_path: Path, files: dict[str, str | bytes], config: Config | None = None, **options: Any
) -> tuple[BuildResult, Path]:
    """Build ``files`` into ``tmp_path/public``; return the result and the output folder."""
    content = write_tree(tmp_path / "content", files)
    output = tmp_path / "public"
    result = build(
        config or Config(),
        BuildOptions(content=content, output=output, now=options.pop("now", NOW), **options),
    )
    return result, output


def published_files(folder: Path) -> dict[str, bytes]:
    """Every file of the output a web server publishes (none in or below a hidden
    folder or named with a dot: the manifest, its parts, the lock), by path, sorted."""
    files = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            files[rel] = p.read_bytes()
    return files


def load_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


@pytest.fixture
def now() -> datetime:
    return NOW
