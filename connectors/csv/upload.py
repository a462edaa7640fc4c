"""Receiving an upload: stream it to a file while counting, hashing and checking it.

The result is always a UTF-8 file without a byte-order mark (what DuckDB reads fastest):
UTF-8 uploads are written as they come and checked on the way; UTF-16 (and an encoding named
by the person) is transcoded while streaming; Windows-1252, known only once a UTF-8 check
failed, is transcoded after the upload in one more streaming pass. The upload is cut off as
soon as it passes ``max_bytes``; on any error the file is removed.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from connectors.csv.encoding import (
    HEAD_BYTES,
    SINGLE_BYTE_FALLBACK,
    Head,
    Utf8Check,
    inspect_head,
    invalid_utf8,
    line_and_column,
    not_csv,
)
from connectors.errors import InvalidData, TooLarge

_TRANSCODE_BLOCK: Final = 1 << 20


@dataclass(frozen=True)
class Upload:
    #: The upload as UTF-8 without a byte-order mark.
    path: Path
    #: Bytes received (the upload as sent).
    byte_size: int
    #: SHA-256 of the upload as sent, hex.
    sha256: str
    #: What it was encoded in: "utf-8", "utf-8-sig" (with a BOM), "utf-16-le", "cp1252", ...
    encoding: str


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":  # noqa: PLR2004
            return (
                f"{size:,.0f} {unit}"
                if unit == "bytes" or size.is_integer()
                else f"{size:,.1f} {unit}"
            )
        size /= 1024
    raise AssertionError  # pragma: no cover


async def receive_upload(
    chunks: AsyncIterator[bytes], *, work_dir: Path, max_bytes: int, encoding: str | None = None
) -> Upload:
    """Stream ``chunks`` into a UTF-8 file in ``work_dir`` (see the module docstring)."""
    path = work_dir / f"upload-{secrets.token_hex(8)}.csv"
    receiver = _Receiver(path, max_bytes=max_bytes, encoding=_codec(encoding))
    try:
        try:
            async for chunk in chunks:
                receiver.feed(chunk)
        finally:
            with contextlib.suppress(Exception):
                await chunks.aclose()  # type: ignore[attr-defined]
        receiver.finish()
        found = receiver.encoding
        if receiver.needs_single_byte_fallback:
            await asyncio.to_thread(_transcode_file, path, receiver.check)
            found = SINGLE_BYTE_FALLBACK
        return Upload(path, receiver.total, receiver.hasher.hexdigest(), found)
    except BaseException:
        receiver.close()
        path.unlink(missing_ok=True)
        path.with_suffix(".tmp").unlink(missing_ok=True)
        raise


def _codec(encoding: str | None) -> str | None:
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidData(f"unknown encoding {encoding!r}", code="invalid_option") from None


class _Receiver:
    def __init__(self, path: Path, *, max_bytes: int, encoding: str | None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.requested = encoding
        self.file: IO[bytes] = path.open("wb")
        self.hasher = hashlib.sha256()
        self.total = 0
        self.written = 0
        self.head = bytearray()
        self.encoding = ""
        self.check: Utf8Check | None = None
        self.decoder: codecs.IncrementalDecoder | None = None
        self.lines_decoded = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.total += len(chunk)
        if self.total > self.max_bytes:
            raise TooLarge(
                f"the upload is over the {human_bytes(self.max_bytes)} limit (split the file, "
                "or filter it before uploading)"
            )
        self.hasher.update(chunk)
        if self.encoding:
            self._process(chunk)
            return
        self.head += chunk
        if len(self.head) >= HEAD_BYTES:
            self._start()

    def _start(self) -> None:
        head = bytes(self.head)
        self.head.clear()
        found = (
            inspect_head(head[:HEAD_BYTES]) if self.requested is None else Head(self.requested, 0)
        )
        self.encoding = found.encoding
        if found.encoding in {"utf-8", "utf-8-sig"}:
            self.check = Utf8Check()
        else:
            self.decoder = codecs.getincrementaldecoder(found.encoding)("strict")
        self._process(head[found.skip :])

    def _process(self, chunk: bytes) -> None:
        if self.check is not None:
            self._write(chunk)
            self.check.feed(chunk)
            if b"\x00" in chunk:
                self.file.flush()
                at = self.written - len(chunk) + chunk.index(b"\x00")
                line, _ = line_and_column(self.path, at)
                raise not_csv(f"it contains binary data (a NUL byte on line {line:,})")
            return
        assert self.decoder is not None
        try:
            text = self.decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise InvalidData(
                f"line {self.lines_decoded + 1:,}: invalid {self.encoding} data ({error.reason})",
                code="invalid_encoding",
                line=self.lines_decoded + 1,
            ) from None
        if "\x00" in text:
            raise not_csv("it contains binary data (NUL characters)")
        self.lines_decoded += text.count("\n")
        self._write(text.encode("utf-8"))

    def _write(self, data: bytes) -> None:
        self.file.write(data)
        self.written += len(data)

    def finish(self) -> None:
        if self.total == 0:
            raise InvalidData("the file is empty", code="empty_file")
        if not self.encoding:
            self._start()
        if self.decoder is not None:
            self._process_final()
        self.file.close()
        if self.check is not None:
            self.check.finish()
            if self.check.first_error is not None and not self.needs_single_byte_fallback:
                raise invalid_utf8(self.path, self.check.first_error)

    def _process_final(self) -> None:
        assert self.decoder is not None
        try:
            tail = self.decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidData(
                f"the file ends in the middle of a {self.encoding} character",
                code="invalid_encoding",
            ) from None
        self._write(tail.encode("utf-8"))

    @property
    def needs_single_byte_fallback(self) -> bool:
        check = self.check
        return (
            check is not None
            and check.first_error is not None
            and self.requested is None
            and check.looks_single_byte()
        )

    def close(self) -> None:
        self.file.close()


def _transcode_file(path: Path, check: Utf8Check | None) -> None:
    """Rewrite ``path`` from Windows-1252 to UTF-8, or raise the UTF-8 error if it is not
    Windows-1252 either (a byte that code page leaves undefined)."""
    assert check is not None
    assert check.first_error is not None
    staging = path.with_suffix(".tmp")
    with path.open("rb") as source, staging.open("wb") as target:
        while block := source.read(_TRANSCODE_BLOCK):
            try:
                target.write(block.decode(SINGLE_BYTE_FALLBACK).encode("utf-8"))
            except UnicodeDecodeError:
                raise invalid_utf8(path, check.first_error) from None
    staging.replace(path)
