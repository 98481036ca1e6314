"""Rendering speed: one entry per article in each feed format, and typical documents.

    python -m benchmarks.renderspeed CORPUS_DIR [--count 10000] [--json]

Reads the first ``--count`` article files (sorted) with ``feeds.collect.read_source``,
chooses the feeds from their briefs as a build does (every article admitted), then
times, best of three:

* every article's entry in each format (µs per entry),
* each format's document for the site feed and for the median-sized topic feed, from
  entries rendered beforehand (µs per document).

Only rendering is timed, not reading or grouping.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from feeds.collect import read_source
from feeds.config import Config
from feeds.formats import FEED_FORMATS
from feeds.formats.common import Context
from feeds.group import Selection, Selector
from feeds.model import Article, Brief, Feed, FeedKind
from feeds.render import context_for
from feeds.sources import find_sources

NOW = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RenderSpeed:
    articles: int
    entry_us: dict[str, float]
    """µs per entry, by format name."""
    site_document_us: dict[str, float]
    """µs per site-feed document (``items_per_feed`` entries), by format name."""
    topic_document_us: dict[str, float]
    """µs per document of the median-sized topic feed, by format name."""
    topic_items: int


def read_articles(corpus: Path, count: int, config: Config) -> list[Article]:
    sources, _ = find_sources(corpus)
    articles = []
    for source in sources[:count]:
        article = read_source(source, config.tz, config.max_related).article
        if article is not None:
            articles.append(article)
    return articles


def _best_of_three(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _entries_us(articles: list[Article], context: Context, name: str) -> float:
    entry = FEED_FORMATS[name].entry

    def run() -> None:
        for article in articles:
            entry(article, context)

    return _best_of_three(run) / len(articles) * 1e6


def _document_us(
    feed: Feed, articles: list[Article], context: Context, name: str, repeat: int = 20
) -> float:
    fmt = FEED_FORMATS[name]
    entries = [fmt.entry(articles[i], context) for i in feed.members]

    def run() -> None:
        for _ in range(repeat):
            fmt.document(feed, context, entries)

    return _best_of_three(run) / repeat * 1e6


def measure(corpus: Path, count: int) -> RenderSpeed:
    config = Config()
    articles = read_articles(corpus, count, config)
    selector = Selector(
        Selection(now=NOW, unpublished=True, future=True),
        items_per_feed=config.items_per_feed,
        groupings=config.groupings,
    )
    for index, article in enumerate(articles):
        selector.add(index, Brief.of(article))
    site = selector.finish(config.title)
    context = context_for(site, config)
    topics = sorted(
        (f for f in site.feeds if f.kind is FeedKind.TOPIC), key=lambda f: len(f.members)
    )
    topic = topics[len(topics) // 2] if topics else site.site_feed
    names = list(config.formats)
    return RenderSpeed(
        articles=len(articles),
        entry_us={name: _entries_us(articles, context, name) for name in names},
        site_document_us={
            name: _document_us(site.site_feed, articles, context, name) for name in names
        },
        topic_document_us={name: _document_us(topic, articles, context, name) for name in names},
        topic_items=len(topic.members),
    )


def report(speed: RenderSpeed) -> str:
    lines = [f"{speed.articles} articles", f"{'':24}" + "".join(f"{n:>10}" for n in speed.entry_us)]
    rows = (
        ("entry (µs)", speed.entry_us),
        ("site document (µs)", speed.site_document_us),
        (f"topic document, {speed.topic_items} (µs)", speed.topic_document_us),
    )
    for label, values in rows:
        lines.append(f"{label:24}" + "".join(f"{v:10.1f}" for v in values.values()))
    lines.append(f"{'entries, all formats':24}{sum(speed.entry_us.values()):10.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.renderspeed")
    parser.add_argument("corpus", type=Path, help="a content folder of article files")
    parser.add_argument("--count", type=int, default=10_000, help="files to read (sorted)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    speed = measure(args.corpus, args.count)
    print(json.dumps(asdict(speed), indent=2) if args.json else report(speed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
