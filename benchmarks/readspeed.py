"""Speed of reading one article file, step by step.

    python -m benchmarks.readspeed CORPUS_DIR [--count 10000] [--json]

Takes the first ``--count`` files (sorted) and times, in this process, each step of
:func:`feeds.collect.read_source` over all of them, best of three, in µs per article:

* ``read``: opening and reading the file's bytes;
* ``split``: decoding, newline normalisation and :func:`split_front_matter`;
* ``yaml``: :func:`load_yaml_fast`, and ``load_yaml`` for the texts it hands back;
* ``fields``: :meth:`feeds.collect._Reader.read` with Markdown rendering left out;
* ``markdown``: :func:`feeds.markup.render_body` of the body;
* ``total``: :func:`read_source` end to end (file reading included).

The steps are timed apart, over data prepared by the step before, so their sum is close
to but not exactly ``total``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from unittest import mock

from feeds import collect, fastyaml
from feeds.collect import read_source
from feeds.fastyaml import load_yaml_fast
from feeds.frontmatter import Document, Split, load_yaml, split_front_matter
from feeds.markup import render_body
from feeds.sources import Source

MAX_RELATED = 20


@dataclass(frozen=True)
class ReadSpeed:
    articles: int
    read_us: float
    split_us: float
    yaml_us: float
    fields_us: float
    markdown_us: float
    total_us: float


def _best_of_three(items: list[Any], step: Callable[[Any], object]) -> float:
    best = float("inf")
    gc.disable()  # as during a build (see feeds.build)
    try:
        for _ in range(3):
            started = time.perf_counter()
            for item in items:
                step(item)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best / len(items) * 1e6


def _read(source: Source) -> bytes:
    return collect.read_bytes(source.path)[0]


def _split(raw: bytes) -> Split:
    return split_front_matter(collect.decode_text(raw))


def _yaml(front: str) -> dict[str, Any]:
    data = load_yaml_fast(front)
    return data if data is not None else load_yaml(front).data


def sources(corpus: Path, count: int) -> list[Source]:
    paths = sorted(corpus.rglob("*.md"))[:count]
    rels = [p.relative_to(corpus).as_posix() for p in paths]
    return [Source(path=str(corpus / r), rel=r, label=f"{corpus}/{r}") for r in rels]


def measure(files: list[Source]) -> ReadSpeed:
    if not files:
        raise ValueError("no article files to measure")
    fastyaml._before_gate = 0  # the gate compiled, as in a build past its first files
    raws = [_read(s) for s in files]
    splits = [_split(r) for r in raws]
    fronts = [s.front for s in splits]
    datas = [_yaml(f) for f in fronts]
    prepared = [
        (source, Document(data=data, lines={}), split)
        for source, data, split in zip(files, datas, splits, strict=True)
    ]

    def fields(item: tuple[Source, Document, Split]) -> object:
        source, doc, split = item
        return collect._Reader(source, doc, 1, UTC, MAX_RELATED).read(source, split.body)

    with mock.patch.object(collect, "render_body", lambda body, base: None):
        fields_us = _best_of_three(prepared, fields)
    return ReadSpeed(
        articles=len(files),
        read_us=_best_of_three(files, _read),
        split_us=_best_of_three(raws, _split),
        yaml_us=_best_of_three(fronts, _yaml),
        fields_us=fields_us,
        markdown_us=_best_of_three(
            [s.body for s in splits], lambda body: render_body(body, "https://example.com/a/")
        ),
        total_us=_best_of_three(files, lambda s: read_source(s, UTC, MAX_RELATED)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = measure(sources(args.corpus, args.count))
    if args.json:
        print(json.dumps(asdict(result)))
        return 0
    print(f"{result.articles} articles, µs per article (best of 3):")
    for name in ("read", "split", "yaml", "fields", "markdown", "total"):
        print(f"  {name:<9}{getattr(result, name + '_us'):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
