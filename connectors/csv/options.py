"""What a person may tell the importer instead of letting it detect (all optional)."""

from __future__ import annotations

from typing import Literal

import msgspec


class CsvOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: A Python codec name ("cp1252", "utf-16"); detected when None.
    encoding: str | None = None
    #: One character; detected among ``,`` ``;`` tab ``|`` when None.
    delimiter: str | None = None
    #: ``"`` or ``'``; detected when None.
    quote: str | None = None
    #: Whether the first row names the columns; detected when None.
    header: bool | None = None
    #: The decimal separator of numbers; detected when None.
    decimal_separator: Literal[".", ","] | None = None
    #: Whether ``01/02/2024`` is 1 February; detected from the data when None.
    day_first: bool | None = None
