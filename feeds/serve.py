"""``feeds serve``: a local preview of the site, rebuilt whenever the content changes.

Not a pipeline stage but an edge beside the CLI, like it: it binds a web server on the
loopback interface, builds once with ``base_url`` set to the server's own address (so
every link of the preview stays on the preview), then rebuilds in a watcher thread
whenever a content file, a template or the configuration file changes.

The server answers GET and HEAD for the files the last build published only (those its
manifest lists, each a regular file inside the output folder, not reached through a
symbolic link), and ``410 Gone`` for the files builds removed and have not written again
(the manifest lists them too: feed readers stop polling on 410); no listings, no hidden
files (the manifest, the lock), nothing outside the folder however the path is spelt. A
client silent for :data:`CLIENT_TIMEOUT` seconds is
dropped, and a client that goes away is one line on stderr, not a traceback.

Feeds get their registered media types (:data:`feeds.formats.MEDIA_TYPES`) and
every file a validator (``ETag`` from size and mtime, ``Last-Modified``) answered with
``304 Not Modified`` on ``If-None-Match`` / ``If-Modified-Since``.

One deliberate exception: a *browser* asking for an RSS or Atom file (its ``Accept``
names ``text/html``) gets ``application/xml``, the type under which browsers apply the
feed's XSL stylesheet (with ``application/rss+xml`` Chromium shows the raw text). This
is what a stock nginx or Apache, which serve ``.xml`` as ``text/xml`` / ``application/xml``,
shows a visitor; feed readers, which do not ask for HTML, get the registered types.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import watchfiles

from feeds.build import BuildOptions, BuildResult, build
from feeds.config import Config, load_config
from feeds.errors import BuildError, FeedsError, UsageError
from feeds.formats import FEED_FORMATS, MEDIA_TYPES
from feeds.manifest import MANIFEST, read_old

HOST = "127.0.0.1"
CLIENT_TIMEOUT = 10.0
BROWSER_XML_TYPE = "application/xml; charset=utf-8"
_XML_FEEDS = frozenset(
    f.info.filename for f in FEED_FORMATS.values() if f.info.media_type.endswith("+xml")
)


def media_type(name: str) -> str:
    """The ``Content-Type`` of an output file, by file name, then extension."""
    suffix = os.path.splitext(name)[1].lower()
    return (
        MEDIA_TYPES.get(name)
        or MEDIA_TYPES.get(suffix)
        or mimetypes.guess_type(name)[0]
        or "application/octet-stream"
    )


def etag_for(stat: os.stat_result) -> str:
    """A strong validator that changes whenever the file is rewritten (size, mtime in ns)."""
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


class PreviewHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on the loopback interface serving one folder."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root.resolve()
        self._published: tuple[tuple[int, int, int] | None, frozenset[str], frozenset[str]] = (
            None,
            frozenset(),
            frozenset(),
        )
        self._published_lock = threading.Lock()
        self.cache_control = "no-cache"
        """Sent with every file: ``public, max-age=`` the configured ``refresh_minutes``,
        else ``no-cache`` (a preview changes under the reader's eyes)."""
        super().__init__((HOST, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def published(self) -> frozenset[str]:
        """The files the last build wrote, as its manifest lists them (read again only
        when the manifest file changed)."""
        return self._manifest()[1]

    def gone(self) -> frozenset[str]:
        """The files the builds removed and have not written again (answered 410)."""
        return self._manifest()[2]

    def _manifest(self) -> tuple[tuple[int, int, int] | None, frozenset[str], frozenset[str]]:
        try:
            st = os.stat(self.root / MANIFEST)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = None
        with self._published_lock:
            if stamp is None or stamp != self._published[0]:
                manifest = read_old(self.root)  # every part read: the files of all of it
                self._published = (stamp, frozenset(manifest), manifest.gone)
            return self._published

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """A client that went away or timed out is one line on stderr, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            host, port = client_address[:2]
            reason = error.strerror or type(error).__name__
            sys.stderr.write(f"feeds serve: {host}:{port}: client went away: {reason}\n")
            sys.stderr.flush()
        else:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: PreviewHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "feeds-serve"
    timeout = CLIENT_TIMEOUT
    """Seconds a client may stay silent (or stop reading) before it is dropped."""

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the preview prints builds, not requests."""

    def _respond(self, *, with_body: bool) -> None:
        path, status = self._resolve()
        if path is None:
            self.send_error(status)
            return
        try:
            f = path.open("rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with f:
            # fstat the open file: a rebuild may replace the path while we answer.
            stat = os.fstat(f.fileno())
            etag = etag_for(stat)
            validators = {
                "ETag": etag,
                "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
                "Cache-Control": self.server.cache_control,
            }
            content_type = media_type(path.name)
            if path.name in _XML_FEEDS:
                validators["Vary"] = "Accept"
                if "text/html" in self.headers.get("Accept", ""):
                    content_type = BROWSER_XML_TYPE
            if self._not_modified(etag, stat.st_mtime):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                for name, value in validators.items():
                    self.send_header(name, value)
                self.end_headers()
                return
            data = f.read()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in validators.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def _resolve(self) -> tuple[Path | None, HTTPStatus]:
        """The file for the request path, or ``None`` and why not."""
        try:
            text = unquote(urlsplit(self.path).path, errors="strict")
        except UnicodeDecodeError:
            return None, HTTPStatus.BAD_REQUEST
        parts = text.replace("\\", "/").split("/")
        if "\x00" in text or any(p in (".", "..") for p in parts):
            return None, HTTPStatus.FORBIDDEN
        names = [p for p in parts if p]
        if any(name.startswith(".") for name in names):
            return None, HTTPStatus.NOT_FOUND  # the manifest, the lock, temporary files
        # Only what the build published: its manifest names every file it wrote.
        published = self.server.published()
        rel = "/".join(names)
        if rel not in published:
            rel = f"{rel}/index.html" if rel else "index.html"
            if rel not in published:
                gone = self.server.gone()
                if "/".join(names) in gone or rel in gone:  # feed readers stop asking
                    return None, HTTPStatus.GONE
                return None, HTTPStatus.NOT_FOUND
        root = self.server.root
        try:
            resolved = root.joinpath(*rel.split("/")).resolve(strict=True)
        except (OSError, RuntimeError):
            return None, HTTPStatus.NOT_FOUND
        if not resolved.is_relative_to(root) or resolved.relative_to(root).as_posix() != rel:
            return None, HTTPStatus.FORBIDDEN  # a symbolic link put in place of a file
        if not resolved.is_file():
            return None, HTTPStatus.NOT_FOUND
        return resolved, HTTPStatus.OK

    def _not_modified(self, etag: str, mtime: float) -> bool:
        """RFC 9110 section 13.1: If-None-Match wins; If-Modified-Since only without it."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or etag in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if not if_modified_since:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return int(mtime) <= since.timestamp()


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewOptions:
    content: Path
    config: Path | None
    """The configuration file, ``None`` for the defaults; re-read when it changes."""
    output: Path | None = None
    """Where to build; ``None``: a temporary folder, removed when the preview stops."""
    port: int = 8000
    """0 picks a free port."""
    unpublished: bool = False
    future: bool = False
    strict: bool = False
    jobs: int = 1
    """Worker processes for reading files, as ``feeds build --jobs``."""


BuildOutcome = BuildResult | FeedsError
"""What each build of the preview hands to ``on_build``: a result, or why it failed."""


def _silent(outcome: BuildOutcome) -> None:
    pass


class Preview:
    """Serve the output folder and rebuild on changes: ``start()``, then ``stop()``."""

    def __init__(
        self,
        options: PreviewOptions,
        *,
        on_build: Callable[[BuildOutcome], None] = _silent,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        debounce_ms: int = 300,
    ) -> None:
        self.options = options
        self.on_build = on_build
        self.clock = clock
        self.debounce_ms = debounce_ms
        self.builds = 0
        self._stop = threading.Event()
        self._watching = threading.Event()
        self._signature: tuple[int, int] | None = None
        self._threads: list[threading.Thread] = []
        self._server: PreviewHTTPServer | None = None
        self._serving = False
        self._temporary = options.output is None
        self.output = options.output or Path(tempfile.mkdtemp(prefix="feeds-preview-"))

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return self._server.url

    def start(self) -> None:
        """Bind, build once, then serve and watch in background threads.

        Raises :class:`UsageError` when the port is taken and
        :class:`~feeds.errors.ConfigError` for a bad configuration file.
        """
        try:
            self.output.mkdir(parents=True, exist_ok=True)
            self._server = PreviewHTTPServer(self.output, self.options.port)
        except OSError as e:
            self._cleanup()
            raise UsageError(f"cannot listen on {HOST}:{self.options.port}: {e.strerror}") from None
        try:
            self._signature = self._config_signature()
            config = self._config()
            # Watch before the first build, so that no change made meanwhile is missed.
            self._start_thread(self._watch, "watch")
            self._watching.wait(timeout=10)
            self._build(config)
            self._start_thread(self._server.serve_forever, "serve")
            self._serving = True
        except BaseException:  # a bad config, Ctrl-C, a bug: no thread or folder stays
            self.stop()
            raise

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"feeds-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``stop()`` (True) or ``timeout`` seconds (False)."""
        return self._stop.wait(timeout)

    def request_stop(self) -> None:
        """Make ``wait()`` return (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop serving and watching, and remove a temporary output folder."""
        self._stop.set()
        if self._server is not None:
            if self._serving:  # shutdown() waits for serve_forever(): only once it runs
                self._server.shutdown()
                self._serving = False
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._cleanup()

    def __enter__(self) -> Preview:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rebuild(self) -> None:
        """Re-read the configuration and build; problems go to ``on_build``."""
        try:
            config = self._config()
        except FeedsError as e:
            self.on_build(e)
            return
        self._build(config)

    def _config(self) -> Config:
        config = load_config(self.options.config)
        return replace(config, base_url=self.url)

    def _build(self, config: Config) -> None:
        if self._server is not None:
            minutes = config.refresh_minutes
            self._server.cache_control = (
                "no-cache" if minutes is None else f"public, max-age={minutes * 60}"
            )
        options = BuildOptions(
            content=self.options.content,
            output=self.output,
            now=self.clock(),
            unpublished=self.options.unpublished,
            future=self.options.future,
            strict=self.options.strict,
            lock_wait=30.0,
            jobs=self.options.jobs,
        )
        try:
            outcome: BuildOutcome = build(config, options)
        except FeedsError as e:
            outcome = e
        self.builds += 1
        self.on_build(outcome)

    def _watched(self) -> list[Path]:
        paths = [self.options.content]
        with contextlib.suppress(FeedsError):
            templates = load_config(self.options.config).templates
            if templates:
                paths.append(Path(templates))
        return paths

    def _config_signature(self) -> tuple[int, int] | None:
        if self.options.config is None:
            return None
        try:
            stat = self.options.config.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _watch(self) -> None:
        """Rebuild on changes until stopped; whatever goes wrong is reported, and the
        watching starts again a second later rather than ending the preview's rebuilds."""
        while not self._stop.is_set():
            try:
                self._watch_once()
            except Exception as e:  # a bug must not end the rebuilds silently
                self.on_build(BuildError(f"unexpected {type(e).__name__} in the watcher: {e}"))
                self._watching.set()
                self._stop.wait(1.0)
            else:
                return

    def _watch_once(self) -> None:
        output = os.path.realpath(self.output)
        default = watchfiles.DefaultFilter()

        def relevant(change: watchfiles.Change, path: str) -> bool:
            # realpath, not Path.resolve: a symbolic link loop must not raise here.
            resolved = Path(os.path.realpath(path))
            hidden = os.path.basename(path).startswith(".")
            return default(change, path) and not hidden and not resolved.is_relative_to(output)

        # The configuration file is polled (every rust_timeout), not watched: editors
        # replace it by renaming, and watching its folder could mean watching the output.
        for changes in watchfiles.watch(
            *self._watched(),
            watch_filter=relevant,
            debounce=self.debounce_ms,
            rust_timeout=500,
            yield_on_timeout=True,
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            if self._stop.is_set():
                break
            self._watching.set()  # from the first yield on, the watcher is in place
            signature = self._config_signature()
            if changes or signature != self._signature:
                self._signature = signature
                try:
                    self.rebuild()
                except Exception as e:  # a bug must not end the preview silently
                    self.on_build(BuildError(f"unexpected {type(e).__name__} in the build: {e}"))

    def _cleanup(self) -> None:
        if self._temporary:
            shutil.rmtree(self.output, ignore_errors=True)
