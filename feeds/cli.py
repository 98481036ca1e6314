"""The command line: thin calls into :mod:`feeds.build`. Only this module prints or exits.

Exit codes: 0 no problems; 1 problems in content (files reported and skipped), the
build failed, or it refused to remove too many feeds; 2 usage or configuration errors
(a missing content folder too); 3 another build holds the lock.

Problems go to standard error, one per line (``path:line: field: message``); the summary
and the list of removed files go to standard output, and not at all under ``--quiet``.
Under ``--quiet`` a build prints only the problems the last build did not report for the
same, unchanged files, and nothing when the lock is held (the exit codes are the same).
With ``--log-format json`` every line is one JSON object with a ``level``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from feeds import __version__

try:
    from feeds.build import BuildOptions, BuildResult, build
    from feeds.cache import DEFAULT_DIR as DEFAULT_CACHE
except ImportError:  # no fcntl, no fork: not a POSIX system, which main() says in one line
    if os.name == "posix":
        raise
from feeds.config import Config, load_config
from feeds.errors import (
    JSON_ESCAPES,
    ConfigError,
    FeedsError,
    LockedError,
    Problem,
    Severity,
    escape,
)

if TYPE_CHECKING:
    from feeds.websub import PingReport

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
DEFAULT_CONFIG = Path("feeds.yaml")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0 to 86400: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feeds",
        description="Publish RSS 2.0, Atom 1.0 and JSON Feed 1.1 per topic and per provider.",
        epilog="Exit codes: 0 ok, 1 content problems, build failure or too many feeds to "
        "remove, 2 usage or configuration error, 3 another build holds the lock.",
    )
    parser.add_argument("--version", action="version", version=f"feeds {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            metavar="FILE",
            help="configuration file (default: ./feeds.yaml when it exists)",
        )

    def common(p: argparse.ArgumentParser, *, cache: bool = True) -> None:
        p.add_argument(
            "--content",
            type=Path,
            default=Path("content"),
            metavar="DIR",
            help="folder of article files (default: ./content)",
        )
        config_option(p)
        p.add_argument(
            "--unpublished",
            action="store_true",
            help="include articles marked published: false (previews)",
        )
        p.add_argument(
            "--future", action="store_true", help="include articles dated in the future (previews)"
        )
        p.add_argument(
            "--strict",
            action="store_true",
            help="treat every problem, warnings included, as a failure; "
            "the output is left untouched",
        )
        p.add_argument(
            "--quiet",
            "-q",
            action="store_true",
            help="print nothing unless there are problems (for cron); a build prints only "
            "problems it has not reported before for the same, unchanged files",
        )
        p.add_argument(
            "--log-format",
            choices=("text", "json"),
            default="text",
            help="problems and summary as text lines or JSON lines",
        )
        p.add_argument(
            "--jobs",
            "-j",
            type=int,
            default=os.cpu_count() or 1,
            metavar="N",
            help="processes reading files, threads stamping them (default: the number of CPUs)",
        )
        if not cache:  # serve builds a preview: it must not mix into the builds' cache
            return
        p.add_argument(
            "--cache",
            type=Path,
            default=DEFAULT_CACHE,
            metavar="DIR",
            help="cache folder for incremental builds, safe to delete (default: ./.feeds-cache)",
        )
        p.add_argument(
            "--no-cache",
            action="store_true",
            help="read and render everything, and leave the cache alone",
        )

    b = commands.add_parser(
        "build",
        help="build every feed into the output folder",
        description="Build every feed into the output folder.",
    )
    common(b)
    b.add_argument(
        "--output",
        type=Path,
        default=Path("public"),
        metavar="DIR",
        help="output folder (default: ./public)",
    )
    b.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for another build of the same output to finish "
        "(default: 0, exit with code 3 at once)",
    )
    b.add_argument(
        "--allow-removal",
        action="store_true",
        help="remove the feeds no longer produced even when they are more than "
        "max_removed_share of those published last time (default: refuse, exit 1)",
    )
    b.add_argument(
        "--no-ping",
        action="store_true",
        help="do not notify the configured WebSub hubs (feeds ping does it later)",
    )
    p = commands.add_parser(
        "ping",
        help="notify the WebSub hubs again of the feeds the last build rewrote",
        description="Notify the configured WebSub hubs of the feeds the last build of the "
        "output folder rewrote (and of any that earlier pings could not deliver): for "
        "deploys that copy the output elsewhere before the hubs can read it.",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=Path("public"),
        metavar="DIR",
        help="output folder the build wrote (default: ./public)",
    )
    config_option(p)
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print nothing unless a hub fails differently from last time (for cron)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="warnings and summary as text lines or JSON lines",
    )
    c = commands.add_parser(
        "check",
        help="validate content and configuration, write nothing",
        description="Validate content and configuration; write nothing.",
    )
    common(c)
    s = commands.add_parser(
        "serve",
        help="preview the site on a local web server, rebuilding when content changes",
        description="Build the site, serve it on 127.0.0.1 and rebuild it whenever the "
        "content, the templates or the configuration change. The preview is built with "
        "base_url set to the server's address: build again before deploying.",
    )
    common(s, cache=False)
    s.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="DIR",
        help="build the preview here (default: a temporary folder, removed on exit)",
    )
    s.add_argument(
        "--port",
        type=_port,
        default=8000,
        metavar="N",
        help="port on 127.0.0.1 (default: 8000; 0 picks a free one)",
    )
    return parser


def _safe_stream(stream: TextIO) -> TextIO:
    """Never fail on printing: file names may hold undecodable bytes, messages any text."""
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="backslashreplace")
    return stream


def _progress(err: TextIO) -> Callable[[str, int, int], None]:
    """A one-line progress display, redrawn in place (only ever on a terminal)."""

    def show(stage: str, done: int, total: int) -> None:
        count = f" {done:,}/{total:,}" if done else f" {total:,}"
        err.write(f"\r\033[Kfeeds: {stage}{count}")
        err.flush()

    return show


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be from 0 to 65535, not {port}")
    return port


def _config_path(path: Path | None) -> Path | None:
    if path is None:
        return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
    return path


def _config(path: Path | None) -> Config:
    return load_config(_config_path(path))


def _log(level: str, message: str, log_format: str, stream: TextIO, **fields: object) -> None:
    if log_format == "json":
        record = {"level": level, "message": message, **fields}
        print(json.dumps(record, ensure_ascii=False).translate(JSON_ESCAPES), file=stream)
    else:
        print(escape(message), file=stream)  # one line, whatever a file name holds


def _print_problem(problem: Problem, log_format: str, err: TextIO) -> None:
    if log_format == "json":  # the message without the location, which has its own keys
        where = {"path": problem.path, "line": problem.line, "field": problem.field}
        _log(problem.severity.value, problem.message, log_format, err, **where)
    else:
        print(problem, file=err)


def _count(n: int, word: str) -> str:
    """``1 file``, ``2 files``, ``0 files``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary(result: BuildResult, command: str) -> tuple[str, dict[str, object]]:
    """The one summary line, and the same figures as fields for JSON logs."""
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    skipped = len({p.path for p in result.errors})
    counts = result.counts
    fields: dict[str, object] = {
        "published": counts.published,
        "drafts": counts.drafts,
        "future": counts.future,
        "removed_articles": counts.removed,
        "files_skipped": skipped,
        "errors": errors,
        "warnings": warnings,
        "feeds": result.feeds,
        "feeds_rendered": result.feeds_rendered,
        "files_read": result.files_read,
        "files_reread": result.files_reread,
        "seconds": round(result.seconds, 3),
    }
    parts = [
        f"{_count(counts.published, 'article')} published (held back: "
        f"{_count(counts.drafts, 'draft')}, {counts.future} future, {counts.removed} removed)",
        f"{_count(skipped, 'file')} skipped, {_count(warnings, 'warning')}",
        f"{_count(result.feeds, 'feed')} ({result.feeds_rendered} rendered)",
    ]
    if result.report is not None:
        r = result.report
        fields |= {
            "written": len(r.written),
            "unchanged": len(r.unchanged),
            "removed": len(r.removed),
        }
        parts.append(
            f"output files: {len(r.written)} written, {len(r.unchanged)} unchanged, "
            f"{len(r.removed)} removed"
        )
    elif command == "build":
        parts.append("nothing written")
    cached = result.files_read - result.files_reread
    parts.append(
        f"{_count(result.files_read, 'content file')} "
        f"({result.files_reread} read, {cached} from cache)"
    )
    text = f"feeds {command}: " + "; ".join(parts) + f" in {result.seconds:.2f} s"
    return text, fields


def main(
    argv: list[str] | None = None,
    *,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code. ``now`` defaults to the clock."""
    out = out or _safe_stream(sys.stdout)
    err = err or _safe_stream(sys.stderr)
    if os.name != "posix":  # locking, worker processes and atomic renames need one
        print(f"feeds: needs a POSIX system (Linux, macOS, a BSD), not {os.name!r}", file=err)
        return EXIT_USAGE
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    fmt = args.log_format
    try:
        config = _config(args.config)
    except ConfigError as e:
        for line in str(e).splitlines():
            _log("error", line, fmt, err)
        return EXIT_USAGE
    if args.command == "ping":
        return _ping(args, config, out, err)
    if not args.content.is_dir():
        _log("error", f"{args.content}: no such content folder", fmt, err)
        return EXIT_USAGE
    if args.command == "serve":
        return _serve(args, out, err)
    options = BuildOptions(
        content=args.content,
        output=getattr(args, "output", Path("public")),
        now=now or datetime.now(UTC),
        unpublished=args.unpublished,
        future=args.future,
        strict=args.strict,
        write=args.command == "build",
        lock_wait=getattr(args, "wait", 0.0),
        jobs=max(1, args.jobs),
        cache=None if args.no_cache else args.cache,
        allow_removal=getattr(args, "allow_removal", False),
    )
    show = _progress(err) if not args.quiet and err.isatty() else None
    try:
        result = build(config, options, show)
    except LockedError as e:
        if not args.quiet:  # under cron, an overlap is no news: the next run catches up
            _log("error", f"feeds: {e}", fmt, err)
        return EXIT_LOCKED
    except FeedsError as e:
        _log("error", f"feeds: {e}", fmt, err)
        return EXIT_PROBLEMS
    if show is not None:
        err.write("\r\033[K")
    for problem in result.unreported if args.quiet else result.problems:
        _print_problem(problem, fmt, err)
    for note in result.cache_notes:
        _log("warning", f"feeds: cache: {note}", fmt, err)
    failed = bool(result.errors) or (args.strict and bool(result.problems))
    if args.strict and result.problems and args.command == "build" and result.report is None:
        _log("error", "feeds: --strict: problems found, the output was left untouched", fmt, err)
    if result.refused is not None:
        failed = True
        refused = result.refused
        _log(
            "error",
            f"feeds: {refused}; run with --allow-removal to remove them",
            fmt,
            err,
            event="refused",
            would_remove=len(refused.removed),
            published=refused.published,
        )
    if config.hubs and result.report is not None and args.command == "build":
        from feeds.websub import after_build, feed_urls  # only with hubs

        urls = feed_urls(config.base_url, result.report.written)
        pings = after_build(args.output, config.hubs, urls, send=not args.no_ping)
        _log_pings(pings, args.quiet, fmt, out, err)
    if not args.quiet:
        for path in result.report.removed if result.report is not None else ():
            _log("info", f"removed {path}", fmt, out, event="removed", path=path)
        text, fields = _summary(result, args.command)
        _log("info", text, fmt, out, event="summary", **fields)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _ping(args: argparse.Namespace, config: Config, out: TextIO, err: TextIO) -> int:
    """``feeds ping``: a hub that fails is a warning (exit 0), as after a build."""
    fmt = args.log_format
    if not config.hubs:
        _log("error", "feeds ping: no hubs in the configuration (hubs: [URL, ...])", fmt, err)
        return EXIT_USAGE
    if not args.output.is_dir():
        _log("error", f"{args.output}: no such output folder", fmt, err)
        return EXIT_USAGE
    from feeds.websub import ping_again

    _log_pings(ping_again(args.output, config.hubs), args.quiet, fmt, out, err)
    return EXIT_OK


def _log_pings(pings: PingReport, quiet: bool, fmt: str, out: TextIO, err: TextIO) -> None:
    """Each failing hub once per failure under ``--quiet``; every failure and the count of
    pings sent otherwise."""
    for failure in pings.new_failures if quiet else pings.failures:
        _log(
            "warning",
            f"feeds: warning: {failure}",
            fmt,
            err,
            event="ping_failed",
            hub=failure.hub,
            status=failure.status,
            unsent=failure.unsent,
        )
    if not quiet and pings.sent:
        text = f"feeds: pinged {_count(pings.sent, 'feed')} at the WebSub hubs"
        _log("info", text, fmt, out, event="pinged", sent=pings.sent)


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from feeds.serve import BuildOutcome, Preview, PreviewOptions  # only this command needs it

    def report(outcome: BuildOutcome) -> None:
        if isinstance(outcome, FeedsError):
            print(escape(f"feeds: {outcome}"), file=err)
        else:
            for problem in outcome.problems:
                _print_problem(problem, args.log_format, err)
            if not args.quiet:
                text, fields = _summary(outcome, "serve")
                _log("info", text, args.log_format, out, event="summary", **fields)
        err.flush()
        out.flush()

    options = PreviewOptions(
        content=args.content,
        config=_config_path(args.config),
        output=args.output,
        port=args.port,
        unpublished=args.unpublished,
        future=args.future,
        strict=args.strict,
        jobs=max(1, args.jobs),
    )
    preview = Preview(options, on_build=report)
    # SIGTERM and SIGHUP (a closed terminal) stop the preview as Ctrl-C does, from the
    # first build on, so that its temporary folder is always removed.
    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, lambda *_: preview.request_stop())
    try:
        try:
            preview.start()
        except FeedsError as e:
            print(escape(f"feeds serve: {e}"), file=err)
            return EXIT_USAGE
        except KeyboardInterrupt:  # during the first build: start() cleaned up
            return EXIT_OK
        print(f"feeds serve: serving {preview.url} from {preview.output}; Ctrl-C stops", file=out)
        out.flush()
        with contextlib.suppress(KeyboardInterrupt):
            preview.wait()
    finally:
        preview.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
    return EXIT_OK


__all__ = ["EXIT_LOCKED", "EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "Severity", "main"]
