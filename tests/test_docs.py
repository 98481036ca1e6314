"""Documentation that must not drift from the code: options, config keys, the extension."""

from __future__ import annotations

import re
from dataclasses import fields

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
