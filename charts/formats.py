"""Number formats: what a Power BI user sets (decimals, thousands separator, currency, percent,
display units) and how each becomes text.

A chart formats its numbers in the browser or in vl-convert, so a format is compiled into a
Vega *expression* over d3-format (``format(value, ',.2f')``), with the display unit and the
currency symbol added around it: ``vega_expression(fmt, "datum.value")``. Tables, cards and
layout code format in Python with ``format_number``, which reproduces that expression's output
exactly (a property test renders both through vl-convert and compares them): d3-format's
rounding (half away from zero on the exact binary value, as JavaScript's ``toFixed``), its minus
sign (U+2212) and its "negative zero is zero". Numbers are expected within ±1e21.

Dataset measures carry Excel-like format strings ("#,0.00", "0.0%", "$#,0"):
``parse_format_string`` reads the common ones.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final, Literal, get_args

import msgspec

Style = Literal["number", "currency", "percent"]
DisplayUnits = Literal["auto", "none", "K", "M", "B", "T"]
STYLES: Final[tuple[Style, ...]] = get_args(Style)
DISPLAY_UNITS: Final[tuple[DisplayUnits, ...]] = get_args(DisplayUnits)
MAX_DECIMALS: Final = 10

MINUS: Final = "\u2212"
#: Display units, largest first: (suffix, factor).
UNITS: Final[tuple[tuple[str, float], ...]] = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3))
_FACTORS: Final = dict(UNITS)
#: Enough digits for any double below 1e21 with up to MAX_DECIMALS decimals.
_EXACT: Final = Context(prec=64)


class NumberFormat(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How a number reads. ``decimals=None`` is automatic: none for whole numbers, up to two
    (trailing zeros dropped) otherwise, two for currency, one (dropped when zero) for percent.
    ``display_units`` divides the number and appends K, M, B or T; ``auto`` picks the unit by
    each value's size (as Power BI's "Auto" does on cards)."""

    style: Style = "number"
    decimals: int | None = None
    thousands: bool = True
    currency: str = "$"
    display_units: DisplayUnits = "none"


DEFAULT: Final = NumberFormat()


def _style(value: object) -> object:
    return value if value in STYLES else None


def _decimals(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, 0), MAX_DECIMALS)
    return None


def _thousands(value: object) -> object:
    return value if isinstance(value, bool) else None


def _currency(value: object) -> object:
    return value if isinstance(value, str) and 0 < len(value) <= 5 else None  # noqa: PLR2004


def _units(value: object) -> object:
    return value if value in DISPLAY_UNITS else None


#: Each key of a format object and what makes its value usable (``None``: unusable).
_KEYS: Final = {
    "style": _style,
    "decimals": _decimals,
    "thousands": _thousands,
    "currency": _currency,
    "display_units": _units,
}


def number_format(value: object, base: NumberFormat = DEFAULT) -> tuple[NumberFormat, bool]:
    """``base`` with what ``value`` sets (a format object, or a format string); keys of the
    wrong type are skipped. Returns the format and whether anything was skipped."""
    if isinstance(value, str):
        parsed = parse_format_string(value)
        return (base, True) if parsed is None else (parsed, False)
    if not isinstance(value, Mapping):
        return base, value is not None
    skipped = False
    changes: dict[str, object] = {}
    for key, usable in _KEYS.items():
        raw = value.get(key)
        if raw is None:
            continue
        checked = usable(raw)
        if checked is None:
            skipped = True
        else:
            changes[key] = checked
    return msgspec.structs.replace(base, **changes), skipped


_FORMAT_STRING: Final = re.compile(
    r"(?P<prefix>[$€£¥₹]?)(?P<int>[#0,]*0)(?:\.(?P<dec>[0#]+))?(?P<pct>%?)"
)


def parse_format_string(text: str) -> NumberFormat | None:
    """An Excel-like number format ("#,0.00", "0%", "€#,##0.0") as a ``NumberFormat``; ``None``
    when it is not one of those simple shapes."""
    match = _FORMAT_STRING.fullmatch(text.strip())
    if match is None:
        return None
    prefix, integer, dec, pct = match["prefix"], match["int"], match["dec"] or "", match["pct"]
    if prefix and pct:
        return None
    style: Style = "percent" if pct else "currency" if prefix else "number"
    zeros = dec.count("0")
    decimals = zeros if dec and not dec.startswith("#") else (0 if not dec else None)
    return NumberFormat(
        style=style, decimals=decimals, thousands="," in integer, currency=prefix or "$"
    )


# -- d3-format specifiers ----------------------------------------------------------------------


class D3Spec(msgspec.Struct, frozen=True):
    """The subset of d3-format specifiers Loupe writes: ``[,].N[~](f|%)``."""

    comma: bool
    precision: int
    trim: bool
    percent: bool

    def __str__(self) -> str:
        return (
            f"{',' if self.comma else ''}.{self.precision}{'~' if self.trim else ''}"
            f"{'%' if self.percent else 'f'}"
        )


def d3_spec(fmt: NumberFormat, *, integer: bool = False, scaled: bool = False) -> D3Spec:
    """The d3-format specifier of the number part. ``integer``: the values are whole numbers
    (automatic decimals then show none); ``scaled``: a display unit divided the value."""
    if fmt.style == "percent":
        if fmt.decimals is None:
            return D3Spec(comma=fmt.thousands, precision=1, trim=True, percent=True)
        return D3Spec(comma=fmt.thousands, precision=fmt.decimals, trim=False, percent=True)
    if fmt.decimals is not None:
        return D3Spec(comma=fmt.thousands, precision=fmt.decimals, trim=False, percent=False)
    if fmt.style == "currency":
        return D3Spec(comma=fmt.thousands, precision=2, trim=False, percent=False)
    if integer and not scaled:
        return D3Spec(comma=fmt.thousands, precision=0, trim=False, percent=False)
    return D3Spec(comma=fmt.thousands, precision=2, trim=True, percent=False)


def tooltip_format(fmt: NumberFormat, *, integer: bool = False) -> str:
    """A plain d3-format string for places that take only one (tooltips): no display unit, no
    currency symbol."""
    return str(d3_spec(NumberFormat(style=fmt.style, decimals=fmt.decimals), integer=integer))


def axis_format(fmt: NumberFormat, *, integer: bool = False) -> str:
    """A d3-format string for an axis whose labels need no unit or symbol."""
    return str(d3_spec(fmt, integer=integer))


def needs_expression(fmt: NumberFormat) -> bool:
    """Whether a plain d3-format string cannot say it (a display unit or a currency symbol)."""
    return fmt.style != "percent" and (fmt.display_units != "none" or fmt.style == "currency")


# -- Vega expressions --------------------------------------------------------------------------


def js_number(number: float) -> str:
    """A number as JavaScript's ``String(number)`` writes it (for numbers in expressions):
    whole numbers without a point, others as their shortest round-trip digits."""
    if isinstance(number, bool) or not math.isfinite(number):
        raise ValueError(f"not a finite number: {number!r}")
    value = float(number)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # The shortest digits that round-trip (Python and JavaScript agree on them), then
    # ECMAScript's Number::toString layout (positional from 1e-6 to 1e21).
    digits, exponent = _shortest(abs(value))
    k, n = len(digits), exponent + len(digits)
    if k <= n <= 21:  # noqa: PLR2004
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:  # noqa: PLR2004
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:  # noqa: PLR2004
        return sign + "0." + "0" * -n + digits
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _shortest(value: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of ``value`` and their exponent
    (``value == int(digits) * 10**exponent``)."""
    mantissa, _, exp = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    fraction = fraction.rstrip("0")
    digits = (whole + fraction).lstrip("0") or "0"
    exponent = int(exp or 0) - len(fraction)
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return stripped or "0", exponent


def js_string(text: str) -> str:
    """A string literal of the Vega expression language (ASCII, JSON escapes)."""
    return json.dumps(text, ensure_ascii=True)


def vega_expression(fmt: NumberFormat, value: str, *, integer: bool = False) -> str:
    """A Vega expression giving the text of the number ``value`` (an expression such as
    ``datum.value``) in ``fmt``; blank (``''``) for null or non-numbers."""
    core = _core_expression(fmt, value, integer=integer)
    if fmt.style == "currency":
        symbol = js_string(fmt.currency)
        minus = js_string(MINUS)
        core = (
            f"(substring({core}, 0, 1) === {minus} ? {minus} + {symbol} + substring({core}, 1)"
            f" : {symbol} + {core})"
        )
    return f"(isValid({value}) && isNumber({value}) ? {core} : '')"


def _core_expression(fmt: NumberFormat, value: str, *, integer: bool) -> str:
    if fmt.style == "percent" or fmt.display_units == "none":
        return f"format({value}, {js_string(str(d3_spec(fmt, integer=integer)))})"
    scaled = js_string(str(d3_spec(fmt, integer=integer, scaled=True)))
    if fmt.display_units != "auto":
        factor = _FACTORS[fmt.display_units]
        return f"format({value} / {factor:.0f}, {scaled}) + {js_string(fmt.display_units)}"
    plain = f"format({value}, {js_string(str(d3_spec(fmt, integer=integer)))})"
    for suffix, factor in reversed(UNITS):
        plain = (
            f"(abs({value}) >= {factor:.0f} ? format({value} / {factor:.0f}, {scaled})"
            f" + {js_string(suffix)} : {plain})"
        )
    return plain


# -- the same, in Python -----------------------------------------------------------------------


def format_number(value: object, fmt: NumberFormat = DEFAULT, *, integer: bool = False) -> str:
    """``value`` as ``vega_expression(fmt, …)`` writes it ("" for null and non-numbers)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    number = float(value)
    if math.isnan(number):
        return ""
    core = _core_text(fmt, number, integer=integer)
    if fmt.style == "currency":
        core = MINUS + fmt.currency + core[1:] if core[:1] == MINUS else fmt.currency + core
    return core


def _core_text(fmt: NumberFormat, number: float, *, integer: bool) -> str:
    if fmt.style == "percent" or fmt.display_units == "none":
        return d3_format(number, d3_spec(fmt, integer=integer))
    scaled = d3_spec(fmt, integer=integer, scaled=True)
    if fmt.display_units != "auto":
        return d3_format(number / _FACTORS[fmt.display_units], scaled) + fmt.display_units
    for suffix, factor in UNITS:
        if abs(number) >= factor:
            return d3_format(number / factor, scaled) + suffix
    return d3_format(number, d3_spec(fmt, integer=integer))


def d3_format(number: float, spec: D3Spec) -> str:
    """d3-format's ``format(spec)(number)`` for the specifiers ``D3Spec`` allows."""
    if math.isnan(number):
        return "NaN"
    negative = number < 0 or (number == 0 and math.copysign(1.0, number) < 0)
    magnitude = abs(number)
    if spec.percent:
        magnitude *= 100
    text = _to_fixed(magnitude, spec.precision)
    if spec.trim:
        text = _trim(text)
    if negative and float(text) == 0:
        negative = False
    integer_part, dot, fraction = text.partition(".")
    if spec.comma and integer_part.isdigit():
        integer_part = f"{int(integer_part):,}"
    return (
        (MINUS if negative else "") + integer_part + dot + fraction + ("%" if spec.percent else "")
    )


def _to_fixed(number: float, digits: int) -> str:
    """JavaScript's ``Number.prototype.toFixed`` for a non-negative number below 1e21: the
    exact binary value rounded half up."""
    if math.isinf(number) or number >= 1e21:  # noqa: PLR2004 - toFixed's own limit
        return _js_number_string(number)
    quantum = Decimal(1).scaleb(-digits)
    return str(Decimal(number).quantize(quantum, rounding=ROUND_HALF_UP, context=_EXACT))


def _js_number_string(number: float) -> str:
    if math.isinf(number):
        return "Infinity"
    mantissa, _, exponent = repr(number).partition("e")
    sign = "" if exponent.startswith("-") else "+"
    return f"{mantissa.removesuffix('.0')}e{sign}{int(exponent)}"


def _trim(text: str) -> str:
    """d3-format's ``formatTrim``: drop insignificant trailing zeros (and a bare point)."""
    if "." not in text:
        return text
    text = text.rstrip("0")
    return text.removesuffix(".")
