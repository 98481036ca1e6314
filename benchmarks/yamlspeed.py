"""Front-matter parsing speed: PyYAML's C loader, ``load_yaml``, and the fast path.

    python -m benchmarks.yamlspeed CORPUS_DIR [--count 10000]

Reads the front matter of the first ``--count`` files (sorted) into memory, then times
each loader over all of them (best of three) and counts how many the fast path hands
back to PyYAML. Only parsing is timed, not reading files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from feeds import fastyaml
from feeds.fastyaml import load_yaml_fast
from feeds.frontmatter import load_yaml, split_front_matter


@dataclass(frozen=True)
class YamlSpeed:
    documents: int
    mean_bytes: float
    csafeloader_us: float
    load_yaml_us: float
    fast_path_us: float
    """``load_yaml_fast`` then ``load_yaml`` for the documents it hands back."""
    fallbacks: int

    @property
    def speedup(self) -> float:
        return self.load_yaml_us / self.fast_path_us

    @property
    def fallback_rate(self) -> float:
        return self.fallbacks / self.documents if self.documents else 0.0


def front_matters(corpus: Path, count: int) -> list[str]:
    texts = []
    for path in sorted(corpus.rglob("*.md"))[:count]:
        text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
        texts.append(split_front_matter(text).front)
    return texts


def _best_of_three(texts: list[str], parse: Callable[[str], Any]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            parse(text)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 1e6


def _fast_then_pyyaml(text: str) -> Any:
    data = load_yaml_fast(text)
    return data if data is not None else load_yaml(text).data


def measure(texts: list[str]) -> YamlSpeed:
    if not texts:
        raise ValueError("no front matter to measure")
    fastyaml._before_gate = 0  # the gate compiled, as in a build past its first files
    return YamlSpeed(
        documents=len(texts),
        mean_bytes=sum(len(t.encode("utf-8")) for t in texts) / len(texts),
        csafeloader_us=_best_of_three(texts, lambda t: yaml.load(t, Loader=yaml.CSafeLoader)),
        load_yaml_us=_best_of_three(texts, load_yaml),
        fast_path_us=_best_of_three(texts, _fast_then_pyyaml),
        fallbacks=sum(load_yaml_fast(t) is None for t in texts),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.yamlspeed", description=__doc__)
    parser.add_argument("corpus", type=Path, metavar="CORPUS_DIR")
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args(argv)
    result = measure(front_matters(args.corpus, args.count))
    print(json.dumps({**asdict(result), "speedup": round(result.speedup, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
