"""Documentation that must not drift from the code: options, config keys, the extension."""

from __future__ import annotations

import re
import shutil
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import REPO

from feeds.cli import _parser
from feeds.config import Config

README = (REPO / "README.md").read_text("utf-8")
EXTENSION = (REPO / "docs" / "extension.md").read_text("utf-8")


def test_every_command_and_option_is_in_the_readme() -> None:
    parser = _parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        assert f"feeds {name}" in README, name
        assert sub.description, f"{name} has no help"
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in README, (name, option)


def test_every_config_key_is_in_the_readme() -> None:
    for field in fields(Config):
        assert f"| `{field.name}` |" in README, field.name


def test_extension_doc_names_every_element_and_key_we_write() -> None:
    import feeds.formats.jsonfeed as jsonfeed
    import feeds.formats.xml as xml

    source = (REPO / "feeds" / "formats" / "xml.py").read_text()
    elements = set(re.findall(r'[<"]feeds:(\w+)', source))
    assert elements >= {"provider", "relatedItems", "related", "title", "image"}
    for element in elements:
        assert f"`feeds:{element}`" in EXTENSION, element
    json_source = (REPO / "feeds" / "formats" / "jsonfeed.py").read_text()
    for key in set(re.findall(r'(?:out|extension)\["(\w+)"\]', json_source)):
        assert f"`{key}`" in EXTENSION, key
    assert xml.EXTENSION_NS in EXTENSION and jsonfeed.EXTENSION_VERSION in EXTENSION


def test_the_readme_library_example_runs_on_the_bundled_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = README.split("## As a library", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    shutil.copytree(REPO / "content", tmp_path / "content")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].endswith("feeds") and "articles published in" in printed[-1]
    assert int(printed[-1].split()[0]) > 20
    assert (tmp_path / "public" / "feed.json").is_file()


def test_the_package_exports_the_library_api() -> None:
    import feeds

    for name in ("build", "BuildOptions", "BuildResult", "Config", "load_config"):
        assert hasattr(feeds, name), name
    assert issubclass(feeds.FeedsError, Exception) and feeds.Problem is not None
