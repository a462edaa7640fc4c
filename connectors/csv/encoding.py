"""Telling text from binary, and which encoding a text upload is in.

The rules (docs/csv.md):

- A byte-order mark decides: UTF-8, UTF-16 LE/BE.
- Without one, a beginning where every other byte is NUL is UTF-16 (LE or BE).
- Known binary signatures (PNG, ZIP/xlsx, xls, PDF, gzip, …) and NUL bytes are refused.
- Everything else must be UTF-8 — checked over the whole file, not a sample. A file that is
  not valid UTF-8 and shows no sign of UTF-8 at all (no valid multi-byte sequence anywhere) is
  read as Windows-1252 (a superset of Latin-1's printable characters, what Excel writes on
  Western-European Windows). Otherwise it is a damaged UTF-8 file, and the error names the line
  and byte of the first bad sequence.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from connectors.errors import InvalidData

#: How much of the beginning is looked at for signatures, BOMs and UTF-16.
HEAD_BYTES: Final = 8192

_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", "it is a PNG image"),
    (b"\xff\xd8\xff", "it is a JPEG image"),
    (b"GIF8", "it is a GIF image"),
    (b"%PDF-", "it is a PDF document"),
    (b"PK\x03\x04", "it is a ZIP archive (an Excel .xlsx workbook is one: save it as CSV)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "it is an old Office file (.xls: save it as CSV)"),
    (b"\x1f\x8b", "it is gzip-compressed (upload the uncompressed file)"),
    (b"PAR1", "it is a Parquet file"),
    (b"SQLite format 3\x00", "it is an SQLite database"),
)
_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Control characters that never appear in text (tab, newlines, form feed and escape do).
_BINARY_CONTROLS: Final = bytes(set(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B})
#: A valid multi-byte UTF-8 sequence (what a Windows-1252 file practically never contains).
_UTF8_SEQUENCE: Final = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_HIGH_BYTES: Final = bytes(range(0x80, 0x100))
#: The fallback for text that is not UTF-8.
SINGLE_BYTE_FALLBACK: Final = "cp1252"


@dataclass(frozen=True)
class Head:
    """What the beginning of an upload says."""

    #: A Python codec; ``utf-8`` means "checked as the upload streams in".
    encoding: str
    #: Bytes to drop at the start (a byte-order mark).
    skip: int


def not_csv(reason: str) -> InvalidData:
    return InvalidData(f"this is not a CSV file: {reason}", code="not_csv")


def inspect_head(head: bytes) -> Head:
    """The encoding the first bytes announce; `InvalidData` for a known binary format."""
    for signature, reason in _SIGNATURES:
        if head.startswith(signature):
            raise not_csv(reason)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return Head(encoding, len(bom) if encoding == "utf-8-sig" else 0)
    if guessed := _utf16_without_bom(head):
        return Head(guessed, 0)
    if b"\x00" in head:
        raise not_csv("it contains binary data (NUL bytes)")
    if head and len(head) - len(head.translate(None, _BINARY_CONTROLS)) > len(head) // 20:
        raise not_csv("it contains binary data (control characters)")
    return Head("utf-8", 0)


def _utf16_without_bom(head: bytes) -> str | None:
    pairs = len(head) // 2
    if pairs < 2:  # noqa: PLR2004 - two characters are the least to see a pattern in
        return None
    zero_odd = head[1 : pairs * 2 : 2].count(0)
    zero_even = head[0 : pairs * 2 : 2].count(0)
    if zero_odd >= pairs * 0.9 and zero_even == 0:
        return "utf-16-le"
    if zero_even >= pairs * 0.9 and zero_odd == 0:
        return "utf-16-be"
    return None


class Utf8Check:
    """Feeds the upload through a strict UTF-8 decoder as it streams in and remembers the
    first bad byte. ASCII chunks (the common case) skip the decoder."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._offset = 0
        #: Offset (in the stored file) of the first byte that is not UTF-8, if any.
        self.first_error: int | None = None
        #: Whether valid multi-byte UTF-8 was seen before ``first_error``.
        self.saw_utf8 = False
        self.utf8_sequences = 0
        self.high_bytes = 0

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if self.first_error is None:
            self._check(chunk, final=final)
        else:  # evidence for the UTF-8-or-Windows-1252 decision
            self.utf8_sequences += len(_UTF8_SEQUENCE.findall(chunk))
            self.high_bytes += len(chunk) - len(chunk.translate(None, _HIGH_BYTES))
        self._offset += len(chunk)

    def _check(self, chunk: bytes, *, final: bool) -> None:
        pending = self._decoder.getstate()[0]
        if not pending and chunk.isascii():
            return
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as error:
            data = pending + chunk
            self.first_error = self._offset - len(pending) + error.start
            if not data[: error.start].isascii():
                self.saw_utf8 = True
            rest = data[error.start :]
            self.utf8_sequences += len(_UTF8_SEQUENCE.findall(rest))
            self.high_bytes += len(rest) - len(rest.translate(None, _HIGH_BYTES))
        else:
            self.saw_utf8 = True

    def finish(self) -> None:
        self.feed(b"", final=True)

    def looks_single_byte(self) -> bool:
        """Whether a file that is not UTF-8 reads as Windows-1252 rather than damaged UTF-8."""
        return not self.saw_utf8 and self.utf8_sequences * 2 < self.high_bytes


def line_and_column(path: Path, offset: int) -> tuple[int, int]:
    """The 1-based line and byte column of ``offset`` in the file at ``path``."""
    line, line_start, position = 1, 0, 0
    with path.open("rb") as file:
        while position < offset:
            block = file.read(min(1 << 20, offset - position))
            if not block:
                break
            newlines = block.count(b"\n")
            if newlines:
                line += newlines
                line_start = position + block.rindex(b"\n") + 1
            position += len(block)
    return line, offset - line_start + 1


def invalid_utf8(path: Path, offset: int) -> InvalidData:
    line, column = line_and_column(path, offset)
    return InvalidData(
        f"line {line:,}, byte {column:,}: invalid UTF-8 (save the file as UTF-8, or name its "
        "encoding)",
        code="invalid_encoding",
        line=line,
        column=column,
    )
