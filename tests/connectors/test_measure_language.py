"""The measure language without an engine: what parses, what each expression's type is, and
errors that say where (line, column, caret) and what was meant."""

from __future__ import annotations

import pytest

from connectors.errors import InvalidQuery
from connectors.measures import (
    bind_measure,
    check_calculated_column,
    check_measure,
    parse_measure,
)
from connectors.measures.ast import Binary, Call, ColumnRef, NameRef, Number, Unary
from connectors.measures.ir import Calc, FilterMod, RemoveMod, ShiftMod, ToDateMod
from domain.dataset.schema import CalculatedColumn, DatasetSchema, Field, Measure

SCHEMA = DatasetSchema(
    fields=(
        Field(name="Sales Amount", column="amount", type="decimal", role="measure"),
        Field(name="Quantity", column="qty", type="integer", role="measure"),
        Field(name="Region", column="region", type="text", role="dimension"),
        Field(name="Order Date", column="order_date", type="date", role="dimension"),
        Field(name="Paid", column="paid", type="boolean", role="dimension"),
    ),
    calculated_columns=(
        CalculatedColumn(
            name="Unit Price",
            expression="DIVIDE([Sales Amount], [Quantity])",
            type="decimal",
            role="measure",
        ),
        CalculatedColumn(name="Loop A", expression="[Loop B] + 1", type="integer", role="measure"),
        CalculatedColumn(name="Loop B", expression="[Loop A] + 1", type="integer", role="measure"),
    ),
    measures=(
        Measure(name="Total", expression="SUM([Sales Amount])"),
        Measure(name="Ping", expression="[Pong] + 1"),
        Measure(name="Pong", expression="[Ping] * 2"),
        Measure(name="Broken", expression="SUM([Gone])"),
    ),
)


def error_of(text: str, *, column: bool = False) -> InvalidQuery:
    check = check_calculated_column if column else check_measure
    with pytest.raises(InvalidQuery) as caught:
        check(text, SCHEMA)
    return caught.value


def test_operators_follow_dax_precedence() -> None:
    tree = parse_measure('1 + 2 * 3 ^ 2 & "x" = "7x" || NOT [Paid] && TRUE')
    assert isinstance(tree, Binary)
    assert tree.op == "||"
    comparison = tree.left
    assert isinstance(comparison, Binary)
    assert comparison.op == "="
    assert isinstance(comparison.left, Binary)
    assert comparison.left.op == "&"
    negation = parse_measure("-2 ^ 2")
    assert isinstance(negation, Unary)
    assert isinstance(negation.operand, Binary)


def test_names_keywords_and_tables_are_case_insensitive() -> None:
    tree = parse_measure("calculate(sum('Sales'[Sales Amount]), all(Sales), not true)")
    assert isinstance(tree, Call)
    assert tree.name == "CALCULATE"
    inner = tree.args[0]
    assert isinstance(inner, Call)
    assert inner.args == (ColumnRef(name="Sales Amount", table="Sales", span=inner.args[0].span),)  # type: ignore[union-attr]
    assert isinstance(tree.args[1], Call)
    assert isinstance(tree.args[1].args[0], NameRef)


def test_brackets_and_quotes_escape_by_doubling() -> None:
    tree = parse_measure('[a]]b] & "say ""hi"""')
    assert isinstance(tree, Binary)
    assert isinstance(tree.left, ColumnRef)
    assert tree.left.name == "a]b"


def test_comments_are_ignored() -> None:
    tree = parse_measure("// total\nSUM([Quantity]) /* twice */ * 2 -- done")
    assert isinstance(tree, Binary)
    assert isinstance(tree.right, Number)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SUM([Sales Amount])", "decimal"),
        ("SUM([Quantity])", "integer"),
        ("SUM([Quantity]) * 2", "integer"),
        ("SUM([Quantity]) / 2", "decimal"),
        ("AVERAGE([Quantity])", "decimal"),
        ("COUNTROWS()", "integer"),
        ("DISTINCTCOUNT([Region])", "integer"),
        ("MAX([Order Date])", "date"),
        ("MIN([Paid])", "boolean"),
        ('IF([Total] > 10, "big", "small")', "text"),
        ("IF([Total] > 10, 1, 2.5)", "decimal"),
        ("IF([Total] > 10, 1)", "integer"),
        ("DIVIDE([Total], COUNTROWS())", "decimal"),
        ('SWITCH(MAX([Region]), "EU", 1, "US", 2, 0)', "integer"),
        ('CALCULATE([Total], [Region] = "EU", [Order Date] >= "2020-01-01")', "decimal"),
        ("TOTALYTD([Total], [Order Date])", "decimal"),
        ("CALCULATE([Total], DATEADD('Sales'[Order Date], -3, month))", "decimal"),
        ("SUMX(Sales, [Sales Amount] * [Quantity])", "decimal"),
        ("BLANK()", "decimal"),
        ("SUM([Unit Price])", "decimal"),
    ],
)
def test_measure_types(text: str, expected: str) -> None:
    assert check_measure(text, SCHEMA) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[Sales Amount] * 2", "decimal"),
        ("YEAR([Order Date])", "integer"),
        ('UPPER(LEFT([Region], 2)) & "-" & [Quantity]', "text"),
        ('LEN([Region]) + MID([Region], 1, 2) = "EU"', None),
        ('IF([Paid], "yes", "no")', "text"),
        ("ROUND([Unit Price], 2)", "decimal"),
        ("ABS([Quantity])", "integer"),
        ("[Order Date] < DATE(2020, 1, 31)", "boolean"),
    ],
)
def test_calculated_column_types(text: str, expected: str | None) -> None:
    if expected is None:
        error = error_of(text, column=True)
        assert "'+' needs numbers, got text" in error.detail
        return
    assert check_calculated_column(text, SCHEMA) == expected


def test_unknown_field_says_where_and_what_was_meant() -> None:
    error = error_of("SUM([Sales Amt])")
    assert error.detail.startswith(
        "unknown field [Sales Amt] at line 1, column 5; did you mean [Sales Amount]?"
    )
    assert (error.line, error.column) == (1, 5)
    assert error.detail.endswith("  SUM([Sales Amt])\n      ^^^^^^^^^^^")


def test_syntax_error_points_at_the_unexpected_token_on_its_line() -> None:
    error = error_of('CALCULATE(\n  SUM([Quantity]),\n  [Region] = = "EU")')
    assert (error.line, error.column) == (3, 14)
    assert "syntax error: unexpected '='" in error.detail
    assert error.code == "measure_syntax"
    assert error.detail.endswith('  [Region] = = "EU")\n               ^')


def test_an_unclosed_call_is_reported_at_the_end() -> None:
    error = error_of("SUM([Quantity]")
    assert "unexpected the end of the expression at line 1, column 15" in error.detail
    assert "expected ')' or ','" in error.detail


def test_unknown_function_suggests_the_nearest() -> None:
    assert "did you mean SUM" in error_of("SUMM([Quantity])").detail


def test_wrong_arity_names_the_function() -> None:
    error = error_of("DIVIDE([Total])")
    assert error.detail.startswith("DIVIDE takes 2 to 3 arguments, got 1 at line 1, column 1")


def test_type_mismatches_are_refused() -> None:
    assert "SUM cannot aggregate text values" in error_of("SUM([Region])").detail
    assert "cannot compare text with integer" in error_of("CALCULATE([Total], [Region] = 1)").detail
    assert "IF's results have different types" in error_of('IF([Total] > 1, "a", 1)').detail
    assert "not an ISO date" in error_of('CALCULATE([Total], [Order Date] > "soon")').detail
    assert "needs a date column" in error_of("TOTALYTD([Total], [Region])").detail


def test_a_bare_column_in_a_measure_must_be_aggregated() -> None:
    error = error_of("[Quantity] * 2")
    assert error.detail.startswith("column [Quantity] cannot be used on its own in a measure")
    assert "SUM([Quantity])" in error.detail


def test_aggregates_and_measures_are_refused_in_calculated_columns() -> None:
    assert (
        "SUM cannot be used in a calculated column"
        in error_of("SUM([Quantity])", column=True).detail
    )
    assert (
        "measure [Total] cannot be used in a calculated column"
        in error_of("[Total] + 1", column=True).detail
    )
    assert "CALCULATE can only be used in a measure" in error_of("CALCULATE(1)", column=True).detail


def test_nested_aggregates_are_refused() -> None:
    assert "SUM cannot be used in another aggregate" in error_of("MAX(SUM([Quantity]))").detail


def test_measure_cycles_are_detected() -> None:
    error = error_of("[Ping]")
    assert "circular reference: [Ping] → [Pong] → [Ping]" in error.detail
    assert (error.line, error.column) == (1, 1)
    with pytest.raises(InvalidQuery, match="circular reference"):
        check_measure("[Total] + 1", SCHEMA, name="Total")  # redefining Total as itself


def test_calculated_column_cycles_are_detected() -> None:
    assert "circular reference" in error_of("[Loop A] * 2", column=True).detail


def test_an_invalid_referenced_measure_is_reported_where_it_is_used() -> None:
    error = error_of("[Total] + [Broken]")
    assert error.detail.startswith("[Broken] is invalid: unknown field [Gone] at line 1, column 11")


def test_filter_functions_only_inside_calculate() -> None:
    assert "can only be used as a filter argument of CALCULATE" in error_of("ALL(Sales)").detail
    assert "FILTER is not supported" in error_of("CALCULATE([Total], FILTER(Sales, 1))").detail
    assert "must compare a column" in error_of("CALCULATE([Total], 1 = 1)").detail


def test_calculate_binds_its_modifiers_all_first() -> None:
    expr = bind_measure(
        'CALCULATE([Total], [Region] = "EU", ALL([Order Date]), SAMEPERIODLASTYEAR([Order Date]))',
        SCHEMA,
    )
    assert isinstance(expr, Calc)
    kinds = [type(mod) for mod in expr.mods]
    assert kinds == [RemoveMod, FilterMod, ShiftMod]
    ytd = bind_measure("TOTALYTD([Total], [Order Date])", SCHEMA)
    assert isinstance(ytd, Calc)
    assert isinstance(ytd.mods[0], ToDateMod)


def test_injection_text_in_a_measure_is_a_syntax_error() -> None:
    error = error_of("SUM([Quantity]); DROP TABLE t; --")
    assert "syntax error: unexpected ';'" in error.detail
    assert (error.line, error.column) == (1, 16)


def test_an_empty_or_huge_expression_is_refused() -> None:
    assert "empty" in error_of("   ").detail
    assert "at most" in error_of("1+" * 6000 + "1").detail
