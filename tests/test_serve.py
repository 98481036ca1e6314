"""``feeds serve``: media types, validators and 304s, traversal, rebuilds, the command."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import article, write_tree

import feeds.serve
from feeds.errors import ConfigError, FeedsError, UsageError
from feeds.serve import BuildOutcome, Preview, PreviewOptions

WAIT = 20.0
"""Longest wait for a rebuild, in seconds (the debounce is 0.1 s)."""


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def type(self) -> str:
        return self.headers.get("content-type", "")


def request(
    url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> Response:
    """One request with ``path`` sent exactly as written (no client normalisation)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def site(tmp_path: Path) -> Path:
    write_tree(
        tmp_path,
        {
            "content/a.md": article(n=1, topics=["AI"]),
            "content/b.md": article(n=2, topics=["Space"]),
            "feeds.yaml": "title: Preview\nstylesheet: true\nbase_url: https://example.com/x/\n",
            "secret.txt": "TOP-SECRET",
        },
    )
    return tmp_path


@pytest.fixture
def outcomes() -> list[BuildOutcome]:
    return []


@pytest.fixture
def preview(site: Path, outcomes: list[BuildOutcome]) -> Iterator[Preview]:
    options = PreviewOptions(
        content=site / "content", config=site / "feeds.yaml", output=site / "public", port=0
    )
    with Preview(options, on_build=outcomes.append, debounce_ms=100) as running:
        yield running


MEDIA_TYPES = {
    "/": "text/html; charset=utf-8",
    "/index.html": "text/html; charset=utf-8",
    "/rss.xml": "application/rss+xml",
    "/atom.xml": "application/atom+xml",
    "/feed.json": "application/feed+json",
    "/feeds.opml": "text/x-opml",
    "/feed.xsl": "text/xsl",
    "/topics/ai/rss.xml": "application/rss+xml",
    "/topics/ai/atom.xml": "application/atom+xml",
    "/topics/ai/feed.json": "application/feed+json",
    "/providers/news.example.com/feed.json": "application/feed+json",
}


@pytest.mark.parametrize(("path", "media_type"), MEDIA_TYPES.items())
def test_media_types(preview: Preview, path: str, media_type: str) -> None:
    response = request(preview.url, path, {"Accept": "application/rss+xml, */*;q=0.5"})
    assert response.status == 200
    assert response.type == media_type
    assert response.headers["content-length"] == str(len(response.body))
    head = request(preview.url, path, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.type == media_type
    assert head.headers["etag"] == response.headers["etag"]


def test_browsers_get_xml_feeds_as_application_xml(preview: Preview) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for path in ("/rss.xml", "/topics/ai/atom.xml"):
        response = request(preview.url, path, {"Accept": accept})
        assert response.type == "application/xml; charset=utf-8"
        assert response.headers["vary"] == "Accept"
    assert request(preview.url, "/feed.json", {"Accept": accept}).type == "application/feed+json"


def test_preview_links_stay_on_the_preview(preview: Preview) -> None:
    page = request(preview.url, "/").body.decode()
    assert preview.url + "rss.xml" in page  # autodiscovery: absolute
    assert 'href="topics/ai/rss.xml"' in page  # the page's own links: relative
    assert "example.com/x/" not in page
    assert preview.url.startswith("http://127.0.0.1:")


def test_validators_and_conditional_gets(preview: Preview) -> None:
    first = request(preview.url, "/rss.xml")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag)
    assert last_modified.endswith(" GMT")
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": last_modified},
        {"If-Modified-Since": formatdate(time.time() + 60, usegmt=True)},
    ):
        response = request(preview.url, "/rss.xml", headers)
        assert response.status == 304, headers
        assert response.body == b""
        assert response.headers["etag"] == etag
    for headers in (
        {"If-None-Match": '"other"'},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
        # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2).
        {"If-None-Match": '"other"', "If-Modified-Since": last_modified},
    ):
        response = request(preview.url, "/rss.xml", headers)
        assert response.status == 200, headers
        assert response.body == first.body


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/topics/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/topics/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/%00index.html",
        "/.feeds-manifest.json",
        "/.feeds.lock",
        "/topics/",
        "/nothing-here.xml",
        "/%ff",
    ],
)
def test_nothing_outside_the_output_is_served(preview: Preview, path: str) -> None:
    response = request(preview.url, path)
    assert response.status in (400, 403, 404), path
    assert b"TOP-SECRET" not in response.body


def test_symbolic_links_out_of_the_output_are_refused(preview: Preview, site: Path) -> None:
    os.symlink(site / "secret.txt", site / "public" / "leak.txt")
    response = request(preview.url, "/leak.txt")
    assert response.status == 404  # not a file the build published
    assert b"TOP-SECRET" not in response.body


def test_only_files_the_build_published_are_served(preview: Preview, site: Path) -> None:
    public = site / "public"
    (public / "manifest.json").symlink_to(".feeds-manifest.json")
    (public / "notes.txt").write_text("not ours")
    for path in ("/manifest.json", "/notes.txt"):
        assert request(preview.url, path).status == 404, path
    (public / "rss.xml").unlink()
    (public / "rss.xml").symlink_to(".feeds-manifest.json")  # a published name, relinked
    response = request(preview.url, "/rss.xml")
    assert response.status == 403
    assert b"sha256" not in response.body
    assert request(preview.url, "/atom.xml").status == 200


def test_rebuilds_when_content_changes(
    preview: Preview, site: Path, outcomes: list[BuildOutcome]
) -> None:
    assert request(preview.url, "/topics/new-topic/rss.xml").status == 404
    before = request(preview.url, "/").headers["etag"]
    write_tree(site, {"content/c.md": article(n=3, topics=["New Topic"])})
    # The index is written last, after the feeds it links to.
    assert wait_for(lambda: b"New Topic" in request(preview.url, "/").body)
    assert request(preview.url, "/topics/new-topic/rss.xml").status == 200
    assert request(preview.url, "/").headers["etag"] != before
    assert request(preview.url, "/", {"If-None-Match": before}).status == 200
    (site / "content/c.md").unlink()
    # Gone, not missing: readers stop asking; the page's folder too, and 200 once it is back.
    assert wait_for(lambda: request(preview.url, "/topics/new-topic/rss.xml").status == 410)
    assert request(preview.url, "/topics/new-topic/").status == 410
    assert request(preview.url, "/topics/new-topic/index.html").status == 410
    assert request(preview.url, "/topics/never-was/rss.xml").status == 404
    write_tree(site, {"content/c.md": article(n=3, topics=["New Topic"])})
    assert wait_for(lambda: request(preview.url, "/topics/new-topic/rss.xml").status == 200)
    assert request(preview.url, "/topics/new-topic/").status == 200
    (site / "content/c.md").unlink()
    assert wait_for(lambda: request(preview.url, "/topics/new-topic/rss.xml").status == 410)
    assert all(not isinstance(outcome, FeedsError) for outcome in outcomes)


def test_rebuilds_when_the_config_changes_and_survives_a_bad_one(
    preview: Preview, site: Path, outcomes: list[BuildOutcome]
) -> None:
    config = site / "feeds.yaml"
    config.write_text("title: Renamed\nstylesheet: true\n")
    assert wait_for(lambda: b"<title>Renamed</title>" in request(preview.url, "/").body)
    config.write_text("title: [oops\n")
    assert wait_for(lambda: isinstance(outcomes[-1], ConfigError))
    assert b"<title>Renamed</title>" in request(preview.url, "/").body


def test_rebuilds_when_a_template_is_added_or_broken(
    site: Path, outcomes: list[BuildOutcome]
) -> None:
    write_tree(site, {"feeds.yaml": "templates: templates\n", "templates/README": "overrides"})
    options = PreviewOptions(
        content=site / "content", config=site / "feeds.yaml", output=site / "public", port=0
    )
    with Preview(options, on_build=outcomes.append, debounce_ms=100) as preview:
        write_tree(site, {"templates/index.html": "<p>{{ topics|length }} topics</p>\n"})
        assert wait_for(lambda: request(preview.url, "/").body == b"<p>2 topics</p>\n")
        write_tree(site, {"templates/index.html": "<p>{{ nope }}</p>\n"})
        assert wait_for(lambda: isinstance(outcomes[-1], FeedsError))
        assert "index.html:1: template: 'nope' is undefined" in str(outcomes[-1])
        assert request(preview.url, "/").body == b"<p>2 topics</p>\n"


def test_rebuilds_when_a_template_in_a_symlinked_folder_changes(
    site: Path, outcomes: list[BuildOutcome]
) -> None:
    write_tree(
        site,
        {
            "feeds.yaml": "templates: templates\n",
            "templates/index.html": '{% include "parts/title.html" %}\n',
            "shared/title.html": "one",
        },
    )
    (site / "templates" / "parts").symlink_to(site / "shared")
    (site / "shared" / "loop").symlink_to(site / "shared")
    options = PreviewOptions(
        content=site / "content", config=site / "feeds.yaml", output=site / "public", port=0
    )
    with Preview(options, on_build=outcomes.append, debounce_ms=100) as preview:
        assert request(preview.url, "/").body == b"one"
        write_tree(site, {"shared/title.html": "two"})
        assert wait_for(lambda: request(preview.url, "/").body == b"two")


def test_content_problems_are_reported_and_the_rest_served(
    preview: Preview, site: Path, outcomes: list[BuildOutcome]
) -> None:
    write_tree(site, {"content/bad.md": "---\ntitle: [\n---\n"})
    assert wait_for(
        lambda: not isinstance(outcomes[-1], FeedsError) and bool(outcomes[-1].problems)
    )
    assert request(preview.url, "/rss.xml").status == 200


def test_an_unexpected_failure_is_reported_and_watching_goes_on(
    preview: Preview, site: Path, outcomes: list[BuildOutcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    import feeds.serve

    real_build = feeds.serve.build

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(feeds.serve, "build", broken)
    write_tree(site, {"content/c.md": article(n=3, topics=["Later"])})
    assert wait_for(lambda: "unexpected RuntimeError in the build: boom" in str(outcomes[-1]))
    monkeypatch.setattr(feeds.serve, "build", real_build)
    write_tree(site, {"content/c.md": article(n=3, topics=["Later"], title="Again")})
    assert wait_for(lambda: request(preview.url, "/topics/later/rss.xml").status == 200)


def test_temporary_output_is_removed_on_stop(site: Path) -> None:
    options = PreviewOptions(content=site / "content", config=None, port=0)
    preview = Preview(options)
    preview.start()
    try:
        output = preview.output
        assert (output / "index.html").is_file()
        assert request(preview.url, "/").status == 200
    finally:
        preview.stop()
    assert not output.exists()


def test_a_port_in_use_is_a_usage_error(preview: Preview, site: Path) -> None:
    port = urlsplit(preview.url).port
    assert port is not None
    options = PreviewOptions(content=site / "content", config=None, port=port)
    with pytest.raises(UsageError, match=r"cannot listen on 127\.0\.0\.1"):
        Preview(options).start()


def test_a_bad_config_stops_before_serving(site: Path) -> None:
    (site / "feeds.yaml").write_text("colour: blue\n")
    options = PreviewOptions(content=site / "content", config=site / "feeds.yaml", port=0)
    with pytest.raises(ConfigError, match="colour: unknown key"):
        Preview(options).start()


def test_command_serves_until_interrupted(site: Path) -> None:
    command = [sys.executable, "-m", "feeds", "serve", "--port", "0", "--content", "content"]
    process = subprocess.Popen(
        command, cwd=site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/) from (\S+);", lines[1])
        assert match, lines
        url, output = match.group(1), Path(match.group(2))
        assert lines[0].startswith("feeds serve: 2 articles published (held back: 0 drafts")
        response = request(url, "/feeds.opml")
        assert response.status == 200 and response.type == "text/x-opml"
        assert url.encode() + b"rss.xml" in response.body
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT) == 0
        assert not output.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_rejects_a_bad_port(site: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "serve", "--port", "99999"],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 2
    assert "port must be from 0 to 65535" in result.stderr


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)


def test_a_client_that_goes_away_or_says_nothing_is_dropped_quietly(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(feeds.serve._Handler, "timeout", 1.0)
    body = "\n\n".join(f"Paragraph {i} " + "words " * 100 for i in range(300))
    write_tree(site, {f"content/big{n}.md": article(n=n, body=body) for n in range(3, 40)})
    (site / "feeds.yaml").write_text("max_feed_bytes: 67108864\n")  # no cap below 64 MiB
    config = site / "feeds.yaml"
    options = PreviewOptions(content=site / "content", config=config, output=site / "out", port=0)
    with Preview(options) as preview:
        assert (site / "out" / "rss.xml").stat().st_size > 6_000_000  # more than socket buffers
        capsys.readouterr()
        # One client stops reading part-way and resets the connection.
        gone = _connect(preview.url)
        gone.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        assert gone.recv(1024).startswith(b"HTTP/1.1 200")
        gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.close()
        # Another connects and says nothing at all.
        idle = _connect(preview.url)
        # The next client is answered at once all the same.
        started = time.monotonic()
        assert request(preview.url, "/feeds.opml").status == 200
        assert time.monotonic() - started < 1.0
        # The silent one is dropped after the timeout: the server closes its connection.
        idle.settimeout(5)
        assert idle.recv(1024) == b""
        idle.close()
        assert wait_for(lambda: "client went away" in capsys.readouterr().err, timeout=5) or (
            pytest.fail("the dropped client was not reported")
        )
        assert request(preview.url, "/atom.xml").status == 200
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception" not in err, err


def test_command_honours_jobs_and_refuses_cache_options(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from feeds.cli import main

    monkeypatch.chdir(site)
    given: list[PreviewOptions] = []

    class Stub:
        def __init__(self, options: PreviewOptions, **_: object) -> None:
            given.append(options)

        def start(self) -> None:
            raise UsageError("stopped before serving")

        def stop(self) -> None:
            pass

    monkeypatch.setattr(feeds.serve, "Preview", Stub)
    err = io.StringIO()
    assert main(["serve", "--jobs", "3", "--port", "0"], out=io.StringIO(), err=err) == 2
    assert [options.jobs for options in given] == [3]
    for option in (["--cache", "c"], ["--no-cache"]):
        result = subprocess.run(
            [sys.executable, "-m", "feeds", "serve", *option],
            cwd=site,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert result.returncode == 2
        assert f"unrecognized arguments: {option[0]}" in result.stderr


def test_refresh_minutes_is_the_max_age(preview: Preview, site: Path) -> None:
    assert request(preview.url, "/rss.xml").headers["cache-control"] == "no-cache"
    (site / "feeds.yaml").write_text("title: Preview\nrefresh_minutes: 15\n")
    assert wait_for(lambda: b"<ttl>15</ttl>" in request(preview.url, "/rss.xml").body)
    for path in ("/rss.xml", "/feed.json", "/"):
        assert request(preview.url, path).headers["cache-control"] == "public, max-age=900"
