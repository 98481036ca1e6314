"""The removal guard: a writing run that would take away more than ``max_removed_share``
of the topic and provider feeds the last run published is refused, and nothing is written.

An empty or vanished content folder, or one whose files all fail to read, would
otherwise take every subscriber's feed away at once. ``feeds build --allow-removal``
(or a ``max_removed_share`` of 1) lets such a run through.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from feeds.manifest import read_old
from feeds.model import FeedKind, Site

GUARD_MINIMUM = 2
"""The removal guard applies when the last run published at least this many topic and
provider feeds (a site of one feed may lose it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """A writing run refused because it would remove too many feeds; nothing was written."""

    removed: tuple[str, ...]
    """The folders of the feeds it would have removed (``topics/ai``), sorted."""
    published: int
    """Topic and provider feeds the last run published (its manifest says so)."""
    share: float
    """The configured ``max_removed_share``."""

    def __str__(self) -> str:
        shown = ", ".join(self.removed[:3])
        more = len(self.removed) - 3
        if more > 0:
            shown += f", and {more} more"
        return (
            f"refusing to remove {len(self.removed)} of the {self.published} topic and "
            f"provider feeds published last time ({shown}): more than max_removed_share "
            f"({self.share:g}); nothing was changed"
        )


def removal_refused(
    output: Path, site: Site, share: float, manifest: Collection[str] | None = None
) -> Removal | None:
    """Whether writing ``site`` to ``output`` would remove more than ``share`` of the
    topic and provider feeds the last run published there (by the manifest it left:
    ``manifest``, the paths it records outside archive folders, when already read).

    An empty or vanished content folder, or one whose files all fail to read, would
    otherwise take every subscriber's feed away at once.
    """
    before = {
        "/".join(parts[:2])
        for rel in (read_old(output).files if manifest is None else manifest)
        if len(parts := rel.split("/")) == 3 and parts[0] in ("topics", "providers")
    }
    if len(before) < GUARD_MINIMUM:
        return None
    after = {feed.folder for feed in site.feeds if feed.kind is not FeedKind.SITE}
    gone = sorted(before - after)
    if len(gone) <= share * len(before):
        return None
    return Removal(removed=tuple(gone), published=len(before), share=share)
