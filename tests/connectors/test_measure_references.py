"""Renaming rewrites the ``[references]`` of expressions and nothing else: the rewritten
measure, over the renamed dataset, compiles to exactly the SQL the original compiled to."""

from __future__ import annotations

import datetime as dt

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.measures.references import rename_references
from connectors.query import QuerySpec, compile_query
from domain.dataset.schema import DatasetSchema, Field, Measure


def test_references_are_renamed_in_any_case_and_qualified_ones_too() -> None:
    text = "SUM([amount]) + 'Sales'[Amount] * [AMOUNT] - SUM([amounts])"
    assert rename_references(text, {"amount"}, "Sales amount") == (
        "SUM([Sales amount]) + 'Sales'[Sales amount] * [Sales amount] - SUM([amounts])"
    )


def test_strings_comments_and_spacing_are_left_alone() -> None:
    text = 'CALCULATE( [Total] ,[region]="[amount]" ) // [amount]\n/* [amount] */  + [amount]'
    assert rename_references(text, {"amount"}, "Revenue") == (
        'CALCULATE( [Total] ,[region]="[amount]" ) // [amount]\n/* [amount] */  + [Revenue]'
    )


def test_a_closing_bracket_in_a_name_is_doubled() -> None:
    assert rename_references("[a]]b] + [c]", {"a]b"}, "x]y") == "[x]]y] + [c]"


def test_text_without_the_name_or_that_does_not_lex_is_returned_as_it_is() -> None:
    assert rename_references("SUM([qty])", {"amount"}, "Revenue") == "SUM([qty])"
    assert rename_references('SUM([amount]) & "unterminated', {"amount"}, "R") == (
        'SUM([amount]) & "unterminated'
    )


# -- the rewritten measure means the same -----------------------------------------------------

TODAY = dt.date(2024, 5, 17)
BEFORE = DatasetSchema(
    fields=(
        Field(name="amount", column="amount", type="decimal", role="measure"),
        Field(name="qty", column="qty", type="integer", role="measure"),
        Field(name="region", column="region", type="text", role="dimension"),
    )
)
AFTER = DatasetSchema(
    fields=(
        Field(name="Sales amount", column="amount", type="decimal", role="measure"),
        Field(name="qty", column="qty", type="integer", role="measure"),
        Field(name="region", column="region", type="text", role="dimension"),
    )
)

references = st.sampled_from(["[amount]", "[AMOUNT]", "'Sales'[amount]", "[qty]"])
aggregates = st.builds(
    lambda fn, ref: f"{fn}({ref})", st.sampled_from(["SUM", "MAX", "MIN", "AVERAGE"]), references
)
conditions = st.sampled_from(
    ['[region] = "[amount]"', '[region] <> "x"', "[amount] > 10", "[qty] IN {1, 2}"]
)
calculated = st.builds(lambda agg, cond: f"CALCULATE({agg}, {cond})", aggregates, conditions)
comments = st.sampled_from(["", " // [amount]", " /* [amount] */", " -- amount"])


@st.composite
def measures(draw: st.DrawFn) -> str:
    terms = draw(st.lists(st.one_of(aggregates, calculated), min_size=1, max_size=4))
    operators = draw(
        st.lists(
            st.sampled_from([" + ", " - ", " * "]), min_size=len(terms) - 1, max_size=len(terms) - 1
        )
    )
    text = terms[0]
    for operator, term in zip(operators, terms[1:], strict=True):
        text += operator + term
    return text + draw(comments)


def _sql(expression: str, schema: DatasetSchema) -> tuple[str, tuple[object, ...]]:
    with_measure = msgspec.structs.replace(
        schema, measures=(Measure(name="M", expression=expression),)
    )
    spec = msgspec.convert({"dimensions": [], "measures": [{"measure": "M"}]}, QuerySpec)
    query = compile_query(spec, with_measure, relation="t", dialect="duckdb", today=TODAY)
    return query.sql, query.params


@settings(max_examples=150, deadline=None)
@given(measures())
def test_a_rewritten_measure_compiles_to_the_sql_of_the_original(expression: str) -> None:
    rewritten = rename_references(expression, {"amount"}, "Sales amount")
    assert "[amount]" not in rewritten.casefold().split("//")[0].split("/*")[0].replace(
        '"[amount]"', ""
    )
    assert _sql(rewritten, AFTER) == _sql(expression, BEFORE)
