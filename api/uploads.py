"""Streaming ``multipart/form-data`` uploads: the file part reaches the importer chunk by
chunk as the request body arrives (a 1 GiB CSV is never held in memory), the small text
fields (``name``) are collected on the side.

python-multipart's push parser does the parsing; this module only turns its callbacks into an
async iterator of the file's bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from litestar.exceptions import ClientException
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

#: The one file part an upload carries.
FILE_FIELD = "file"
#: A text field longer than this is refused (they are names, not content).
MAX_FIELD_BYTES = 10_000


@dataclass
class Upload:
    """What a multipart body held besides the file: filled while ``chunks`` is consumed."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    seen_file: bool = False


def _field_text(fields: dict[str, bytearray], name: str) -> str:
    try:
        return bytes(fields[name]).decode()
    except UnicodeDecodeError:
        raise ClientException(f"form field {name!r} is not UTF-8 text") from None


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise ClientException(
            "an upload is multipart/form-data with a boundary, got " + repr(content_type)
        )
    return options[b"boundary"]


class _Parts:
    """python-multipart's callbacks: file bytes go to ``pending``, other fields to ``raw``."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.raw: dict[str, bytearray] = {}
        self.pending: list[bytes] = []
        self.name: str | None = None
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, bytes] = {}

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
        }

    def on_part_begin(self) -> None:
        self.headers.clear()
        self.name = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).decode("latin-1").lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get("content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self.name = name
        if name == FILE_FIELD:
            if self.upload.seen_file:
                raise ClientException("an upload carries one file part")
            self.upload.seen_file = True
            filename = options.get(b"filename")
            self.upload.filename = (
                filename.decode("utf-8", "replace") if filename is not None else None
            )
        else:
            self.raw[name] = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        name = self.name
        if name == FILE_FIELD:
            self.pending.append(data[start:end])
        elif name is not None:
            value = self.raw[name]
            value += data[start:end]
            if len(value) > MAX_FIELD_BYTES:
                raise ClientException(f"form field {name!r} is over {MAX_FIELD_BYTES:,} bytes")

    def take(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        return data


def stream_upload(
    content_type: str, body: AsyncIterator[bytes]
) -> tuple[Upload, AsyncIterator[bytes]]:
    """(the upload's other fields, the file part's bytes as they arrive).

    The fields are complete once the iterator is exhausted. A body without a ``file`` part, or
    with a malformed multipart structure, raises ``ClientException`` (400)."""
    upload = Upload()
    parts = _Parts(upload)
    parser = MultipartParser(_boundary(content_type), callbacks=parts.callbacks())  # type: ignore[arg-type]

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in body:
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise ClientException(f"malformed multipart body: {exc}") from None
            if parts.pending:
                yield parts.take()
        parser.finalize()
        if parts.pending:
            yield parts.take()
        if not upload.seen_file:
            raise ClientException(f"the upload has no {FILE_FIELD!r} part (the CSV file)")
        upload.fields.update({name: _field_text(parts.raw, name) for name in parts.raw})

    return upload, chunks()
