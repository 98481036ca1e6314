"""Generate a deterministic corpus of seed-shaped article files for benchmarks and tests.

    python -m benchmarks.generate OUT_DIR --count N [--seed S]

Every file has the field shape of ``../shared/seeds/000_944ab56ac52e7950.txt`` (category,
title, excerpt, publishedDateTime, originalUrl, webUrl, type, quality, heat, published,
provider, topics, images, related, secured) and about 2 KB on average, with the variety
real data has: a few hundred topics spelled in several cases, several hundred providers,
non-ASCII titles, ``published: false``, removed articles, future-dated articles, videos
with only ``originalUrl``, URLs repeated across files, and from 0 to ~20 related items
(occasionally 100 or more). Files go into nested folders, 1,000 per folder.

The output depends only on ``--count`` and ``--seed``: no clock is read. Dates are spread
before :data:`REFERENCE`; "future" articles are dated years after it, so they stay in the
future for any realistic clock. Every invented domain is under example.com/.org/.net.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REFERENCE = datetime(2026, 1, 1, tzinfo=UTC)
"""Ordinary articles are dated within four years before this; future ones years after."""
PER_FOLDER = 1000
TOPIC_COUNT = 300
PROVIDER_COUNT = 600

_WORD_TEXT = (
    "market energy policy vote city council climate storm league final data model "
    "chip launch orbit vaccine trial court ruling budget tax rail airport strike "
    "election poll bank rates housing river drought flood museum festival film "
    "series album record robot vision network cloud privacy breach patch update "
    "release study report survey merger shares profit quarter outlook export tariff "
    "summit treaty border port harbour school teachers hospital nurses patients "
    "research telescope galaxy quantum battery solar wind grid nuclear reactor "
    "hydrogen steel mining copper lithium startup funding"
)
_WORDS = tuple(_WORD_TEXT.split())
_NON_ASCII = (
    "Москва объявила о новых правилах для городского транспорта",
    "京都の観光客数が過去最高を記録",
    "Zürich: Mieten steigen schneller als Löhne — Größte Zunahme seit Jahren",
    "São Paulo amplia rede de metrô até 2030",
    "Sommet de l’IA à Paris : les engagements des États",
    "Kraków i Gdańsk inwestują w tramwaje",
    "İstanbul’da deprem tatbikatı yapıldı",
    "서울 지하철 요금 인상",
    "Ελλάδα: νέα μέτρα για τον τουρισμό",
    "Café culture “booming” in Reykjavík — 5 trends",
)
_TOPIC_BASE = (
    "AI",
    "Computer Vision",
    "Climate",
    "Energy",
    "Elections",
    "Space",
    "Health",
    "Markets",
    "C++",
    "C#",
    "Rust",
    "Python",
    "Москва",
    "京都",
    "Berlin",
    "Paris",
    "Kyoto",
    "Cybersecurity",
    "Privacy",
    "Housing",
    "Transport",
    "Football",
    "Tennis",
    "Cinema",
)
_QUOTE_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def _q(text: str) -> str:
    """A YAML double-quoted scalar (only backslash and quote need escaping here)."""
    return '"' + text.translate(_QUOTE_ESCAPES) + '"'


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Pools:
    """Topics and providers shared by every file of one corpus."""

    def __init__(self, rng: random.Random) -> None:
        topics = list(_TOPIC_BASE)
        while len(topics) < TOPIC_COUNT:
            words = rng.sample(_WORDS, rng.choice((1, 1, 2, 2, 3)))
            topics.append(" ".join(w.capitalize() for w in words))
        topics = list(dict.fromkeys(topics))
        # Case variants of the same topic: "Computer Vision", "computer vision", "COMPUTER VISION".
        self.topics: list[str] = []
        for name in topics:
            self.topics.append(name)
            if rng.random() < 0.3:
                self.topics.append(rng.choice((name.lower(), name.upper(), name.title())))
        tlds = ("example.com", "example.org", "example.net")
        self.providers: list[tuple[str, str]] = []
        for index in range(PROVIDER_COUNT):
            words = rng.sample(_WORDS, 2)
            name = " ".join(w.capitalize() for w in words)
            if rng.random() < 0.1:
                name = rng.choice(("Le ", "Die ", "El ", "The ")) + name
            domain = f"{words[0]}-{words[1]}-{index}.{tlds[index % 3]}"
            self.providers.append((name, domain))


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:]


def _title(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(_NON_ASCII)
    if roll < 0.10:
        return _sentence(rng, 6) + ": what “it” means, and what it doesn’t"
    return _sentence(rng, rng.randint(5, 11))


def _excerpt(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return ""
    text = ". ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(1, 2))) + "."
    if roll < 0.10:
        text += " Shares of <MSFT.O> rose&nbsp;2% &#8217;today&#8217;.\\r\\nMore soon."
    return text


def _slug(title: str, rng: random.Random) -> str:
    ascii_words = [w for w in title.lower().split() if w.isascii() and w.isalnum()]
    return "-".join(ascii_words[:6]) or f"story-{rng.randrange(10**9)}"


def _images(rng: random.Random, domain: str, stem: str, indent: str) -> list[str]:
    if rng.random() < 0.15:
        return []
    lines = [f"{indent}images:"]
    for n in range(rng.choice((1, 1, 1, 2))):
        lines.append(f'{indent}  - url: "https://cdn.{domain}/img/{stem}-{n}.jpg"')
        if rng.random() < 0.9:
            lines.append(f"{indent}    width: {rng.choice((640, 800, 1000, 1200, 2000))}")
            lines.append(f"{indent}    height: {rng.choice((360, 450, 666, 675, 1000))}")
        lines.append(f"{indent}    isCached: {'true' if rng.random() < 0.8 else 'false'}")
    return lines


def _related_count(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.003:
        return rng.randint(100, 180)
    if roll < 0.60:
        return 0
    if roll < 0.85:
        return 1
    if roll < 0.95:
        return rng.randint(2, 4)
    return rng.randint(5, 20)


def _related(rng: random.Random, pools: _Pools, own_url: str, when: datetime) -> list[str]:
    count = _related_count(rng)
    if not count:
        return []
    lines = ["", "related:"]
    for n in range(count):
        name, domain = rng.choice(pools.providers)
        title = _title(rng)
        if n == 0 and rng.random() < 0.05:
            url = own_url  # real records sometimes point back at the article itself
        else:
            url = f"https://www.{domain}/{when:%Y/%m}/{_slug(title, rng)}-{rng.randrange(10**6)}/"
        lines += [
            f"  - title: {_q(title)}",
            f"    excerpt: {_q(_sentence(rng, rng.randint(6, 18)) + '.')}",
            f"    publishedDateTime: {_date(when - timedelta(minutes=rng.randint(5, 20000)))}",
            f"    webUrl: {_q(url)}",
            f"    ampWebUrl: {_q(url + '?amp')}",
            "    type: article",
            "    provider:",
            f"      name: {name}",
            f"      domain: {domain}",
            f"    quality: {rng.randint(0, 100)}",
        ]
        if rng.random() < 0.5:
            lines += _images(rng, domain, f"r{n}", "    ")
    return lines


def article(index: int, rng: random.Random, pools: _Pools, earlier_urls: list[str]) -> str:
    """The text of article file number ``index``."""
    name, domain = rng.choice(pools.providers)
    title = _title(rng)
    if rng.random() < 0.99:
        when = REFERENCE - timedelta(seconds=rng.randint(60, 4 * 365 * 86400))
    else:
        when = REFERENCE + timedelta(days=rng.randint(5 * 365, 9 * 365))  # future
    video = rng.random() < 0.05
    if earlier_urls and rng.random() < 0.005:
        url = rng.choice(earlier_urls)  # the same article published twice
    else:
        url = f"https://www.{domain}/{when:%Y/%m}/{_slug(title, rng)}-{index}/"
        if len(earlier_urls) < 5000:
            earlier_urls.append(url)
    lines = [
        "---",
        "category: news",
        f"title: {_q(title)}",
        f"excerpt: {_q(_excerpt(rng))}",
        f"publishedDateTime: {_date(when)}",
        f"originalUrl: {_q(url)}",
    ]
    if video:
        lines += [
            "type: video",
            "featuredContent: '<iframe src=\"https://player.example.net/embed/"
            f'{index}" width="560" height="315"></iframe>\'',
        ]
    else:
        lines += [f"webUrl: {_q(url)}", "type: article"]
    lines += [f"quality: {rng.randint(0, 100)}", f"heat: {rng.choice((-1, -1, -1, 0, 5, 40))}"]
    roll = rng.random()
    if roll < 0.03:
        lines.append("published: false")
    elif roll < 0.30:
        lines.append("published: true")
    if rng.random() < 0.01:
        lines.append("removed: true")
    lines += ["", "provider:", f"  name: {name}", f"  domain: {domain}", "", "topics:"]
    for topic in rng.sample(pools.topics, rng.choice((1, 2, 2, 3, 3, 4))):
        plain = topic.replace(" ", "").isalpha()
        lines.append(f"  - {topic if plain else _q(topic)}")
    images = _images(rng, domain, f"{index}", "")
    if images:
        lines += ["", *images]
    lines += _related(rng, pools, url, when)
    blob = base64.b64encode(rng.randbytes(rng.randint(180, 300))).decode("ascii")
    lines += ["", f"secured: {_q(blob)}", "---", ""]
    if rng.random() < 0.2:
        lines += [_sentence(rng, 30) + ".", ""]
    return "\n".join(lines)


def relative_path(index: int) -> str:
    """Where article ``index`` goes: 1,000 files per folder, 100 folders per parent."""
    folder = index // PER_FOLDER
    return f"{folder // 100:03d}/{folder % 100:02d}/{index:07d}.md"


def generate(out: Path, count: int, seed: int = 1) -> int:
    """Write ``count`` articles under ``out``; returns the bytes written."""
    rng = random.Random(seed)
    pools = _Pools(rng)
    earlier: list[str] = []
    total = 0
    made: set[str] = set()
    for index in range(count):
        rel = relative_path(index)
        parent = os.path.join(out, os.path.dirname(rel))
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        data = article(index, rng, pools, earlier).encode("utf-8")
        with open(os.path.join(out, rel), "wb") as f:
            f.write(data)
        total += len(data)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Generate a deterministic seed-shaped corpus.",
    )
    parser.add_argument("out", type=Path, metavar="OUT_DIR")
    parser.add_argument("--count", type=int, required=True, metavar="N")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be 0 or more")
    total = generate(args.out, args.count, args.seed)
    mean = total / args.count if args.count else 0
    print(
        f"{args.count} files, {total / 1e6:.1f} MB, {mean:.0f} bytes on average, in {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
