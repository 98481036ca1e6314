"""Stage 5: atomic writes, unchanged files untouched, stale outputs removed, leftovers cleaned."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

import feeds.write as write_module
from feeds.errors import BuildError, DuplicateOutputError, FeedsError
from feeds.manifest import MANIFEST, PARTS, is_intact, part_of, read_old
from feeds.write import TMP_SUFFIX, WRITING, atomic_write, write_output


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _mtimes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()
    }


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(TMP_SUFFIX)]


SITE = {
    "index.html": b"<html></html>",
    "rss.xml": b"<rss/>",
    "topics/ai/rss.xml": b"<rss>ai</rss>",
    "providers/x.example/feed.json": b"{}",
}


def test_writes_every_file_and_a_manifest(tmp_path: Path) -> None:
    report = write_output(tmp_path / "out", SITE)
    out = tmp_path / "out"
    assert sorted(report.written) == sorted(SITE)
    assert report.unchanged == report.removed == ()
    assert {k: v for k, v in _files(out).items() if not k.startswith(".")} == SITE
    manifest = dict(read_old(out))
    assert set(manifest) == set(SITE)
    assert all(is_intact(out, rel, manifest[rel]) for rel in SITE)
    assert report.digests == {rel: e.sha256 for rel, e in manifest.items()}
    assert _temporaries(out) == []


def test_unchanged_files_are_not_touched_at_all(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    before = _mtimes(out)
    report = write_output(out, SITE)
    assert report.written == () and sorted(report.unchanged) == sorted(SITE)
    assert _mtimes(out) == before  # the manifest too: a run that changes nothing writes nothing


def test_only_changed_files_are_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    before = _mtimes(out)
    report = write_output(out, SITE | {"topics/ai/rss.xml": b"<rss>new</rss>"})
    assert report.written == ("topics/ai/rss.xml",)
    after = _mtimes(out)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == {"topics/ai/rss.xml", MANIFEST}
    assert (out / "topics/ai/rss.xml").read_bytes() == b"<rss>new</rss>"


def test_a_file_changed_behind_our_back_is_restored(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    (out / "rss.xml").write_bytes(b"<rss>")  # same manifest, different bytes
    report = write_output(out, SITE)
    assert report.written == ("rss.xml",)
    assert (out / "rss.xml").read_bytes() == SITE["rss.xml"]


def test_stale_outputs_are_removed_and_foreign_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    (out / "robots.txt").write_text("User-agent: *\n")
    (out / "CNAME").write_text("feeds.example.com\n")
    (out / "providers" / "x.example" / "notes.txt").write_text("mine")
    (out / "providers" / "y.example").mkdir()
    (out / "providers" / "y.example" / "feed.json").write_text("{} written by hand")
    site = {k: v for k, v in SITE.items() if not k.startswith(("topics/", "providers/"))}
    report = write_output(out, site)
    assert report.removed == ("providers/x.example/feed.json", "topics/ai/rss.xml")
    assert not (out / "topics").exists()  # emptied folders go too
    assert (out / "robots.txt").read_text() == "User-agent: *\n"
    assert (out / "CNAME").exists()
    assert (out / "providers" / "x.example" / "notes.txt").read_text() == "mine"
    assert (out / "providers" / "y.example" / "feed.json").exists()
    assert set(dict(read_old(out))) == set(site)


def test_without_a_manifest_nothing_is_removed_and_nothing_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    (out / MANIFEST).write_text("not json")
    before = _mtimes(out)
    report = write_output(out, {"index.html": SITE["index.html"]})
    assert report.removed == () and report.written == ()
    assert (out / "topics/ai/rss.xml").exists()
    assert _mtimes(out)["index.html"] == before["index.html"]


def test_kept_files_stay_without_being_rendered(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    before = _mtimes(out)
    rendered = {k: v for k, v in SITE.items() if "/" not in k}
    report = write_output(
        out, rendered, keep={"topics/ai/rss.xml", "providers/x.example/feed.json"}
    )
    assert report.removed == () and report.written == ()
    assert sorted(report.unchanged) == sorted(SITE)
    assert set(dict(read_old(out))) == set(SITE)
    assert _mtimes(out) == before


def test_leftover_temporaries_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    leftovers = [out / f".rss.xml.99999{TMP_SUFFIX}", out / "topics" / "ai" / f".x.1{TMP_SUFFIX}"]
    for path in leftovers:
        path.write_bytes(b"<rss")
    (out / WRITING).touch()  # the mark a run killed while it had temporary files leaves
    write_output(out, SITE)
    assert _temporaries(out) == []
    assert not (out / WRITING).exists()


def test_without_the_mark_only_the_output_folder_is_looked_through(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    top, below = out / f".manifest.1{TMP_SUFFIX}", out / "topics" / "ai" / f".x.1{TMP_SUFFIX}"
    top.write_bytes(b"{")
    below.write_bytes(b"<rss")
    write_output(out, SITE | {"rss.xml": b"<rss>changed</rss>"})
    assert _temporaries(out) == [below]  # no run that staged files there was killed
    assert not (out / WRITING).exists()


def test_a_file_created_by_a_killed_run_is_still_removed_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)
    import feeds.write

    def killed(*args: object) -> list[str]:
        raise KeyboardInterrupt  # stands for SIGKILL after the files, before the manifest

    monkeypatch.setattr(feeds.write, "_remove_stale", killed)
    with pytest.raises(KeyboardInterrupt):
        write_output(out, SITE | {"topics/new/rss.xml": b"<rss>new</rss>"})
    monkeypatch.undo()
    assert "topics/new/rss.xml" in dict(read_old(out))  # named before it was created
    report = write_output(out, SITE)
    assert report.removed == ("topics/new/rss.xml",)
    assert not (out / "topics" / "new").exists()


def test_a_full_disk_keeps_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_output(out, SITE)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full_fs(fd: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(write_module, "_syncfs", full_fs)
    with pytest.raises(BuildError, match="disk full"):
        write_output(out, SITE | {"rss.xml": b"<rss>changed</rss>"})
    monkeypatch.undo()
    assert (out / "rss.xml").read_bytes() == SITE["rss.xml"]
    assert _temporaries(out) == []


def test_atomic_write_replaces_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_text("old")
    inode = path.stat().st_ino
    atomic_write(path, b'{"new": true}')
    assert json.loads(path.read_bytes()) == {"new": True}
    assert path.stat().st_ino != inode  # a new file renamed over the old one, never rewritten
    assert _temporaries(tmp_path) == []
    leftover = tmp_path / f".feed.json.{os.getpid()}{TMP_SUFFIX}"
    leftover.write_text("from a dead process with our pid")
    atomic_write(path, b"{}")
    assert path.read_bytes() == b"{}" and not leftover.exists()


@pytest.mark.parametrize("rel", ["../escape.xml", "a/../../b.xml", "/abs.xml", "a//b.xml", ""])
def test_unsafe_paths_are_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(BuildError, match="unsafe"):
        write_output(tmp_path / "out", {rel: b"x"})


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "topics").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BuildError, match="outside"):
        write_output(out, {"topics/ai/rss.xml": b"x"})
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_without_syncfs_each_file_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(write_module, "_syncfs", None)
    monkeypatch.setattr(os, "fsync", counting)
    report = write_output(tmp_path / "out", SITE)
    assert len(synced) >= len(report.written)
    assert _temporaries(tmp_path / "out") == []


def test_a_path_given_twice_is_an_error_naming_it_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stream = iter([("topics/a/rss.xml", b"one"), ("topics/a/rss.xml", b"two")])
    with pytest.raises(DuplicateOutputError, match=r"^topics/a/rss\.xml: two outputs") as caught:
        write_output(out, stream, paths=["topics/a/rss.xml"])
    assert isinstance(caught.value, FeedsError) and caught.value.path == "topics/a/rss.xml"
    assert [p.name for p in out.rglob("*") if p.is_file()] == [".feeds-manifest.json"]


ARCHIVED = {
    "archive/2026-09/rss.xml": b"<rss>site september</rss>",
    "archive/2026-10/rss.xml": b"<rss>site october</rss>",
    "topics/ai/archive/2026-09/rss.xml": b"<rss>ai september</rss>",
    "topics/ai/archive/2026-09/2/rss.xml": b"<rss>ai september, page 2</rss>",
}


def test_archive_folders_are_recorded_in_parts_of_the_manifest(tmp_path: Path) -> None:
    """Each feed's archive folder has a part of its own, named by the sha256 of its bytes;
    the top file names the parts and lists only the other files."""
    out = tmp_path / "out"
    write_output(out, SITE | ARCHIVED)
    top = json.loads((out / MANIFEST).read_bytes())
    assert set(top["files"]) == set(SITE)
    assert set(top["parts"]) == {"archive/", "topics/ai/archive/"}
    for folder, ref in top["parts"].items():
        raw = (out / PARTS / f"{ref['sha256']}.json").read_bytes()
        assert hashlib.sha256(raw).hexdigest() == ref["sha256"]
        part = json.loads(raw)
        assert part["folder"] == folder and ref["files"] == len(part["files"])
        assert set(part["files"]) == {rel for rel in ARCHIVED if part_of(rel) == folder}
    assert dict(read_old(out)).keys() == (SITE | ARCHIVED).keys()
    assert len(os.listdir(out / PARTS)) == 2


def test_a_part_kept_whole_is_neither_read_nor_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE | ARCHIVED)
    ai = read_old(out).parts["topics/ai/archive/"]
    (out / PARTS / f"{ai.name}.json").write_bytes(b"not read")  # would not load
    before = _mtimes(out)
    changed = {"archive/2026-10/rss.xml": b"<rss>site october, edited</rss>"}
    site_archive = {rel: data for rel, data in ARCHIVED.items() if rel.startswith("archive/")}
    report = write_output(
        out, site_archive | changed, keep=list(SITE), keep_parts={"topics/ai/archive/"}
    )
    assert report.written == ("archive/2026-10/rss.xml",)
    after = _mtimes(out)
    assert after[f"{PARTS}/{ai.name}.json"] == before[f"{PARTS}/{ai.name}.json"]
    assert (out / PARTS / f"{ai.name}.json").read_bytes() == b"not read"
    assert read_old(out).parts["topics/ai/archive/"] == ai
    assert len(report.unchanged) == len(SITE) + len(ARCHIVED) - 1


def test_a_manifest_of_version_1_is_read_and_written_as_parts(tmp_path: Path) -> None:
    """An output written before parts existed: its archive files are still ours (a stale
    one is removed), and the next write records them in parts."""
    out = tmp_path / "out"
    write_output(out, SITE | ARCHIVED)
    every = dict(read_old(out))
    old = {
        "version": 1,
        "files": {
            rel: {"sha256": e.sha256, "size": e.size, "mtime_ns": e.mtime_ns}
            for rel, e in every.items()
        },
    }
    (out / MANIFEST).write_text(json.dumps(old, indent=0))
    for name in os.listdir(out / PARTS):
        os.unlink(out / PARTS / name)
    gone = "topics/ai/archive/2026-09/2/rss.xml"
    report = write_output(out, {rel: b for rel, b in (SITE | ARCHIVED).items() if rel != gone})
    assert report.removed == (gone,) and report.written == ()
    assert not (out / gone).exists()
    assert json.loads((out / MANIFEST).read_bytes())["version"] == 2
    assert dict(read_old(out)).keys() == (SITE | ARCHIVED).keys() - {gone}


def test_temporary_files_of_parts_are_cleaned_every_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_output(out, SITE | ARCHIVED)
    left = out / PARTS / f".x.json.1{TMP_SUFFIX}"
    left.write_bytes(b"partial")
    write_output(out, SITE | ARCHIVED)
    assert not left.exists()
