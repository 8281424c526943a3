"""POST /products stores only photos the model can read. /predict learns that a photo is bad from
the model's decoder (prodcat.photos.decode_photo); /products stores a photo without asking the
model, so it checks the file's structure (lambdas/api/photos.py: storable_photo). Each photo
here was stored by /products and refused by /predict."""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib

import pytest
from api_harness import Api, s3_keys
from PIL import Image

from lambdas.api import photos as api_photos
from prodcat import photos as model_photos


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def noise(size: tuple[int, int] = (320, 240), seed: int = 0) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def png_bomb(width: int, height: int) -> bytes:
    """A real, decodable 1-bit PNG: tens of kilobytes on the wire, `width`x`height` pixels."""
    row = b"\0" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


JPEG = encode(noise(), "JPEG", quality=90)
SCAN = JPEG.index(b"\xff\xda")
REFUSED = {
    "truncated_jpeg": (JPEG[: len(JPEG) // 2], 400, "truncated"),
    "png_bomb_20000x20000": (png_bomb(20_000, 20_000), 413, "20000x20000 pixels"),
    "png_bomb_6000x6000": (png_bomb(6_000, 6_000), 413, "6000x6000 pixels"),
    "random_bytes_behind_a_jpeg_header": (
        b"\xff\xd8\xff\xe0" + random.Random(7).randbytes(50_000),
        400,
        "could not be read",
    ),
    "random_scan_data_behind_real_jpeg_headers": (
        JPEG[: SCAN + 14] + random.Random(3).randbytes(50_000) + b"\xff\xd9",
        400,
        "could not be read",
    ),
    "truncated_png": (encode(noise(), "PNG")[:-100], 400, "truncated"),
}
STORED = {
    "baseline_jpeg": JPEG,
    "progressive_jpeg": encode(noise(), "JPEG", progressive=True),
    "jpeg_with_restart_markers": encode(noise(), "JPEG", restart_marker_blocks=2),
    "png": encode(noise(), "PNG"),
    "gif": encode(noise().convert("P"), "GIF"),
    "bmp": encode(noise(), "BMP"),
    "webp": encode(noise(), "WEBP"),
    "webp_lossless": encode(noise(), "WEBP", lossless=True),
    "webp_with_alpha": encode(noise().convert("RGBA"), "WEBP"),
}


def product(photo: bytes) -> dict[str, object]:
    return {"designation": "Lampe", "photo": base64.b64encode(photo).decode(), "prdtypecode": 2060}


@pytest.mark.parametrize("name", REFUSED)
def test_products_refuses_what_the_model_refuses_and_stores_nothing(api: Api, name: str) -> None:
    photo, status, says = REFUSED[name]
    with pytest.raises(model_photos.PhotoError):  # what /predict's model says of it
        model_photos.decode_photo(photo)
    answer_status, _, answer = api.admin("POST", "/products", product(photo))
    assert answer_status == status, answer
    assert says in answer["message"]
    assert s3_keys(api.env["DATA_LAKE_BUCKET"], "raw/products/") == []


@pytest.mark.parametrize("name", STORED)
def test_products_stores_every_format_the_model_reads(api: Api, name: str) -> None:
    photo = STORED[name]
    size = model_photos.IMAGE_SIZE
    assert model_photos.decode_photo(photo).shape == (size, size, 3)
    status, _, answer = api.admin("POST", "/products", product(photo))
    assert status == 201, answer
    assert answer["photo_key"] in s3_keys(api.env["DATA_LAKE_BUCKET"], "raw/products/photos/")


def test_the_pixel_limit_is_the_models() -> None:
    assert api_photos.MAX_PIXELS == model_photos.MAX_PIXELS
