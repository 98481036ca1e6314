"""The least a cold build can take with this reader, next to ``cat``.

    python -m benchmarks.floor CORPUS_DIR [--jobs 2] [--json]

Every article file is read and checked as pass one of a cold build reads it
(:func:`feeds.collect.read_source`, then its brief), in ``--jobs``
forked processes, and the results are thrown away: nothing is sent back, chosen, rendered,
written or cached. Whatever a cold build does besides comes on top of this time, so a
build can be no faster than it (on a machine of ``--jobs`` cores).

Printed next to it: the ``cat`` floor of ``benchmarks.run`` over the same files (best of
three, page cache warm, as this pass is), the ratio of the two, and the processor time
the pass took per file.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from feeds.collect import read_source
from feeds.config import Config
from feeds.model import Brief
from feeds.sources import Sources, scan

CHUNK = 512
"""Files per task."""


@dataclass(frozen=True)
class Floor:
    files: int
    articles: int
    jobs: int
    read_seconds: float
    """Wall time of the reading pass alone."""
    cpu_us_per_file: float
    """Processor time (user and system, all processes) per file."""
    cat_seconds: float

    @property
    def ratio(self) -> float:
        return self.read_seconds / self.cat_seconds


_sources: Sources | None = None
"""The files, set before the workers are forked (they inherit it)."""


def _read(span: tuple[int, int]) -> int:
    """Read the files of ``span``; the number that gave an article."""
    assert _sources is not None
    config = Config()
    articles = 0
    for index in range(*span):
        article = read_source(_sources[index], config.tz, config.max_related).article
        if article is not None:
            Brief.of(article)
            articles += 1
    return articles


def cat_seconds(corpus: Path) -> float:
    command = f"find '{corpus}' -name '*.md' -print0 | xargs -0 cat > /dev/null"
    best = float("inf")
    for _ in range(4):  # the first run warms the page cache
        started = time.perf_counter()
        subprocess.run(command, shell=True, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def measure(corpus: Path, jobs: int) -> Floor:
    global _sources
    cat = cat_seconds(corpus)
    found = scan(corpus)
    _sources = found.sources
    count = len(found.sources)
    spans = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    before = os.times()
    started = time.perf_counter()
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            articles = sum(pool.imap_unordered(_read, spans))
    else:
        articles = sum(map(_read, spans))
    seconds = time.perf_counter() - started
    after = os.times()
    cpu = sum(after[:4]) - sum(before[:4])  # user and system, this process and children
    return Floor(
        files=count,
        articles=articles,
        jobs=jobs,
        read_seconds=seconds,
        cpu_us_per_file=cpu / max(count, 1) * 1e6,
        cat_seconds=cat,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    floor = measure(args.corpus, max(1, args.jobs))
    if args.json:
        print(json.dumps({**asdict(floor), "ratio": floor.ratio}))
        return 0
    print(
        f"{floor.files} files ({floor.articles} articles), {floor.jobs} "
        f"{'process' if floor.jobs == 1 else 'processes'}:\n"
        f"  reading and checking alone  {floor.read_seconds:6.2f} s"
        f"  ({floor.cpu_us_per_file:.0f} µs of processor time a file)\n"
        f"  cat of every file           {floor.cat_seconds:6.2f} s\n"
        f"  ratio                       {floor.ratio:6.2f}×"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
