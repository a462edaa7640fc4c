"""Looking at rendered pictures in tests: PNGs decoded with zlib alone (no image library is a
dependency), so a test can say a chart is not blank, how large it is, how much ink it has."""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE, "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_pixels(png: bytes) -> list[bytes]:
    """The unfiltered rows of an 8-bit RGBA PNG (what vl-convert writes), ``width * 4`` bytes
    each."""
    width, height = png_size(png)
    position, chunks = 8, []
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if kind == b"IHDR":
            depth, color_type = png[position + 16], png[position + 17]
            assert (depth, color_type) == (8, 6), f"expected 8-bit RGBA, got {depth=} {color_type=}"
        elif kind == b"IDAT":
            chunks.append(png[position + 8 : position + 8 + length])
        position += 12 + length
    raw, stride = zlib.decompress(b"".join(chunks)), width * 4
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - 4] if x >= 4 else 0
            up = previous[x]
            corner = previous[x - 4] if x >= 4 else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (
                    line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def pixel_variance(png: bytes) -> float:
    """The variance of the pixels' grey levels (every other row and pixel): 0 when blank."""
    greys = [
        (row[x] * 299 + row[x + 1] * 587 + row[x + 2] * 114) / 1000
        for row in png_pixels(png)[::2]
        for x in range(0, len(row), 8)
    ]
    mean = sum(greys) / len(greys)
    return sum((g - mean) ** 2 for g in greys) / len(greys)


def ink_share(png: bytes) -> float:
    """The share of pixels that are not plain white."""
    pixels = [row[i : i + 4] for row in png_pixels(png) for i in range(0, len(row), 4)]
    return sum(1 for p in pixels if p[:3] != b"\xff\xff\xff") / len(pixels)
