"""Stage: the archive layout of a run (``archives: monthly``).

Which archive documents this run plans, and which it leaves as they are: the last run's
layout updated where the changed articles' months say (:func:`feeds.archive_update.updated`),
when the output still holds every document of it as that run wrote them; else the whole
layout made again from every brief (:func:`feeds.archive.archived`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from feeds.archive import archived
from feeds.archive_update import document_place, layout_rows, updated
from feeds.cache import ArchiveRecord, Look, Output
from feeds.choosing import Chosen
from feeds.config import Config
from feeds.group import GroupKey, Selection
from feeds.manifest import Manifest, is_intact, part_of
from feeds.model import Site
from feeds.sources import Scan


@dataclass(frozen=True, slots=True)
class Layout:
    """The archive stage's result (``archives: monthly``)."""

    site: Site
    """With each feed's link to its newest archive, and the archive documents to plan."""
    kept: frozenset[str]
    """Archive documents' files left as they are, neither built nor fingerprinted."""
    kept_parts: frozenset[str]
    """Archive folders all of whose files are left so, not even read from the manifest
    (see :func:`feeds.write.write_output`)."""
    looked: Collection[str] | None
    """Besides the planned feeds' paths, those whose outputs rows the plan reads
    (``None``: every row)."""
    record: ArchiveRecord


def lay_out(
    config: Config,
    selection: Selection,
    look: Look,
    chosen: Chosen,
    found: Scan,
    output: Output | None,
    manifest: Manifest | None,
    extra: str,
) -> Layout:
    """The archive stage: the layout updated from the last one (only the months a change
    touches, see :func:`~feeds.archive_update.updated`) when the output holds every document of
    that layout as the last run wrote it, under the same settings; else made whole from
    every brief (:func:`~feeds.archive.archived`), every document planned."""
    site = chosen.site
    folders = {(feed.kind, feed.key): feed.group_folder for feed in site.feeds}
    head = None
    stored, moved = chosen.layout, chosen.moved
    if output is not None and stored is not None and moved is not None:
        head = stored.archive_head()
    # A feed's archive folder where something was added or removed by hand since it was
    # written has each of its files checked (see feeds.manifest.Manifest.disturbed); one
    # whose part of the manifest is gone or damaged makes the layout whole again.
    disturbed = [] if manifest is None else [f for f in manifest.parts if manifest.disturbed(f)]
    if (
        head is not None
        and output is not None
        and manifest is not None
        and stored is not None
        and moved is not None
        and head[:3] == (output.root, look.output_settings(extra), output.digest)
        and _same_folders(head.folders, folders)
        and all(manifest.part(folder) for folder in disturbed)
    ):
        before = head.folders
        by_folder = {folder: group for group, folder in (*before.items(), *folders.items())}
        # A file of a disturbed folder deleted or changed is built again with its month.
        broken: dict[GroupKey, set[str]] = {}
        root = Path(output.root)
        for folder in disturbed:
            for rel, entry in manifest.part(folder).items():
                if is_intact(root, rel, entry):
                    continue
                place = document_place(rel[: rel.rfind("/") + 1])
                group = None if place is None else by_folder.get(place[0])
                if place is not None and group is not None:
                    broken.setdefault(group, set()).add(place[1])
        index_of = found.index_of()
        update = updated(
            site,
            stored,
            moved,
            config.items_per_feed,
            selection,
            config.groupings,
            index_of,
            before,
            head.newest,
            broken,
        )
        # The archive folders a change touches are read from the manifest; the others are
        # kept whole, unread.
        replanned = update.replanned
        touched = {part_of(f"{folder}/") or "" for folder in replanned}.union(disturbed)
        kept: set[str] = set()
        looked: list[str] = list(manifest.files)
        for folder in touched & manifest.parts.keys():
            for rel in manifest.part(folder):
                if rel[: rel.rfind("/")] in replanned:
                    looked.append(rel)
                else:
                    kept.add(rel)
        keep_parts = frozenset(manifest.parts.keys() - touched)
        site = update.site
        record = ArchiveRecord(full=False, rows=update.rows, folders=folders, newest=_newest(site))
        return Layout(site, frozenset(kept), keep_parts, looked, record)
    assert chosen.every_brief is not None
    briefs = chosen.every_brief()
    site = archived(site, config, selection, briefs)
    rows = layout_rows(site.archives, briefs, found.rels)
    record = ArchiveRecord(full=True, rows=rows, folders=folders, newest=_newest(site))
    return Layout(site, frozenset(), frozenset(), None, record)


def _newest(site: Site) -> dict[GroupKey, str | None]:
    """Each group's newest archive document's folder: its feed's link."""
    return {
        (feed.kind, feed.key): feed.history.prev if feed.history is not None else None
        for feed in site.feeds
    }


def _same_folders(before: Mapping[GroupKey, str], now: Mapping[GroupKey, str]) -> bool:
    """Whether every group keeps its folder, and no new group takes a folder that was
    another's (the archive documents there are then someone else's)."""
    if any(before.get(group, folder) != folder for group, folder in now.items()):
        return False
    taken = set(before.values())
    return not any(folder in taken for group, folder in now.items() if group not in before)
