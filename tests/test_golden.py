"""Golden output: a small realistic site must build to exactly the files in tests/golden/.

After an intended change of output, regenerate with ``FEEDS_UPDATE_GOLDEN=1 pytest
tests/test_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import NOW
from conftest import published_files as tree

from feeds.build import BuildOptions, build
from feeds.config import load_config

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_golden_site(name: str, tmp_path: Path) -> None:
    site = GOLDEN / name
    config = load_config(site / "feeds.yaml")
    output = tmp_path / "public"
    result = build(config, BuildOptions(content=site / "content", output=output, now=NOW))
    assert result.errors == ()
    expected_dir = site / "expected"
    if os.environ.get("FEEDS_UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(output, expected_dir, ignore=shutil.ignore_patterns(".*"))
    got, expected = tree(output), tree(expected_dir)
    assert sorted(got) == sorted(expected)
    for path, data in expected.items():
        assert got[path].decode("utf-8") == data.decode("utf-8"), path


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    site = GOLDEN / "small"
    config = load_config(site / "feeds.yaml")
    first = tmp_path / "one"
    second = tmp_path / "two"
    build(config, BuildOptions(content=site / "content", output=first, now=NOW))
    # A later clock changes nothing: feed dates come from the items, not from now.
    later = NOW.replace(year=NOW.year + 1)
    build(config, BuildOptions(content=site / "content", output=second, now=later))
    assert tree(first) == tree(second)
