"""A real browser (headless Chromium) on the preview server: what a person sees.

Loads the index page and stylesheet-rendered RSS and Atom feeds from ``feeds serve``
and checks the rendered DOM; screenshots go to ``test-artifacts/`` at the repository
root. Skips, saying why, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
from conftest import REPO, article, run_build, write_tree

from feeds.config import Config
from feeds.serve import Preview, PreviewOptions

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT = 90

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)",
)

TOPICS = ["AI", "Space", "Москва", "<script>alert(1)</script>"]


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    root = tmp_path_factory.mktemp("browser")
    files: dict[str, str | bytes] = {"feeds.yaml": "title: Browser News\nstylesheet: true\n"}
    for i, topic in enumerate(TOPICS, start=1):
        # Story 1's summary looks like markup: Atom carries it as escaped HTML.
        excerpt = "Bold ends with </b> & 1 < 2" if i == 1 else f"Summary <{i}> & more"
        files[f"content/{i}.md"] = article(
            n=i, title=f"Story {i} about {topic}", topics=[topic], excerpt=excerpt
        )
    write_tree(root, files)
    options = PreviewOptions(content=root / "content", config=root / "feeds.yaml", port=0)
    with Preview(options) as running:
        yield running


def chromium(tmp_path: Path, url: str, *action: str) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests may run as root (CI containers)
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *action,
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def render(tmp_path: Path, url: str, screenshot: str, width: int = 1280) -> lxml.html.HtmlElement:
    """The DOM Chromium builds for ``url``; also saves a screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    chromium(tmp_path, url, f"--screenshot={shot}", f"--window-size={width},2000")
    assert shot.is_file() and shot.stat().st_size > 10_000, "blank or missing screenshot"
    return lxml.html.fromstring(chromium(tmp_path, url, "--dump-dom"))


def test_index_page_shows_every_feed(preview: Preview, tmp_path: Path) -> None:
    doc = render(tmp_path, preview.url, "index.png")
    assert doc.findtext(".//h1") == "Browser News"
    names = [th.text_content() for th in doc.xpath('//*[@id="topics"]//tbody/tr/th')]
    assert sorted(names) == sorted(TOPICS)
    hrefs = {urljoin(preview.url, href) for href in doc.xpath("//a/@href")}  # relative links
    for path in ("rss.xml", "atom.xml", "feed.json", "feeds.opml", "topics/ai/rss.xml"):
        assert preview.url + path in hrefs
    assert preview.url + "providers/news.example.com/atom.xml" in hrefs
    assert doc.xpath("//body//script") == []  # the hostile topic stayed text


LONG = (
    "A very long headline about the quarterly results of an international consortium "
    "of renewable energy cooperatives that keeps going well past one line"
)
GROUP_STORIES = [
    # (title, provider, topics, has an image)
    (LONG, ("Example News", "news.example.com"), ["AI"], True),
    (
        "الذكاء الاصطناعي يغير طريقة عمل غرف الأخبار",
        ("أخبار اليوم", "akhbar.example.com"),
        ["AI"],
        True,
    ),
    (
        "בינה מלאכותית בחדר החדשות: מה השתנה השנה",
        ("חדשות", "hadashot.example.co.il"),
        ["AI"],
        False,
    ),
    ("人工知能が変える京都の伝統工芸と観光の未来", ("京都日報", "kyoto.example.jp"), ["AI"], False),
    ("Short one", ("أخبار اليوم", "akhbar.example.com"), ["AI"], False),
]


@pytest.fixture(scope="module")
def group_preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    root = tmp_path_factory.mktemp("groups")
    files: dict[str, str | bytes] = {"feeds.yaml": "title: Browser News\n"}
    for i, (title, (name, domain), topics, image) in enumerate(GROUP_STORIES, start=1):
        files[f"content/{i}.md"] = article(
            n=i,
            title=title,
            topics=topics,
            provider={"name": name, "domain": domain},
            excerpt=f"{title}. " * 3,
            related=[{"webUrl": f"https://other.example.org/{i}", "title": f"Related to {title}"}],
            **({} if image else {"images": None}),
        )
    write_tree(root, files)
    options = PreviewOptions(content=root / "content", config=root / "feeds.yaml", port=0)
    with Preview(options) as running:
        yield running


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
@pytest.mark.parametrize(
    ("path", "name", "count"),
    [("topics/ai/", "AI", 5), ("providers/akhbar.example.com/", "أخبار اليوم", 2)],
    ids=["topic", "provider"],
)
def test_group_page_reads_well(
    group_preview: Preview, tmp_path: Path, path: str, name: str, count: int, width: int
) -> None:
    kind = path.split("/")[0].rstrip("s")
    shot = f"{kind}-page-{'desktop' if width > 800 else 'phone'}.png"
    doc = render(tmp_path, group_preview.url + path, shot, width)
    assert doc.findtext(".//h1") == name
    assert len(doc.xpath("//article")) == count
    assert all(h.get("dir") == "auto" for h in doc.xpath("//article//h3"))
    hrefs = {urljoin(group_preview.url + path, href) for href in doc.xpath("//a/@href")}
    assert group_preview.url + path + "rss.xml" in hrefs
    assert group_preview.url + "index.html" in hrefs


@pytest.mark.parametrize(("path", "kind"), [("topics/ai/rss.xml", "RSS 2.0"), ("atom.xml", "Atom")])
def test_feed_is_styled_into_a_readable_page(
    preview: Preview, tmp_path: Path, path: str, kind: str
) -> None:
    doc = render(tmp_path, preview.url + path, f"feed-{kind.split()[0].lower()}.png")
    text = doc.text_content()
    assert f"Web feed · {kind}" in text
    assert "How to subscribe" in text
    assert doc.xpath("//code/text()") == [preview.url + path]
    links = {a.text_content(): a.get("href") for a in doc.xpath("//article//h3/a")}
    assert links["Story 1 about AI"] == "https://news.example.com/1"
    if path == "atom.xml":
        assert len(links) == len(TOPICS)
        assert "Summary <4> & more" in text
        assert "Bold ends with </b> & 1 < 2" in text  # shown once escaped, as written
        assert "&lt;" not in text and "&amp;" not in text
        assert doc.xpath("//article//b") == []
    assert doc.xpath("//body//script") == []


def test_json_feed_is_shown_as_text(preview: Preview, tmp_path: Path) -> None:
    """No stylesheet for JSON: the browser shows the document itself, not a download."""
    dom = chromium(tmp_path, preview.url + "feed.json", "--dump-dom")
    assert (
        '"version": "https://jsonfeed.org/version/1.1"' in lxml.html.fromstring(dom).text_content()
    )


NGINX = shutil.which("nginx") or (
    Path("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None
)
MIME_TYPES = Path("/etc/nginx/mime.types")


@pytest.mark.skipif(
    NGINX is None or not MIME_TYPES.is_file(),
    reason="nginx with /etc/nginx/mime.types is not installed (.ci/run installs it)",
)
def test_stock_nginx_serves_a_styled_feed(tmp_path: Path) -> None:
    """What README tells operators: nginx's stock types make browsers apply feed.xsl."""
    base = f"http://127.0.0.1:{_free_port()}/"
    config = Config(base_url=base, title="Nginx News", stylesheet=True)
    _, output = run_build(tmp_path, {"1.md": article(n=1, title="Served by nginx")}, config)
    port = base.rsplit(":", 1)[1].strip("/")
    conf = tmp_path / "nginx.conf"
    # Workers run as the invoking user (as root they would switch to nobody, who cannot
    # read pytest's private temporary folder).
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""daemon off;
{user}
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ }}
http {{
    include {MIME_TYPES};
    types {{ text/xsl xsl; }}
    access_log off;
    client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};
    fastcgi_temp_path {tmp_path}; uwsgi_temp_path {tmp_path}; scgi_temp_path {tmp_path};
    server {{ listen 127.0.0.1:{port}; root {output}; }}
}}
"""
    )
    server = subprocess.Popen([str(NGINX), "-c", str(conf), "-p", str(tmp_path)])
    try:
        assert _wait_for_port(int(port)), (tmp_path / "error.log").read_text()
        doc = render(tmp_path, base + "rss.xml", "feed-nginx.png")
        assert "How to subscribe" in doc.text_content()
        assert doc.xpath("//article//h3/a/@href") == ["https://news.example.com/1"]
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False
