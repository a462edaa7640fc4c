"""What the importer detects: delimiters, quotes, headers, encodings, locale numbers and
dates, blank and duplicate names, and the full-file check behind the sample's guesses."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pytest

from connectors.csv import CsvOptions, IngestedCsv
from tests.connectors.fixtures import ingest_bytes, ingest_text, leftovers


def _rows(result: IngestedCsv) -> list[tuple[object, ...]]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{result.parquet_path}')").fetchall()


def _types(result: IngestedCsv) -> dict[str, str]:
    return {column.name: column.type for column in result.columns}


async def test_semicolons_decimal_commas_and_dotted_dates(tmp_path: Path) -> None:
    text = (
        "Datum;Filiale;Umsatz;Menge\n"
        "31.12.2024;Köln;1.234,56;3\n"
        "01.02.2024;Bonn;17,5;12\n"
        "15.03.2024;Köln;-2.000,00;\n"
    )
    result = await ingest_text(text, tmp_path)
    assert (result.delimiter, result.decimal_separator) == (";", ",")
    assert _types(result) == {
        "Datum": "date",
        "Filiale": "text",
        "Umsatz": "decimal",
        "Menge": "integer",
    }
    assert _rows(result) == [
        (dt.date(2024, 12, 31), "Köln", 1234.56, 3),
        (dt.date(2024, 2, 1), "Bonn", 17.5, 12),
        (dt.date(2024, 3, 15), "Köln", -2000.0, None),
    ]


async def test_english_thousands_separators(tmp_path: Path) -> None:
    text = 'item,amount,count\na,"1,234.56","1,000"\nb,0.5,"12,345,678"\n'
    result = await ingest_text(text, tmp_path)
    assert result.decimal_separator == "."
    assert _rows(result) == [("a", 1234.56, 1000), ("b", 0.5, 12345678)]
    assert _types(result) == {"item": "text", "amount": "decimal", "count": "integer"}


async def test_french_space_grouped_numbers(tmp_path: Path) -> None:
    text = "ville;montant\nParis;1 234,56\nLyon;12\u00a0345,5\nNice;7\n"
    result = await ingest_text(text, tmp_path)
    assert _rows(result) == [("Paris", 1234.56), ("Lyon", 12345.5), ("Nice", 7.0)]


async def test_day_first_dates_are_recognised_by_a_day_over_twelve(tmp_path: Path) -> None:
    text = "when,n\n01/02/2024,1\n25/12/2024,2\n"
    result = await ingest_text(text, tmp_path)
    assert _rows(result) == [(dt.date(2024, 2, 1), 1), (dt.date(2024, 12, 25), 2)]


async def test_month_first_dates_are_recognised_by_a_day_over_twelve(tmp_path: Path) -> None:
    text = "when,n\n01/02/2024,1\n12/25/2024,2\n"
    result = await ingest_text(text, tmp_path)
    assert _rows(result) == [(dt.date(2024, 1, 2), 1), (dt.date(2024, 12, 25), 2)]


async def test_ambiguous_dates_follow_the_locale_and_say_so(tmp_path: Path) -> None:
    result = await ingest_text("when,n\n01/02/2024,1\n03/04/2024,2\n", tmp_path)
    assert _rows(result)[0][0] == dt.date(2024, 1, 2)
    assert any("month/day/year" in warning for warning in result.warnings)
    european = await ingest_text("when;n\n01/02/2024;1\n03/04/2024;2\n", tmp_path)
    assert _rows(european)[0][0] == dt.date(2024, 2, 1)
    told = await ingest_text("when,n\n01/02/2024,1\n", tmp_path, options=CsvOptions(day_first=True))
    assert _rows(told)[0][0] == dt.date(2024, 2, 1)


async def test_a_late_day_over_twelve_switches_the_date_order(tmp_path: Path) -> None:
    rows = [f"{(i % 12) + 1:02d}/{(i % 12) + 1:02d}/2024,{i}" for i in range(25_000)]
    rows.append("13/01/2024,25000")  # after the 20,000-row sample
    result = await ingest_text("when,n\n" + "\n".join(rows) + "\n", tmp_path)
    assert _types(result)["when"] == "date"
    assert _rows(result)[-1] == (dt.date(2024, 1, 13), 25000)
    assert result.rows == 25_001


async def test_a_late_decimal_widens_an_integer_column(tmp_path: Path) -> None:
    rows = [str(i) for i in range(30_000)] + ["2.5"]
    result = await ingest_text("n\n" + "\n".join(rows) + "\n", tmp_path)
    assert _types(result) == {"n": "decimal"}
    assert _rows(result)[-1] == (2.5,)
    assert leftovers(tmp_path, keep=[result.parquet_path]) == []


async def test_a_late_word_keeps_a_numeric_column_as_text_with_a_warning(tmp_path: Path) -> None:
    rows = [f"{i},{i * 2}" for i in range(30_000)] + ["30000,N/A"]
    result = await ingest_text("id,Zip\n" + "\n".join(rows) + "\n", tmp_path)
    assert _types(result) == {"id": "integer", "Zip": "text"}
    assert any("'Zip' kept as text" in w and "N/A" in w for w in result.warnings)
    assert _rows(result)[-1] == (30000, "N/A")


async def test_a_column_empty_in_the_sample_is_typed_from_the_whole_file(tmp_path: Path) -> None:
    rows = [f"{i}," for i in range(25_000)] + ["25000,2024-05-01"]
    result = await ingest_text("n,shipped\n" + "\n".join(rows) + "\n", tmp_path)
    assert _types(result) == {"n": "integer", "shipped": "date"}


async def test_leading_zeros_stay_text(tmp_path: Path) -> None:
    result = await ingest_text("zip,n\n01234,1\n98765,2\n", tmp_path)
    assert _types(result) == {"zip": "text", "n": "integer"}
    assert _rows(result)[0] == ("01234", 1)
    assert any("leading zeros" in warning for warning in result.warnings)


async def test_booleans_and_timestamps_with_offsets(tmp_path: Path) -> None:
    text = "ok,at\nyes,2024-01-05T10:00:00+02:00\nNo,2024-01-05 07:30:00Z\n,2024-01-06\n"
    result = await ingest_text(text, tmp_path)
    assert _types(result) == {"ok": "boolean", "at": "timestamp"}
    utc = dt.UTC  # stored as naive timestamps in UTC
    assert _rows(result) == [
        (True, dt.datetime(2024, 1, 5, 8, 0, tzinfo=utc).replace(tzinfo=None)),
        (False, dt.datetime(2024, 1, 5, 7, 30, tzinfo=utc).replace(tzinfo=None)),
        (None, dt.datetime(2024, 1, 6, 0, 0, tzinfo=utc).replace(tzinfo=None)),
    ]


async def test_zero_and_one_stay_integers(tmp_path: Path) -> None:
    result = await ingest_text("flag\n0\n1\n1\n", tmp_path)
    assert _types(result) == {"flag": "integer"}


async def test_tab_delimited(tmp_path: Path) -> None:
    result = await ingest_text("a\tb\tc\n1\tx, y\t2.5\n2\tz\t3\n", tmp_path)
    assert result.delimiter == "\t"
    assert _rows(result) == [(1, "x, y", 2.5), (2, "z", 3.0)]


async def test_pipe_delimited_with_an_excel_sep_line(tmp_path: Path) -> None:
    result = await ingest_text("sep=|\na|b\n1|2\n", tmp_path)
    assert result.delimiter == "|"
    assert [c.name for c in result.columns] == ["a", "b"]
    assert _rows(result) == [(1, 2)]


async def test_utf8_with_a_byte_order_mark(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + "name,n\nZoë,1\n".encode()
    result = await ingest_bytes(data, tmp_path)
    assert result.encoding == "utf-8-sig"
    assert [c.name for c in result.columns] == ["name", "n"]
    assert _rows(result) == [("Zoë", 1)]
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.byte_size == len(data)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
async def test_utf16_with_or_without_a_byte_order_mark(tmp_path: Path, codec: str) -> None:
    data = "name;value\nÅsa;1,5\n日本;2\n".encode(codec)
    result = await ingest_bytes(data, tmp_path, chunk_size=5)
    assert result.encoding.startswith("utf-16")
    assert _rows(result) == [("Åsa", 1.5), ("日本", 2.0)]


async def test_windows_1252_is_read_when_the_file_is_not_utf8(tmp_path: Path) -> None:
    data = "city;price\nCafé Crème;3,5\nSão Paulo \u2013 €;4\n".encode("cp1252")
    result = await ingest_bytes(data, tmp_path)
    assert result.encoding == "cp1252"
    assert _rows(result) == [("Café Crème", 3.5), ("São Paulo \u2013 €", 4.0)]
    assert leftovers(tmp_path, keep=[result.parquet_path]) == []


async def test_a_named_encoding_is_used(tmp_path: Path) -> None:
    data = "name\nŁódź\n".encode("iso-8859-2")
    result = await ingest_bytes(data, tmp_path, options=CsvOptions(encoding="iso-8859-2"))
    assert _rows(result) == [("Łódź",)]


async def test_quoted_fields_with_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    text = 'id,comment\n1,"a, b"\n2,"she said ""hi"""\n3,"two\nlines"\n4,\n'
    result = await ingest_text(text, tmp_path)
    assert _rows(result) == [(1, "a, b"), (2, 'she said "hi"'), (3, "two\nlines"), (4, None)]


async def test_single_quotes_when_they_enclose_delimiters(tmp_path: Path) -> None:
    result = await ingest_text("a,b\n'x, y',1\n'z',2\n", tmp_path)
    assert result.quote == "'"
    assert _rows(result) == [("x, y", 1), ("z", 2)]


async def test_blank_and_duplicate_headers_get_names(tmp_path: Path) -> None:
    result = await ingest_text("Name,,name, Name ,x\na,b,c,d,1\n", tmp_path)
    assert [c.name for c in result.columns] == ["Name", "Column 2", "name (2)", "Name (3)", "x"]
    assert _rows(result) == [("a", "b", "c", "d", 1)]


async def test_a_file_without_a_header(tmp_path: Path) -> None:
    result = await ingest_text("1,2024-01-01,3.5\n2,2024-01-02,4.5\n", tmp_path)
    assert result.header is False
    assert [c.name for c in result.columns] == ["Column 1", "Column 2", "Column 3"]
    assert result.rows == 2


async def test_the_header_can_be_named_outright(tmp_path: Path) -> None:
    result = await ingest_text("Alice,Paris\nBob,London\n", tmp_path)
    assert result.header is True  # all text: taken as a header
    told = await ingest_text(
        "Alice,Paris\nBob,London\n", tmp_path, options=CsvOptions(header=False)
    )
    assert told.rows == 2


async def test_a_header_only_file_is_a_dataset_with_no_rows(tmp_path: Path) -> None:
    result = await ingest_text("a,b,c\n", tmp_path)
    assert result.rows == 0
    assert [c.name for c in result.columns] == ["a", "b", "c"]
    assert {c.type for c in result.columns} == {"text"}


async def test_windows_line_endings_and_no_final_newline(tmp_path: Path) -> None:
    result = await ingest_text("a,b\r\n1,x\r\n2,y", tmp_path)
    assert _rows(result) == [(1, "x"), (2, "y")]


async def test_ids_and_years_are_dimensions(tmp_path: Path) -> None:
    result = await ingest_text("CustomerID,Year,Sales,zip_code\n1,2020,9.5,12345\n", tmp_path)
    roles = {c.name: c.role for c in result.columns}
    assert roles == {
        "CustomerID": "dimension",
        "Year": "dimension",
        "Sales": "measure",
        "zip_code": "dimension",
    }
