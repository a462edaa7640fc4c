"""Number formats: Power BI's settings → d3-format and Vega expressions, and the Python
formatter that must write exactly what those expressions write in vl-convert."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import vl_convert as vlc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from charts.formats import (
    MINUS,
    NumberFormat,
    d3_spec,
    format_number,
    js_number,
    number_format,
    parse_format_string,
    vega_expression,
)


@pytest.mark.parametrize(
    ("value", "fmt", "integer", "text"),
    [
        (1234.5, NumberFormat(), False, "1,234.5"),
        (1234, NumberFormat(), True, "1,234"),
        (0.125, NumberFormat(decimals=2), False, "0.13"),
        (2.5, NumberFormat(decimals=0), False, "3"),
        (-2.5, NumberFormat(decimals=0), False, f"{MINUS}3"),
        (-0.001, NumberFormat(decimals=2), False, "0.00"),
        (1234567, NumberFormat(thousands=False), True, "1234567"),
        (0.1234, NumberFormat(style="percent"), False, "12.3%"),
        (0.5, NumberFormat(style="percent"), False, "50%"),
        (0.1234, NumberFormat(style="percent", decimals=0), False, "12%"),
        (1234.5, NumberFormat(style="currency"), False, "$1,234.50"),
        (-1234.5, NumberFormat(style="currency", currency="€"), False, f"{MINUS}€1,234.50"),
        (1234, NumberFormat(display_units="K"), True, "1.23K"),
        (2_500_000, NumberFormat(display_units="M"), True, "2.5M"),
        (2_500_000, NumberFormat(display_units="M", decimals=2), True, "2.50M"),
        (999, NumberFormat(display_units="auto"), True, "999"),
        (1500, NumberFormat(display_units="auto"), True, "1.5K"),
        (-2.5e9, NumberFormat(display_units="auto"), False, f"{MINUS}2.5B"),
        (3.2e12, NumberFormat(display_units="auto", style="currency"), False, "$3.20T"),
        (None, NumberFormat(), False, ""),
        ("text", NumberFormat(), False, ""),
    ],
)
def test_format_number_writes_power_bi_style_numbers(
    value: Any, fmt: NumberFormat, integer: bool, text: str
) -> None:
    assert format_number(value, fmt, integer=integer) == text


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("#,0.00", NumberFormat(decimals=2)),
        ("#,##0", NumberFormat(decimals=0)),
        ("0.0", NumberFormat(decimals=1, thousands=False)),
        ("0%", NumberFormat(style="percent", decimals=0, thousands=False)),
        ("0.0%", NumberFormat(style="percent", decimals=1, thousands=False)),
        ("$#,0", NumberFormat(style="currency", decimals=0)),
        ("€#,0.00", NumberFormat(style="currency", decimals=2, currency="€")),
        ("#,0.##", NumberFormat(decimals=None)),
    ],
)
def test_dataset_format_strings_are_read(text: str, fmt: NumberFormat) -> None:
    assert parse_format_string(text) == fmt


@pytest.mark.parametrize("text", ["General", "yyyy-mm-dd", "$0%", ""])
def test_unknown_format_strings_are_not_guessed(text: str) -> None:
    assert parse_format_string(text) is None


def test_a_format_object_with_wrong_types_keeps_what_it_can() -> None:
    fmt, skipped = number_format(
        {"decimals": "two", "style": "percent", "display_units": "X", "thousands": False}
    )
    assert skipped
    assert fmt == NumberFormat(style="percent", thousands=False)
    assert number_format({"decimals": 99})[0].decimals == 10


def test_expressions_are_plain_d3_format_with_units_and_symbols_around() -> None:
    assert str(d3_spec(NumberFormat(decimals=2))) == ",.2f"
    assert str(d3_spec(NumberFormat(style="percent"))) == ",.1~%"
    expression = vega_expression(NumberFormat(display_units="K"), "datum.v")
    assert expression == (
        '(isValid(datum.v) && isNumber(datum.v) ? format(datum.v / 1000, ",.2~f") + "K" : \'\')'
    )
    assert '"\\u20ac"' in vega_expression(NumberFormat(style="currency", currency="€"), "v")


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.1, "0.1"),
        (100.0, "100"),
        (1e-7, "1e-7"),
        (0.00001234, "0.00001234"),
        (1e21, "1e+21"),
        (-2.5, "-2.5"),
        (123456789012345680000.0, "123456789012345680000"),
    ],
)
def test_numbers_in_expressions_are_written_as_javascript_does(number: float, text: str) -> None:
    assert js_number(number) == text


# -- the Python formatter writes what Vega writes ----------------------------------------------


def vega_texts(fmt: NumberFormat, values: list[float], *, integer: bool) -> list[str]:
    """Each value formatted by the spec's expression, in vl-convert."""
    expression = vega_expression(fmt, "datum.v", integer=integer)
    spec = {
        "data": {"values": [{"i": i, "v": v} for i, v in enumerate(values)]},
        "transform": [{"calculate": f"datum.i + '|' + {expression} + '|'", "as": "t"}],
        "mark": "text",
        "encoding": {"text": {"field": "t"}, "y": {"field": "i", "type": "ordinal"}},
    }
    svg = vlc.vegalite_to_svg(spec)
    found = {}
    for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg):
        index, _, rest = html.unescape(text).partition("|")
        if index.isdigit() and rest.endswith("|"):
            found[int(index)] = rest[:-1]
    return [found[i] for i in range(len(values))]


formats = st.builds(
    NumberFormat,
    style=st.sampled_from(["number", "currency", "percent"]),
    decimals=st.one_of(st.none(), st.integers(0, 6)),
    thousands=st.booleans(),
    currency=st.sampled_from(["$", "€", "£", "CHF"]),
    display_units=st.sampled_from(["none", "auto", "K", "M", "B", "T"]),
)
numbers = st.one_of(
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    st.integers(-(10**15), 10**15).map(float),
    st.integers(-(10**6), 10**6).map(lambda n: n / 1000 + 0.0005),
    st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.005, 2.675, 999.5, 999_999.5, 1e-9]),
)


@settings(max_examples=40, deadline=None)
@given(fmt=formats, values=st.lists(numbers, min_size=1, max_size=25), integer=st.booleans())
@example(fmt=NumberFormat(decimals=2), values=[0.125, -0.125, 1.005, 2.675], integer=False)
@example(fmt=NumberFormat(display_units="auto"), values=[999.999, 999_999.9, 1e12], integer=False)
def test_python_formats_numbers_exactly_as_vega_does(
    fmt: NumberFormat, values: list[float], integer: bool
) -> None:
    expected = vega_texts(fmt, values, integer=integer)
    assert [format_number(v, fmt, integer=integer) for v in values] == expected
