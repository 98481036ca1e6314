"""After a build: tell the WebSub hubs which feeds changed (the publisher's ping).

Every feed links to the configured ``hubs`` (``rel="hub"``) and to itself (``rel="self"``);
when a writing build has put its files in place, each hub gets one form-encoded POST per
feed file the build rewrote: ``hub.mode=publish`` and ``hub.url=<the feed's self URL>``
(and the same URL as ``hub.topic``, which some hubs read instead). The hub then fetches the
feed and pushes it to the feed's subscribers. Nothing is sent when nothing was rewritten.

A ping that fails (no connection, a timeout, an answer other than 2xx) is tried again a
few times with a growing pause; a hub that still fails is a warning, never a failed build:
the files stay as they are, and the feeds it was not told of are kept in a small record
(``.feeds-pinged.json`` in the output folder, beside the manifest) and sent with the next
run's. The same record keeps the feeds the last run rewrote (the last that rewrote any),
for ``feeds ping``, which sends them again once a deploy has copied the output to where
the hubs read it. The record also keeps how each failing hub failed, so that under
``--quiet`` the same failure is said once, not by every cron run.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from feeds.urls import join_url
from feeds.write import write_record

RECORD = ".feeds-pinged.json"
RECORD_VERSION = 1
FEED_FILES = ("rss.xml", "atom.xml", "feed.json")
"""The file names of the feed formats: the files whose rewriting hubs are told of."""
TIMEOUT = 5.0
"""Seconds one request may take (connecting, sending, answering)."""
ATTEMPTS = 3
"""Tries per feed and hub; between two, a pause of BACKOFF, then twice that, ..."""
BACKOFF = 0.5
HUB_SECONDS = 60.0
"""The most one hub may take in one run; feeds not sent by then wait for the next run."""
USER_AGENT = "feeds (WebSub publisher)"


def feed_urls(base_url: str, written: Iterable[str]) -> list[str]:
    """The self URLs of the subscription feeds among the output paths ``written`` (the
    site feed, and each topic's and provider's: ``topics/<slug>/rss.xml``), in order."""
    urls = []
    for path in written:
        parts = path.split("/")
        if parts[-1] in FEED_FILES and (
            len(parts) == 1 or (len(parts) == 3 and parts[0] in ("topics", "providers"))
        ):
            urls.append(join_url(base_url, *parts))
    return urls


@dataclass(frozen=True, slots=True)
class HubFailure:
    """A hub that was not told of every feed it should have been."""

    hub: str
    status: str
    """What went wrong: an HTTP status (``503 Service Unavailable``) or a connection
    error (``connection refused``)."""
    unsent: int
    sent: int

    def __str__(self) -> str:
        return (
            f"hub {self.hub}: {self.status}; {self.unsent} feed"
            f"{'' if self.unsent == 1 else 's'} not pinged (tried again on the next run, "
            "or by feeds ping)"
        )


@dataclass(frozen=True, slots=True)
class PingReport:
    sent: int
    """Pings the hubs accepted (one per feed and hub)."""
    failures: tuple[HubFailure, ...]
    new_failures: tuple[HubFailure, ...]
    """Of ``failures``, those whose hub did not fail the same way in the last run."""


@dataclass(slots=True)
class _Record:
    last: list[str] = field(default_factory=list)
    """The feed URLs rewritten by the last writing run that rewrote any."""
    pending: dict[str, list[str]] = field(default_factory=dict)
    """Per hub, the feed URLs it has not been told of yet."""
    failed: dict[str, str] = field(default_factory=dict)
    """Per hub, how it failed last time."""

    def to_bytes(self) -> bytes:
        doc = {
            "version": RECORD_VERSION,
            "last": self.last,
            "pending": {hub: urls for hub, urls in self.pending.items() if urls},
            "failed": self.failed,
        }
        return json.dumps(doc, indent=1, sort_keys=True).encode("utf-8")


def _read(output: Path) -> _Record:
    try:
        doc = json.loads((output / RECORD).read_bytes())
        if doc.get("version") != RECORD_VERSION:
            return _Record()
        return _Record(
            last=[str(u) for u in doc["last"]],
            pending={str(h): [str(u) for u in urls] for h, urls in doc["pending"].items()},
            failed={str(h): str(s) for h, s in doc["failed"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _Record()


def _save(output: Path, record: _Record) -> None:
    """Write the record unless it says that already (a run that changes nothing writes
    nothing); one that cannot be written is left as it was."""
    write_record(output / RECORD, record.to_bytes())


def after_build(
    output: Path, hubs: Sequence[str], rewritten: Sequence[str], *, send: bool = True
) -> PingReport:
    """Record the feed URLs a writing build ``rewrote`` and, with ``send``, ping the
    ``hubs`` with them (and with what earlier runs could not send)."""
    record = _read(output)
    if rewritten:  # a run that rewrote nothing leaves the last pings for feeds ping
        record.last = list(rewritten)
    for hub in hubs:
        record.pending[hub] = _merged(record.pending.get(hub, []), rewritten)
    return _deliver(output, hubs, record, send=send)


def ping_again(output: Path, hubs: Sequence[str]) -> PingReport:
    """``feeds ping``: send the last run's feeds again, and anything still pending."""
    record = _read(output)
    for hub in hubs:
        record.pending[hub] = _merged(record.pending.get(hub, []), record.last)
    return _deliver(output, hubs, record, send=True)


def _merged(first: Sequence[str], then: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*first, *then]))


def _deliver(output: Path, hubs: Sequence[str], record: _Record, *, send: bool) -> PingReport:
    record.pending = {hub: urls for hub, urls in record.pending.items() if hub in hubs}
    failures: list[HubFailure] = []
    new: list[HubFailure] = []
    sent = 0
    for hub in hubs if send else ():
        urls = record.pending.get(hub, [])
        if not urls:
            record.failed.pop(hub, None)
            continue
        accepted, status = _post(hub, urls, HUB_SECONDS)
        sent += accepted
        record.pending[hub] = urls[accepted:]
        if status:
            failure = HubFailure(hub, status, len(urls) - accepted, accepted)
            failures.append(failure)
            if record.failed.get(hub) != status:
                new.append(failure)
            record.failed[hub] = status
        else:
            record.failed.pop(hub, None)
    record.failed = {hub: s for hub, s in record.failed.items() if hub in hubs}
    _save(output, record)
    return PingReport(sent=sent, failures=tuple(failures), new_failures=tuple(new))


def _post(hub: str, urls: Sequence[str], budget: float) -> tuple[int, str]:
    """POST one ping per URL over one connection (reopened after a failure), each tried
    up to ATTEMPTS times, all within ``budget`` seconds; stop at the first URL that still
    fails. Returns how many were accepted, and the failure (``""``: none)."""
    parts = urlsplit(hub)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    deadline = time.monotonic() + budget
    connection: http.client.HTTPConnection | None = None
    accepted = 0
    try:
        for url in urls:
            status = ""
            for attempt in range(ATTEMPTS):
                if attempt:
                    pause = BACKOFF * 2 ** (attempt - 1)
                    if time.monotonic() + pause >= deadline:
                        break
                    time.sleep(pause)
                left = deadline - time.monotonic()
                if left <= 0:
                    status = status or f"out of time ({budget:g} s per hub and run)"
                    break
                if connection is None:
                    connection = _connect(parts.scheme, parts.netloc, min(TIMEOUT, left))
                status = _send(connection, target, url)
                if not status:
                    break
                connection.close()  # a failed exchange leaves the connection unusable
                connection = None
            if status:
                return accepted, status
            accepted += 1
    finally:
        if connection is not None:
            connection.close()
    return accepted, ""


def _connect(scheme: str, netloc: str, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(netloc, timeout=timeout)
    return http.client.HTTPConnection(netloc, timeout=timeout)


def _send(connection: http.client.HTTPConnection, target: str, url: str) -> str:
    """One ping; ``""`` when the hub accepted it (2xx), else what went wrong."""
    body = urlencode({"hub.mode": "publish", "hub.url": url, "hub.topic": url})
    headers: Mapping[str, str] = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
    }
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read()
        if response.will_close:
            connection.close()
    except TimeoutError:
        return "timed out"
    except ConnectionRefusedError:
        return "connection refused"
    except (OSError, http.client.HTTPException) as e:
        return f"connection failed: {e.strerror if isinstance(e, OSError) and e.strerror else e}"
    if 200 <= response.status < 300:
        return ""
    return f"{response.status} {response.reason}".strip()
