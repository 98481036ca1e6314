"""End to end with a real nginx: readers never see a partial file, and unchanged is 304.

nginx serves ``public/`` with the server block from docs/operations.md while a loop of
builds runs against changing content and a client fetches feeds and parses every response.
Skipped, with the reason, when nginx is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import NOW, REPO, article, write_tree

import feeds.cache
from feeds.build import BuildOptions, build
from feeds.config import Config

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)"
)

BUILD_SECONDS = 6.0
"""How long the loop of builds runs while the client fetches."""

MEDIA_TYPES = {
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "feed.json": "application/feed+json",
    "feeds.opml": "text/x-opml",
    "index.html": "text/html",
}


def _server_block(root: Path, port: int, extra: str = "") -> str:
    """The documented server block, listening on ``port`` and serving ``root``, with the
    directives ``extra`` added (``{port}`` in them is the port)."""
    text = (REPO / "docs" / "operations.md").read_text("utf-8")
    block = re.search(r"```nginx\n(server \{.*?\n\})\n```", text, re.S)
    assert block, "docs/operations.md has no nginx server block"
    server = block.group(1)
    server = re.sub(r"listen 80;", f"listen 127.0.0.1:{port};", server)
    server = re.sub(r"root /srv/feeds/public;", f"root {root};", server)
    server = server.replace("/srv/feeds/public/", f"{root}/")
    assert "/srv/" not in server
    if extra:
        server = server.removesuffix("}") + extra.replace("{port}", str(port)) + "\n}"
    return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A foreground nginx on a free loopback port serving ``tmp_path/public``."""
    (tmp_path / "public").mkdir()
    with _running_nginx(tmp_path) as port:
        yield port, tmp_path / "public"


@contextmanager
def _running_nginx(tmp_path: Path, extra: str = "") -> Iterator[int]:
    """nginx serving ``tmp_path/public`` (which it reads its configuration from only now),
    with the server block's directives ``extra`` (see :func:`_server_block`)."""
    assert NGINX is not None
    prefix = tmp_path / "nginx"
    public = tmp_path / "public"
    prefix.mkdir()
    for attempt in range(3):
        port = _free_port()
        temp = "\n".join(
            f"    {kind}_temp_path {prefix}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n    access_log off;\n{temp}\n{_server_block(public, port, extra)}\n}}\n"
        )
        process = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
             "-e", str(prefix / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if process.poll() is None:
            break
        stderr = process.stderr.read() if process.stderr else ""
        if attempt == 2 or "in use" not in stderr:
            pytest.fail(f"nginx did not start: {stderr}")
    try:
        yield port
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _fetch(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def _parse(path: str, body: bytes) -> str:
    """Parse a whole response; returns the feed's first item title (to see versions)."""
    if path.endswith(".json"):
        doc = json.loads(body)
        return str(doc["items"][0]["title"]) if doc["items"] else ""
    if path.endswith("/") or path.endswith(".html"):
        text = body.decode("utf-8")
        assert text.rstrip().endswith("</html>"), "truncated page"
        return ""
    root = ET.fromstring(body)
    title = root.find("channel/item/title")
    if title is None:
        title = root.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
    return title.text or "" if title is not None else ""


def _files(step: int) -> dict[str, str | bytes]:
    """Content at one step: titles change every step; provider p3 comes and goes."""
    files: dict[str, str | bytes] = {}
    for n in range(120):
        provider = n % 4
        if provider == 3 and step % 3 == 2:
            continue
        title = f"Article {n} at step {step}" if n % 5 == step % 5 else f"Article {n}"
        files[f"{n:03d}.md"] = article(
            n=n,
            title=title,
            topics=[f"Topic {n % 6}", "All"],
            provider={"name": f"P{provider}", "domain": f"p{provider}.example"},
            related=[
                {"title": f"Related {n}-{i}", "webUrl": f"https://r.example/{n}/{i}",
                 "excerpt": "x" * (n * 37 % 300)}
                for i in range(n % 4)
            ],
        )  # fmt: skip
    return files


@dataclass
class Client:
    """Fetches feeds until told to stop; every response must parse whole."""

    port: int
    paths: tuple[str, ...]
    stop: threading.Event = field(default_factory=threading.Event)
    fetched: int = 0
    versions: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.paths:
                try:
                    status, headers, body = _fetch(self.port, path)
                    if status == 404 and "/p3.example/" in path:
                        continue  # that provider's feeds come and go with its articles
                    assert status == 200, f"status {status}"
                    name = "index.html" if path.endswith("/") else path.rsplit("/", 1)[-1]
                    assert headers["content-type"].startswith(MEDIA_TYPES[name]), headers
                    assert int(headers["content-length"]) == len(body)
                    self.versions.add(_parse(path, body))
                    self.fetched += 1
                except Exception as e:  # report every kind of failure, keep fetching
                    self.failures.append(f"{path}: {type(e).__name__}: {e}")


def test_readers_never_see_a_partial_file_and_unchanged_feeds_are_304(
    nginx: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds.cache, "RACY_SECONDS", 0)
    port, public = nginx
    content = tmp_path / "content"
    config = Config(base_url=f"http://127.0.0.1:{port}/")
    current: dict[str, str | bytes] = {}

    def run_build(step: int) -> None:
        files = _files(step)
        for old in content.glob("*.md"):
            if old.name not in files:
                old.unlink()
        write_tree(content, {k: v for k, v in files.items() if current.get(k) != v})
        current.clear()
        current.update(files)
        build(config, BuildOptions(content=content, output=public, now=NOW,
                                   cache=tmp_path / "cache"))  # fmt: skip

    run_build(0)
    (public / "robots.txt").write_text("User-agent: *\n")
    paths = ("/", "/feeds.opml", "/rss.xml", "/atom.xml", "/feed.json",
             "/topics/all/rss.xml", "/topics/all/atom.xml", "/topics/all/feed.json",
             "/providers/p3.example/rss.xml", "/providers/p3.example/feed.json",
             "/providers/p1.example/atom.xml")  # fmt: skip
    client = Client(port, paths)
    reader = threading.Thread(target=client.run)
    reader.start()
    steps = 0
    deadline = time.monotonic() + BUILD_SECONDS
    try:
        while time.monotonic() < deadline:
            steps += 1
            run_build(steps)
    finally:
        client.stop.set()
        reader.join(10)
    assert client.failures == []
    assert steps >= 4 and client.fetched >= 100, (steps, client.fetched)
    assert len(client.versions) > 3  # the client really saw the content change

    # The publisher's own files are not served; foreign files are kept and served.
    assert _fetch(port, "/.feeds-manifest.json")[0] == 404
    assert _fetch(port, "/.feeds.lock")[0] == 404
    assert _fetch(port, "/robots.txt")[0] == 200

    # A rebuild with nothing changed: conditional GETs are answered 304 Not Modified.
    status, headers, _ = _fetch(port, "/topics/all/rss.xml")
    assert status == 200 and headers["cache-control"] == "public, max-age=300"
    validators = {"If-None-Match": headers["etag"], "If-Modified-Since": headers["last-modified"]}
    time.sleep(0.01)
    build(config, BuildOptions(content=content, output=public, now=NOW, cache=tmp_path / "cache"))
    for name, value in validators.items():
        status, again, body = _fetch(port, "/topics/all/rss.xml", {name: value})
        assert (status, body) == (304, b""), name
        assert again["etag"] == headers["etag"]

    # A rebuild that changes the feed: the same conditional GET gets the new file.
    write_tree(content, {"119.md": article(n=119, title="Changed", topics=["All"])})
    build(config, BuildOptions(content=content, output=public, now=NOW, cache=tmp_path / "cache"))
    status, _, body = _fetch(port, "/topics/all/rss.xml", validators)
    assert status == 200 and b"<title>Changed</title>" in body


def test_gone_feeds_and_pages_answer_410(tmp_path: Path) -> None:
    """The include file the build writes, with the documented server block: a removed
    group's feeds and page answer 410 until they are produced again."""
    public = tmp_path / "public"
    content = tmp_path / "content"
    files = {"a.md": article(n=1, topics=["Kept"]), "b.md": article(n=2, topics=["Old"])}
    write_tree(content, files)
    options = BuildOptions(content=content, output=public, now=NOW)
    build(Config(), options)
    with _running_nginx(tmp_path) as port:  # starts before any file is gone: nothing listed
        assert _fetch(port, "/topics/old/rss.xml")[0] == 200
    (content / "b.md").unlink()
    result = build(Config(), options)
    assert result.report is not None and "topics/old/rss.xml" in result.report.gone
    include = (public / ".feeds-gone.nginx.conf").read_text()
    assert 'location = "/topics/old/rss.xml" { return 410; }' in include
    shutil.rmtree(tmp_path / "nginx")
    with _running_nginx(tmp_path) as port:
        for path in ("rss.xml", "atom.xml", "feed.json", "index.html", ""):
            assert _fetch(port, f"/topics/old/{path}")[0] == 410, path
        assert _fetch(port, "/topics/kept/rss.xml")[0] == 200
        assert _fetch(port, "/topics/kept/")[0] == 200  # the folder serves the group's page
        assert _fetch(port, "/topics/never/rss.xml")[0] == 404
        assert _fetch(port, "/.feeds-gone.nginx.conf")[0] == 404  # never served
    write_tree(content, files)  # back again: no longer gone
    result = build(Config(), options)
    assert result.report is not None and result.report.gone == ()
    assert "location" not in (public / ".feeds-gone.nginx.conf").read_text()
    shutil.rmtree(tmp_path / "nginx")
    with _running_nginx(tmp_path) as port:
        assert _fetch(port, "/topics/old/rss.xml")[0] == 200
