"""Values PyYAML's constructors cannot build are reported with their line, not raised."""

from __future__ import annotations

import pytest

from feeds.frontmatter import YamlProblem, load_yaml


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("title: x\npublishedDateTime: 2021-02-30T00:00:00Z\n", 2, "day is out of range"),
        ("a: 1\nb:\n  - 2021-13-01\n", 3, "month must be in 1..12"),
        ("n: " + "1" * 5000 + "\n", 1, "bad value"),
    ],
)
def test_impossible_values_are_problems(text: str, line: int, words: str) -> None:
    with pytest.raises(YamlProblem) as caught:
        load_yaml(text)
    assert caught.value.line == line
    assert words in caught.value.message
