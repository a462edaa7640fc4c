"""Streaming multipart uploads: the file arrives in pieces, the fields on the side."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.exceptions import ClientException

from api.uploads import stream_upload

BOUNDARY = "----loupe-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(data: bytes, size: int) -> tuple[dict[str, str], str | None, bytes]:
    upload, chunks = stream_upload(CONTENT_TYPE, _pieces(data, size))
    received = b"".join([chunk async for chunk in chunks])
    return upload.fields, upload.filename, received


@settings(max_examples=60, deadline=None)
@given(
    content=st.binary(max_size=5000),
    name=st.text(max_size=40).filter(lambda s: "\r" not in s and "\n" not in s),
    size=st.integers(min_value=1, max_value=700),
    name_first=st.booleans(),
)
async def test_the_file_arrives_whole_however_the_body_is_cut(
    content: bytes, name: str, size: int, *, name_first: bool
) -> None:
    parts = [("file", "sales.csv", content), ("name", None, name.encode())]
    if name_first:
        parts.reverse()
    fields, filename, received = await _read(_body(parts), size)
    assert received == content
    assert fields == {"name": name}
    assert filename == "sales.csv"


async def test_a_body_without_a_file_part_is_refused() -> None:
    with pytest.raises(ClientException, match="no 'file' part"):
        await _read(_body([("name", None, b"x")]), 100)


async def test_two_file_parts_are_refused() -> None:
    body = _body([("file", "a.csv", b"a"), ("file", "b.csv", b"b")])
    with pytest.raises(ClientException, match="one file part"):
        await _read(body, 100)


async def test_an_oversized_text_field_is_refused() -> None:
    body = _body([("name", None, b"x" * 20_000), ("file", "a.csv", b"a")])
    with pytest.raises(ClientException, match="over 10,000 bytes"):
        await _read(body, 1000)


def test_a_body_that_is_not_multipart_is_refused() -> None:
    with pytest.raises(ClientException, match="multipart/form-data"):
        stream_upload("application/json", _pieces(b"{}", 10))
