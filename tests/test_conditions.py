"""The reverse flow's ``source.where``, read as a SOQL condition: the tree, its fields, and the errors."""

from __future__ import annotations

import pytest

from engine.errors import ConditionError
from engine.language.conditions import Comparison, Junction, Negation, condition_fields, parse_condition


def test_a_comparison_with_null() -> None:
    tree = parse_condition("Email != null")
    assert isinstance(tree, Comparison) and (tree.field, tree.operator, tree.column) == ("Email", "!=", 1)
    assert [(v.kind, v.value) for v in tree.values] == [("null", "null")]
    other = parse_condition("  Email <> NULL")
    assert isinstance(other, Comparison) and other.operator == "!=" and other.column == 3


def test_and_binds_tighter_than_or_and_not_applies_to_one_comparison() -> None:
    tree = parse_condition("A = 1 OR B = 2 AND NOT C = 3")
    assert isinstance(tree, Junction) and tree.operator == "or"
    first, second = tree.parts
    assert isinstance(first, Comparison) and first.field == "A"
    assert isinstance(second, Junction) and second.operator == "and"
    assert isinstance(second.parts[1], Negation)


def test_lists_dates_patterns_and_relationships() -> None:
    tree = parse_condition(
        "LeadSource NOT IN ('Web', 'It\\'s') and CreatedDate > LAST_N_DAYS:30 "
        "AND Name like 'A%' AND Account.Industry = 'Tech' AND Birthdate < 2000-01-31 AND HasOptedOutOfEmail = FALSE"
    )
    assert condition_fields(tree) == [
        "LeadSource", "CreatedDate", "Name", "Account.Industry", "Birthdate", "HasOptedOutOfEmail",
    ]
    assert isinstance(tree, Junction)
    listed = tree.parts[0]
    assert isinstance(listed, Comparison) and listed.operator == "not in"
    assert [v.value for v in listed.values] == ["Web", "It's"]
    assert [c.values[0].kind for c in tree.parts[1:] if isinstance(c, Comparison)] == [
        "date_literal", "string", "string", "date", "boolean",
    ]


def test_parentheses_group() -> None:
    tree = parse_condition("(A = 1 OR B = 2) AND C != null")
    assert isinstance(tree, Junction) and tree.operator == "and"
    assert isinstance(tree.parts[0], Junction) and tree.parts[0].operator == "or"


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", 1, "the condition is empty"),
        ("Email !=", 9, "the condition ends too early"),
        ("Status = Active", 10, "a text needs quotes: 'Active'"),
        ("Email ~ 1", 7, "unexpected character '~'"),
        ("Id IN (SELECT Id FROM Contact)", 8, "subqueries are not supported"),
        ("(Email != null", 15, "expected ')' at the end"),
        ("Email != null Phone", 15, "expected AND, OR or the end of the condition, got 'Phone'"),
        ("Name LIKE 3", 11, "LIKE takes a quoted pattern"),
        ("AND = 1", 1, "expected a field name, got 'AND'"),
        ("Email NOT LIKE 'x'", 11, "expected IN after NOT, got 'LIKE'"),
    ],
)
def test_what_cannot_be_read_is_pointed_at(text: str, column: int, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert caught.value.column == column
    assert message in str(caught.value)
