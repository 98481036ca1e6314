"""Values PyYAML's constructors cannot build: reported with their line, never raised."""

from __future__ import annotations

import pytest

from feeds.frontmatter import YamlProblem, load_yaml


def test_a_huge_number_is_a_problem_with_its_line() -> None:
    with pytest.raises(YamlProblem) as caught:
        load_yaml("a: 1\nn: " + "1" * 5000 + "\n")
    assert caught.value.line == 2
    assert "bad value" in caught.value.message


@pytest.mark.parametrize("value", ["2021-02-30T00:00:00Z", "2021-13-01"])
def test_an_impossible_timestamp_stays_text_for_the_field_to_report(value: str) -> None:
    # The field's own check then names the field: "publishedDateTime: not a date: ...".
    doc = load_yaml(f"title: x\npublishedDateTime: {value}\n")
    assert doc.data["publishedDateTime"] == value
    assert doc.line_of(doc.data, "publishedDateTime") == 2


@pytest.mark.parametrize("value", ["soon", "2021-09-20 10:00:00-04:56:02", "''"])
def test_a_timestamp_tag_on_text_that_is_no_timestamp_stays_text(value: str) -> None:
    # PyYAML's own constructor fails on these with AttributeError (a traceback).
    doc = load_yaml(f"title: x\npublishedDateTime: !!timestamp {value}\n")
    assert doc.data["publishedDateTime"] == ("" if value == "''" else value)
