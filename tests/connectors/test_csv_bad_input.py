"""Uploads that cannot be imported: each a clear `InvalidData` or `TooLarge`, with the line
(and column) where that means something, and nothing left behind."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.blobs import open_blob_store
from connectors.csv import CsvOptions, ingest_csv
from connectors.errors import InvalidData, TooLarge
from tests.connectors.fixtures import HERE, file_chunks, ingest_bytes, ingest_text, leftovers


async def test_a_ragged_row_names_its_line_and_field_counts(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as caught:
        await ingest_csv(file_chunks(HERE / "ragged.csv"), work_dir=tmp_path)
    assert caught.value.detail == "line 1,204 has 7 fields; the header has 6"
    assert caught.value.line == 1204
    assert caught.value.code == "ragged_rows"
    assert leftovers(tmp_path) == []


async def test_a_short_row_after_a_multiline_field_counts_physical_lines(tmp_path: Path) -> None:
    text = 'a,b,c\n1,"x\ny\nz",3\n4,5\n'
    with pytest.raises(InvalidData) as caught:
        await ingest_text(text, tmp_path)
    assert caught.value.line == 5
    assert caught.value.detail == "line 5 has 2 fields; the header has 3"


async def test_an_unterminated_quote_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as caught:
        await ingest_csv(file_chunks(HERE / "unterminated_quote.csv"), work_dir=tmp_path)
    assert caught.value.code == "unterminated_quote"
    assert caught.value.line == 3
    assert caught.value.column == "comment"
    assert "line 3, column 'comment'" in caught.value.detail
    assert leftovers(tmp_path) == []


async def test_text_after_a_closing_quote(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as caught:
        await ingest_text('a,b\n1,"x"y\n', tmp_path)
    assert caught.value.line == 2
    assert "after a closing quote" in caught.value.detail


async def test_damaged_utf8_names_line_and_byte(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as caught:
        await ingest_csv(file_chunks(HERE / "broken_utf8.csv"), work_dir=tmp_path)
    assert caught.value.detail.startswith("line 3, byte 5: invalid UTF-8")
    assert (caught.value.line, caught.value.column) == (3, 5)
    assert leftovers(tmp_path) == []


async def test_bytes_undefined_in_windows_1252_are_invalid_utf8(tmp_path: Path) -> None:
    with pytest.raises(InvalidData, match="line 2, byte 3: invalid UTF-8"):
        await ingest_bytes(b"a,b\nx,\x81\x8d\n", tmp_path)
    assert leftovers(tmp_path) == []


async def test_a_named_encoding_that_does_not_fit_fails(tmp_path: Path) -> None:
    with pytest.raises(InvalidData, match="invalid UTF-8"):
        await ingest_bytes(b"a\n\xe9\n", tmp_path, options=CsvOptions(encoding="utf-8"))
    with pytest.raises(InvalidData, match="unknown encoding"):
        await ingest_bytes(b"a\n", tmp_path, options=CsvOptions(encoding="klingon"))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n  \n"])
async def test_an_empty_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InvalidData, match="the file is empty") as caught:
        await ingest_bytes(data, tmp_path)
    assert caught.value.code == "empty_file"
    assert leftovers(tmp_path) == []


async def test_a_png_is_not_a_csv_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidData, match=r"this is not a CSV file: it is a PNG image"):
        await ingest_csv(file_chunks(HERE / "pixel.png"), work_dir=tmp_path)
    assert leftovers(tmp_path) == []


async def test_an_xlsx_workbook_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidData, match=r"Excel \.xlsx"):
        await ingest_bytes(b"PK\x03\x04" + os.urandom(3000), tmp_path)


async def test_random_bytes_are_not_a_csv_file(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(100_000)
    with pytest.raises(InvalidData, match=r"this is not a CSV file: it contains binary data"):
        await ingest_bytes(data, tmp_path)
    assert leftovers(tmp_path) == []


async def test_a_nul_byte_deep_in_a_text_file_is_refused(tmp_path: Path) -> None:
    data = b"a,b\n" + b"1,2\n" * 10_000 + b"3,\x00\n"
    with pytest.raises(InvalidData, match="NUL byte on line 10,002"):
        await ingest_bytes(data, tmp_path)
    assert leftovers(tmp_path) == []


async def test_an_upload_over_the_limit_is_refused(tmp_path: Path) -> None:
    data = b"a,b\n" + b"1,2\n" * 1000
    with pytest.raises(TooLarge, match="the upload is over the 1 KiB limit"):
        await ingest_bytes(data, tmp_path, max_bytes=1024, chunk_size=100)
    assert leftovers(tmp_path) == []
    result = await ingest_bytes(data, tmp_path, max_bytes=len(data))
    assert result.rows == 1000


async def test_a_stream_over_one_gib_is_cut_off_as_soon_as_it_passes(tmp_path: Path) -> None:
    chunk = b"1234567,abcdefgh,2024-01-01\n" * 37_449  # ~1 MiB
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"n,text,day\n"
        while True:
            sent += len(chunk)
            yield chunk

    with pytest.raises(TooLarge, match="1 GiB"):
        await ingest_csv(endless(), work_dir=tmp_path)
    assert (1 << 30) < sent + 11 <= (1 << 30) + len(chunk)
    assert leftovers(tmp_path) == []


async def test_nothing_reaches_the_blob_store_when_an_import_fails(tmp_path: Path) -> None:
    blobs = open_blob_store(tmp_path / "data")
    with pytest.raises(InvalidData):
        await ingest_csv(file_chunks(HERE / "ragged.csv"), work_dir=tmp_path / "work")
    assert list(blobs.local_directory.iterdir()) == []
    assert leftovers(tmp_path / "work") == []
