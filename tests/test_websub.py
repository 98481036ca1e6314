"""For aggregators: WebSub hub links and pings, refresh hints, and the size cap.

The end-to-end test runs a real WebSub hub (Flask-WebSub's) and a real subscriber (its
callback server) on loopback, with the feeds served by a real nginx, and checks that editing
one article delivers the new feed to the subscriber. Flask-WebSub's hub hands its work to a
Celery task queue; Celery itself is not installed (it pins ``python-dateutil==2.9.0.post0``,
which would replace the project's), so the hub is given :class:`EagerQueue`, which runs each
task at once in the calling thread, as Celery's eager mode does.
"""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
from conftest import NOW, article, write_tree
from test_nginx import NGINX, _running_nginx

import feeds.websub
from feeds.build import BuildOptions, build
from feeds.cli import main
from feeds.config import Config, load_config
from feeds.errors import ConfigError
from feeds.formats.common import update_period

SY = "{http://purl.org/rss/1.0/modules/syndication/}"
ATOM = "{http://www.w3.org/2005/Atom}"


# -- configuration --------------------------------------------------------------------------


def test_hubs_refresh_and_cap_are_validated_with_their_lines(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "title: x\nhubs: [https://Hub.Example.org/websub, 'ftp://nope/']\n"
        "refresh_minutes: 0\nmax_feed_bytes: 10\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(config)
    lines = str(e.value).splitlines()
    assert any(": 2: hubs: not an absolute http(s) URL: 'ftp://nope/'" in line for line in lines)
    assert any(": 3: refresh_minutes: must be a whole number" in line for line in lines)
    assert any(": 4: max_feed_bytes: must be a whole number" in line for line in lines)
    config.write_text("hubs: [https://Hub.Example.org/websub]\nrefresh_minutes: 30\n")
    loaded = load_config(config)
    assert loaded.hubs == ("https://hub.example.org/websub",)
    assert (loaded.refresh_minutes, loaded.max_feed_bytes) == (30, 1_048_576)
    assert Config().hubs == () and Config().refresh_minutes is None
    for bad in ("hubs: https://hub.example.org/\n", "hubs: ['https://a/', 'https://a/']\n"):
        config.write_text(bad)
        with pytest.raises(ConfigError, match="hubs: "):
            load_config(config)


# -- what the feeds say -----------------------------------------------------------------------

HUBS = ("https://hub.example.org/", "https://push.example.net/hub?site=1&x=2")
BASE = "https://feeds.example.com/"


def _site(tmp_path: Path, config: Config, n: int = 3) -> Path:
    content = write_tree(tmp_path / "content", {f"{i}.md": article(n=i) for i in range(n)})
    result = build(config, BuildOptions(content=content, output=tmp_path / "public", now=NOW))
    assert result.errors == ()
    return tmp_path / "public"


def test_every_feed_links_its_hubs_and_itself(tmp_path: Path) -> None:
    public = _site(tmp_path, Config(base_url=BASE, hubs=HUBS))
    for folder in ("", "topics/ai/", "providers/news.example.com/"):
        for name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse((public / folder / name).read_bytes())
            assert not parsed.bozo, parsed.bozo_exception
            links = [(link.rel, link.href) for link in parsed.feed.links]
            assert ("self", BASE + folder + name) in links
            assert [href for rel, href in links if rel == "hub"] == list(HUBS)
        doc = json.loads((public / folder / "feed.json").read_bytes())
        assert doc["feed_url"] == BASE + folder + "feed.json"
        assert doc["hubs"] == [{"type": "WebSub", "url": hub} for hub in HUBS]
    rss = ET.parse(public / "rss.xml").getroot()[0]
    hub_links = [e.get("href") for e in rss.findall(f"{ATOM}link") if e.get("rel") == "hub"]
    assert hub_links == list(HUBS)  # feedgen would have dropped them


def test_no_hubs_no_refresh_writes_no_trace(tmp_path: Path) -> None:
    public = _site(tmp_path, Config(base_url=BASE))
    rss = (public / "rss.xml").read_text()
    assert 'rel="hub"' not in rss and "<ttl>" not in rss and "sy:" not in rss
    assert '"hubs"' not in (public / "feed.json").read_text()
    assert 'rel="hub"' not in (public / "atom.xml").read_text()


def test_refresh_minutes_is_ttl_and_syndication_period(tmp_path: Path) -> None:
    public = _site(tmp_path, Config(base_url=BASE, refresh_minutes=20))
    channel = ET.parse(public / "topics/ai/rss.xml").getroot()[0]
    assert channel.findtext("ttl") == "20"
    assert channel.findtext(f"{SY}updatePeriod") == "hourly"
    assert channel.findtext(f"{SY}updateFrequency") == "3"
    parsed = feedparser.parse((public / "topics/ai/rss.xml").read_bytes())
    assert not parsed.bozo and parsed.feed.ttl == "20" and len(parsed.entries) == 3
    cases = {1: ("hourly", 60), 45: ("hourly", 1), 60: ("hourly", 1), 90: ("daily", 16)}
    cases |= {1440: ("daily", 1), 2880: ("weekly", 3), 20_000: ("monthly", 2)}
    cases |= {100_000: ("yearly", 5), 525_600: ("yearly", 1)}
    for minutes, expected in cases.items():
        assert update_period(minutes) == expected, minutes


# -- the size cap -----------------------------------------------------------------------------


def test_a_feed_over_the_cap_loses_its_oldest_items_and_still_parses(tmp_path: Path) -> None:
    body = "\n\n".join(f"Paragraph {i} " + "words " * 60 for i in range(12))
    files = {f"{i}.md": article(n=i, body=body) for i in range(30)}
    content = write_tree(tmp_path / "content", files)
    cap = 40_000
    config = Config(base_url=BASE, max_feed_bytes=cap, groupings=("topics",))
    options = BuildOptions(content=content, output=tmp_path / "public", now=NOW, cache=None)
    result = build(config, options)
    capped = {p.path: p for p in result.problems if p.field == "max_feed_bytes"}
    names = ("rss.xml", "atom.xml", "feed.json")
    assert set(capped) == {f"{folder}{n}" for folder in ("", "topics/ai/") for n in names}
    assert all(str(p).startswith(f"{p.path}: warning: max_feed_bytes: ") for p in capped.values())
    from reader import make_reader

    reader = make_reader(str(tmp_path / "db.sqlite"), feed_root=str(tmp_path / "public"))
    for name in names:
        data = (tmp_path / "public" / name).read_bytes()
        assert len(data) <= cap
        reader.add_feed(name)
        if name == "feed.json":
            kept = len(json.loads(data)["items"])
        else:
            parsed = feedparser.parse(data)
            assert not parsed.bozo, parsed.bozo_exception
            kept = len(parsed.entries)
        assert 0 < kept < 30
        assert f"{30 - kept} oldest of 30 items left out" in capped[name].message
        assert capped[name].message.endswith(" bytes"), "no archives: the items are gone"
    reader.update_feeds()
    for name in names:
        entries = list(reader.get_entries(feed=name))
        assert 0 < len(entries) < 30
    reader.close()
    # One more item would not have fitted.
    everything = build(
        Config(base_url=BASE, groupings=("topics",)),
        BuildOptions(content=content, output=tmp_path / "whole", now=NOW),
    )
    assert not [p for p in everything.problems if p.field == "max_feed_bytes"]
    whole = feedparser.parse((tmp_path / "whole" / "atom.xml").read_bytes())
    capped_atom = feedparser.parse((tmp_path / "public" / "atom.xml").read_bytes())
    kept = len(capped_atom.entries)
    assert [e.id for e in whole.entries[:kept]] == [e.id for e in capped_atom.entries]


def test_a_capped_feed_is_the_same_incremental_and_cold(tmp_path: Path) -> None:
    body = "\n\n".join(f"Paragraph {i} " + "words " * 60 for i in range(12))
    content = write_tree(
        tmp_path / "content", {f"{i}.md": article(n=i, body=body) for i in range(20)}
    )
    config = Config(base_url=BASE, max_feed_bytes=30_000, groupings=("topics",))

    def run(output: str, cache: Path | None) -> None:
        options = BuildOptions(content=content, output=tmp_path / output, now=NOW, cache=cache)
        assert build(config, options).errors == ()

    run("public", tmp_path / "cache")
    (content / "3.md").write_text(article(n=3, title="Edited, and much longer " * 20, body=body))
    (content / "25.md").write_text(article(n=25, body=body))
    run("public", tmp_path / "cache")
    run("cold", None)
    for name in ("rss.xml", "atom.xml", "feed.json", "topics/ai/rss.xml", "topics/ai/feed.json"):
        assert (tmp_path / "public" / name).read_bytes() == (tmp_path / "cold" / name).read_bytes()
        assert len((tmp_path / "cold" / name).read_bytes()) <= 30_000


# -- pinging ----------------------------------------------------------------------------------


class _Hub(http.server.BaseHTTPRequestHandler):
    """A loopback stand-in for a hub that is down or failing: answers every POST with
    the server's ``status``, and records what it was sent."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        server: Any = self.server
        server.received.append((self.headers.get("Content-Type"), form))
        self.send_response(server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _stub_hub(status: int) -> Iterator[Any]:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.status, server.received = status, []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hub"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    common = ["--config", str(tmp_path / "feeds.yaml"), "--output", str(tmp_path / "public")]
    if args[0] == "build":
        common += ["--content", str(tmp_path / "content"), "--cache", str(tmp_path / "cache")]
    code = main([*args, *common], now=NOW, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_failing_hub_is_a_warning_said_once_and_its_pings_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds.websub, "BACKOFF", 0.01)
    write_tree(tmp_path / "content", {f"{i}.md": article(n=i) for i in range(3)})
    down = f"http://127.0.0.1:{_closed_port()}/hub"
    (tmp_path / "feeds.yaml").write_text(f"base_url: {BASE}\nhubs: ['{down}']\n")
    code, out, err = _cli(tmp_path, "build", "--quiet")
    assert code == 0 and out == ""
    assert err == (
        f"feeds: warning: hub {down}: connection refused; 9 feeds not pinged "
        "(tried again on the next run, or by feeds ping)\n"
    )
    assert (tmp_path / "public" / "rss.xml").is_file()  # the build stands
    assert _cli(tmp_path, "build", "--quiet") == (0, "", "")  # said once
    assert "connection refused" in _cli(tmp_path, "build")[2]  # but said without --quiet
    with _stub_hub(503) as hub:
        (tmp_path / "feeds.yaml").write_text(f"base_url: {BASE}\nhubs: ['{hub.url}']\n")
        code, out, err = _cli(tmp_path, "build", "--quiet")
        assert code == 0
        assert err.startswith(f"feeds: warning: hub {hub.url}: 503 Service Unavailable; ")
        assert len(hub.received) == feeds.websub.ATTEMPTS  # the first feed, tried 3 times
        assert _cli(tmp_path, "build", "--quiet")[2] == ""  # the same failure: not again
        hub.status = 202
        hub.received.clear()
        code, out, err = _cli(tmp_path, "build", "--quiet")
        assert (code, out, err) == (0, "", "")
        # Nothing changed in this run: what is pinged is what the failed runs could not send.
        urls = [form["hub.url"][0] for _, form in hub.received]
        assert len(urls) == 9 and len(set(urls)) == 9
        assert {u.removeprefix(BASE) for u in urls} >= {"rss.xml", "topics/ai/feed.json"}
        for content_type, form in hub.received:
            assert content_type == "application/x-www-form-urlencoded"
            assert form["hub.mode"] == ["publish"] and form["hub.topic"] == form["hub.url"]
        hub.received.clear()
        assert _cli(tmp_path, "build", "--quiet") == (0, "", "")
        assert hub.received == []  # nothing changed, nothing pending: no ping
        code, out, err = _cli(tmp_path, "ping")
        assert code == 0 and "pinged 9 feeds" in out  # feeds ping: the last run that wrote
        assert len(hub.received) == 9


def test_no_ping_keeps_the_pings_for_feeds_ping(tmp_path: Path) -> None:
    write_tree(tmp_path / "content", {f"{i}.md": article(n=i) for i in range(2)})
    with _stub_hub(204) as hub:
        (tmp_path / "feeds.yaml").write_text(f"base_url: {BASE}\nhubs: ['{hub.url}']\n")
        assert _cli(tmp_path, "build", "--no-ping", "--quiet") == (0, "", "")
        assert hub.received == []
        (tmp_path / "content" / "0.md").write_text(article(n=0, title="Edited"))
        assert _cli(tmp_path, "build", "--no-ping", "--quiet") == (0, "", "")
        assert hub.received == []
        code, out, err = _cli(tmp_path, "ping", "--log-format", "json")
        assert code == 0 and err == ""
        assert json.loads(out) == {
            "level": "info",
            "message": "feeds: pinged 9 feeds at the WebSub hubs",
            "event": "pinged",
            "sent": 9,
        }
    (tmp_path / "feeds.yaml").write_text(f"base_url: {BASE}\n")
    code, out, err = _cli(tmp_path, "ping")
    assert code == 2 and "no hubs" in err


# -- end to end: a real hub, a real subscriber, nginx -----------------------------------------


class EagerQueue:
    """What Flask-WebSub's hub needs of a Celery app, running each task at once in the
    calling thread (Celery's ``task_always_eager``); a task's ``retry`` runs it again, up
    to its ``max_retries``, without waiting out the countdown."""

    class Retry(Exception):
        pass

    class Task:
        def __init__(self, run: Callable[..., Any], bind: bool, max_retries: int) -> None:
            self.run, self.bind, self.max_retries = run, bind, max_retries
            self.request = type("Request", (), {"retries": 0})()

        def retry(self, countdown: float = 0) -> None:
            raise EagerQueue.Retry

        def delay(self, *args: Any) -> None:
            for attempt in range(self.max_retries + 1):
                self.request.retries = attempt
                try:
                    self.run(*((self, *args) if self.bind else args))
                    return
                except EagerQueue.Retry:
                    continue

    def task(self, **opts: Any) -> Callable[[Callable[..., Any]], EagerQueue.Task]:
        def register(run: Callable[..., Any]) -> EagerQueue.Task:
            return EagerQueue.Task(run, opts.get("bind", False), opts.get("max_retries", 3))

        return register


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SERVER_NAME"] = f"127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_editing_an_article_pushes_the_new_feed_to_a_subscriber(tmp_path: Path) -> None:
    pytest.importorskip("flask_websub")
    from flask import Flask, request
    from flask_websub.hub import Hub, SQLite3HubStorage
    from flask_websub.subscriber import (
        SQLite3SubscriberStorage,
        SQLite3TempSubscriberStorage,
        Subscriber,
        discover,
    )

    hub_app = Flask("hub")
    hub_app.config["PUBLISH_SUPPORTED"] = True
    hub = Hub(SQLite3HubStorage(str(tmp_path / "hub.db")), EagerQueue(), REQUEST_TIMEOUT=5)
    hub_app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    pinged: list[str] = []

    @hub_app.before_request
    def record() -> None:  # what the publisher told the hub, seen as the hub saw it
        if request.form.get("hub.mode") == "publish":
            pinged.append(request.form["hub.url"])

    subscriber_app = Flask("subscriber")
    subscriber = Subscriber(
        SQLite3SubscriberStorage(str(tmp_path / "subscriber.db")),
        SQLite3TempSubscriberStorage(str(tmp_path / "subscriber.db")),
    )
    subscriber_app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
    delivered: list[tuple[str, bytes]] = []
    subscriber.add_listener(lambda topic, callback_id, body: delivered.append((topic, body)))

    (tmp_path / "public").mkdir()
    with _serving(hub_app) as hub_root, _serving(subscriber_app):
        hub_url = f"{hub_root}/hub"
        # Flask-WebSub's hub passes the feed on with the headers nginx sent it, a gzip
        # answer's Content-Encoding and Transfer-Encoding among them, but with the body
        # decoded: its subscriber then fails on the missing length. So no gzip for it.
        link = (
            f'    add_header Link "<http://127.0.0.1:{{port}}$request_uri>; rel=\\"self\\", '
            f'<{hub_url}>; rel=\\"hub\\"" always;\n    gzip_disable python-requests;'
        )
        with _running_nginx(tmp_path, link) as port:
            base = f"http://127.0.0.1:{port}/"
            files = {f"{i}.md": article(n=i, topics=["Space"]) for i in range(3)}
            files["other.md"] = article(n=9, topics=["Food"])
            write_tree(tmp_path / "content", files)
            (tmp_path / "feeds.yaml").write_text(f"base_url: '{base}'\nhubs: ['{hub_url}']\n")
            assert _cli(tmp_path, "build", "--quiet") == (0, "", "")
            assert len(pinged) == 12  # site, two topics, one provider: 3 formats each

            topic = base + "topics/space/atom.xml"
            found = discover(topic)
            assert found == {"hub_url": hub_url, "topic_url": topic}
            with subscriber_app.app_context():
                subscriber.subscribe(**found)
            assert subscriber.storage  # the hub verified the subscriber's intent

            pinged.clear()
            (tmp_path / "content" / "1.md").write_text(
                article(n=1, topics=["Space"], title="Edited: the new title")
            )
            code, out, err = _cli(tmp_path, "build")
            assert code == 0 and err == "" and "pinged 9 feeds" in out
            # Exactly the feeds rewritten: the site's, Space's and the provider's, not Food's.
            assert sorted(u.removeprefix(base) for u in pinged) == sorted(
                f"{folder}{name}"
                for folder in ("", "topics/space/", "providers/news.example.com/")
                for name in ("rss.xml", "atom.xml", "feed.json")
            )
            assert len(delivered) == 1  # one subscription, to Space's Atom feed
            delivered_topic, body = delivered[0]
            assert delivered_topic == topic
            assert body == (tmp_path / "public" / "topics/space/atom.xml").read_bytes()
            titles = [entry.title for entry in feedparser.parse(body).entries]
            assert "Edited: the new title" in titles and len(titles) == 3

            pinged.clear()
            assert _cli(tmp_path, "build", "--quiet") == (0, "", "")
            assert pinged == [] and len(delivered) == 1  # nothing changed, nothing sent


def test_changing_hubs_or_refresh_renders_the_feeds_again(tmp_path: Path) -> None:
    content = write_tree(tmp_path / "content", {f"{i}.md": article(n=i) for i in range(2)})

    def run(config: Config) -> str:
        options = BuildOptions(
            content=content, output=tmp_path / "public", now=NOW, cache=tmp_path / "cache"
        )
        assert build(config, options).errors == ()
        return (tmp_path / "public" / "topics/ai/rss.xml").read_text()

    assert "<ttl>" not in run(Config(base_url=BASE))
    assert "<ttl>30</ttl>" in run(Config(base_url=BASE, refresh_minutes=30))
    assert 'rel="hub"' in run(Config(base_url=BASE, refresh_minutes=30, hubs=HUBS[:1]))
    assert 'rel="hub"' not in run(Config(base_url=BASE, refresh_minutes=30))
