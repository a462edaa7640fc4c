"""Delimiter, quote character and header row, detected on the beginning of the file.

- Delimiter: each of ``,`` ``;`` tab ``|`` splits the sample's rows (quotes respected); the
  one giving the most rows with the same number of fields (more than one) wins, ties going to
  the order above. An Excel ``sep=;`` first line names it outright.
- Quote: ``"``, unless the sample has none and single quotes enclose delimiters.
- Header: each column votes. Where the data rows of a column are all numbers, dates or
  booleans, a first-row value of that kind votes "no header" and any other votes "header"; a
  text column votes "no header" when its first value recurs below. The first row is a header
  unless the "no header" votes win (so an all-text file is taken to have one).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from connectors.csv.options import CsvOptions
from connectors.errors import InvalidData

DELIMITERS: Final = (",", ";", "\t", "|")
#: Rows of the sample used to detect the dialect.
_DIALECT_ROWS: Final = 200
_EXCEL_SEP_LINE: Final = re.compile(r"sep=(.)\r?\n?")
_NUMBER: Final = re.compile(r"[+-]?[0-9][0-9.,'\s]*([eE][+-]?[0-9]+)?|[+-]?[.,][0-9]+")
_DATE: Final = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T].*)?")
_BOOLEAN: Final = frozenset({"true", "false", "yes", "no"})


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    quote: str
    header: bool
    #: Lines before the table (an Excel ``sep=`` line).
    skip: int
    #: Fields in the first row: the number of columns.
    columns: int
    #: The first row's values (the header when ``header``).
    first_row: tuple[str, ...]


def detect_dialect(sample: str, *, complete: bool, options: CsvOptions) -> Dialect:
    """The dialect of a file starting with ``sample`` (``complete``: the whole file)."""
    skip = 0
    if excel := _EXCEL_SEP_LINE.match(sample):
        skip = 1
        sample = sample[excel.end() :]
        delimiter = options.delimiter or excel.group(1)
    else:
        delimiter = options.delimiter or ""
    if not complete:  # the last line may be cut: drop it
        sample = sample[: sample.rfind("\n") + 1] or sample
    if not sample.strip():
        raise InvalidData("the file is empty (it has only blank lines)", code="empty_file")
    quote = options.quote or _detect_quote(sample)
    if not delimiter:
        delimiter = _detect_delimiter(sample, quote)
    rows = _rows(sample, delimiter, quote, _DIALECT_ROWS)
    if not rows:
        raise InvalidData("the file is empty (it has only blank lines)", code="empty_file")
    header = options.header if options.header is not None else _has_header(rows)
    return Dialect(
        delimiter=delimiter,
        quote=quote,
        header=header,
        skip=skip,
        columns=len(rows[0]),
        first_row=tuple(rows[0]),
    )


def sample_rows(sample: str, dialect: Dialect) -> list[list[str]]:
    """The data rows in ``sample`` (the beginning of the file ``dialect`` was detected on),
    without the header and without the last row, which may be cut short."""
    lines = sample.split("\n", dialect.skip)[-1] if dialect.skip else sample
    rows = _rows(lines, dialect.delimiter, dialect.quote, limit=None)
    return rows[1 if dialect.header else 0 : -1]


def _rows(sample: str, delimiter: str, quote: str, limit: int | None) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar=quote)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    except csv.Error:
        pass  # a structural error: DuckDB reports it with its line when it reads the file
    return rows


def _detect_quote(sample: str) -> str:
    if '"' in sample:
        return '"'
    for delimiter in DELIMITERS:
        d = re.escape(delimiter)
        if re.search(rf"(?:^|{d})'[^'\n]*{d}[^'\n]*'(?:{d}|$)", sample, re.MULTILINE):
            return "'"
    return '"'


def _detect_delimiter(sample: str, quote: str) -> str:
    best, best_score = DELIMITERS[0], (0.0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in _rows(sample, delimiter, quote, _DIALECT_ROWS)]
        if not counts:
            continue
        fields, rows_with_mode = Counter(counts).most_common(1)[0]
        if fields < 2:  # noqa: PLR2004 - one field: this character does not split the rows
            continue
        score = (rows_with_mode / len(counts), fields)
        if score[0] > best_score[0]:
            best, best_score = delimiter, score
    return best


def _kind(value: str) -> str:
    value = value.strip()
    if not value:
        return "empty"
    if _NUMBER.fullmatch(value):
        return "number"
    if _DATE.fullmatch(value):
        return "date"
    if value.lower() in _BOOLEAN:
        return "boolean"
    return "text"


def _has_header(rows: Sequence[Sequence[str]]) -> bool:
    first, data = rows[0], rows[1:]
    votes = 0
    for index, value in enumerate(first):
        column = [row[index] for row in data if index < len(row) and row[index].strip()]
        if not column:
            continue
        kinds = {_kind(item) for item in column}
        if len(kinds) == 1 and (kind := kinds.pop()) != "text":
            votes += -1 if _kind(value) == kind else 1
        elif value.strip() and value in column:
            votes -= 1
    return votes >= 0
