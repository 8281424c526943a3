"""The checks a photo passes before the API stores it or sends it to the model."""

from __future__ import annotations

import struct
import zlib

from lambdas.api.errors import BadRequest, PayloadTooLarge
from lambdas.api.models import MAX_PHOTO_BYTES, decode_photo_field
from prodcat_contracts.lake import photo_extension


def accepted_photo(encoded: str | None) -> bytes | None:
    """The photo's bytes; 413 over the limit, 400 when it is not a format the model reads.
    (The model still decodes it fully: a truncated JPEG is its 400 to give.)"""
    photo = decode_photo_field(encoded)
    if photo is None:
        return None
    if len(photo) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(
            f"the photo is {len(photo)} bytes; the limit is {MAX_PHOTO_BYTES} bytes. Downscale "
            "it to about 1000 px on its longest side (the model looks at 260x260).",
            limit_bytes=MAX_PHOTO_BYTES,
        )
    if photo_extension(photo) is None:
        raise BadRequest("photo is not a JPEG, PNG, WEBP, GIF or BMP image")
    return photo


# What the model refuses to decode (prodcat/photos.py: MAX_PIXELS); the Lambda has no PIL to
# ask, so a test keeps the two equal.
MAX_PIXELS = 20_000_000
# The JPEG markers that may follow a scan (progressive JPEGs hold several): tables, restart
# interval, another scan, comments, application data, the line count, and the end.
_JPEG_AFTER_SCAN = frozenset({0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xD9, 0xFE, *range(0xE0, 0xF0)})
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def storable_photo(encoded: str | None) -> bytes | None:
    """`accepted_photo`, and a photo training can read: /products stores it without asking the
    model (there may be none yet), so what /predict learns from the model's decoder is checked
    here from the file's structure, without decoding pixels: 413 over MAX_PIXELS (a
    decompression bomb is small on the wire), 400 when truncated or not the format it claims."""
    photo = accepted_photo(encoded)
    if photo is None:
        return None
    try:
        width, height = _dimensions(photo)
    except ValueError as exc:
        raise BadRequest(f"photo could not be read: {exc}") from exc
    except (IndexError, struct.error) as exc:  # a header that runs past the end
        raise BadRequest("photo could not be read: the file is truncated") from exc
    if width * height > MAX_PIXELS:
        raise PayloadTooLarge(
            f"the photo is {width}x{height} pixels; the limit is {MAX_PIXELS} pixels. Downscale "
            "it to about 1000 px on its longest side.",
            limit_pixels=MAX_PIXELS,
        )
    if width < 1 or height < 1:
        raise BadRequest(f"photo could not be read: it is {width}x{height} pixels")
    return photo


def _dimensions(photo: bytes) -> tuple[int, int]:
    """Width and height from the file's headers, after walking its structure to the end.
    Raises ValueError (or IndexError/struct.error on a short file) saying what is wrong."""
    extension = photo_extension(photo)
    if extension == "jpg":
        return _jpeg(photo)
    if extension == "png":
        return _png(photo)
    if extension == "gif":
        width, height = struct.unpack_from("<HH", photo, 6)
        if photo.rstrip(b"\0")[-1:] != b";":  # the trailer byte
            raise ValueError("the GIF is truncated")
        return width, height
    if extension == "bmp":
        size, width, height = struct.unpack_from("<I12xii", photo, 2)
        if len(photo) < size:
            raise ValueError("the BMP is truncated")
        return width, abs(height)
    return _webp(photo)


def _jpeg(photo: bytes) -> tuple[int, int]:
    size: tuple[int, int] | None = None
    position = 2  # after SOI
    while True:
        if photo[position] != 0xFF:
            raise ValueError(f"the JPEG has no marker where one belongs (byte {position})")
        marker = photo[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            break
        (length,) = struct.unpack_from(">H", photo, position + 2)
        if length < 2 or position + 2 + length > len(photo):
            raise ValueError("the JPEG is truncated")
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack_from(">HH", photo, position + 5)
            size = (width, height)
        position += 2 + length
        if marker == 0xDA:
            if size is None:
                raise ValueError("the JPEG has a scan before its frame header")
            position = _end_of_scan(photo, position)
            if photo[position + 1] not in _JPEG_AFTER_SCAN:
                raise ValueError(f"the JPEG's compressed data is corrupt (byte {position})")
    if size is None:
        raise ValueError("the JPEG has no frame header")
    return size


def _end_of_scan(photo: bytes, position: int) -> int:
    """Where the marker after a scan's compressed data starts; inside the data, 0xFF is
    followed by 0x00 (a stuffed byte) or a restart marker."""
    while True:
        position = photo.find(b"\xff", position)
        if position < 0:
            raise ValueError("the JPEG is truncated")
        following = photo[position + 1]
        if following == 0 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1
            continue
        return position


def _png(photo: bytes) -> tuple[int, int]:
    position, seen_data = 8, False
    size: tuple[int, int] | None = None
    while True:
        length, kind = struct.unpack_from(">I4s", photo, position)
        end = position + 8 + length
        if end + 4 > len(photo):
            raise ValueError("the PNG is truncated")
        (crc,) = struct.unpack_from(">I", photo, end)
        if zlib.crc32(photo[position + 4 : end]) != crc:
            raise ValueError(f"the PNG's {kind.decode('latin-1')!r} chunk is corrupt")
        if size is None and kind != b"IHDR":
            raise ValueError("the PNG does not start with its header")
        if kind == b"IHDR":
            width, height = struct.unpack_from(">II", photo, position + 8)
            size = (width, height)
        seen_data |= kind == b"IDAT"
        if kind == b"IEND":
            break
        position = end + 4
    if size is None or not seen_data:
        raise ValueError("the PNG holds no image data")
    return size


def _webp(photo: bytes) -> tuple[int, int]:
    (riff_size,) = struct.unpack_from("<I", photo, 4)
    if len(photo) < riff_size + 8:
        raise ValueError("the WEBP is truncated")
    kind = photo[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(photo[24:27], "little"), 1 + int.from_bytes(
            photo[27:30], "little"
        )
    if kind == b"VP8L":
        (bits,) = struct.unpack_from("<I", photo, 21)
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        width, height = struct.unpack_from("<HH", photo, 26)
        return width & 0x3FFF, height & 0x3FFF
    raise ValueError("the WEBP holds no image")
