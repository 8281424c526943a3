"""Photo decoding with hard limits, shared by training and serving.

Every photo, from disk or from a request, goes through `decode_photo`: it refuses non-images,
truncated files, oversized files and decompression bombs *before* decoding pixels, and returns
the exact array the image encoder reads.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# EfficientNet-Lite2's own input size (prodcat.image_encoder.BACKBONE; Lite0's was 224).
IMAGE_SIZE = 260
# How a photo becomes a square: "letterbox" scales its long side to IMAGE_SIZE and pads the
# short side with white, so a wide or tall product is seen whole and undistorted (part of the
# features' meaning: prodcat.image_encoder.REPRESENTATION). The dev photos are all white-padded
# 500x500 squares, where both are the same; cut to their content (as a seller's own photo often
# is), a photo head trained on them scored top-1 0.389 stretched vs 0.417 letterboxed (0.423
# uncut), better on 5 of 5 folds (scripts/photo_variants.py, issue 12).
PHOTO_FIT = "letterbox"
_PAD = (255, 255, 255)
# The largest photo the model decodes, sent in a request or read from the lake. Not a serverless
# limit: a serverless endpoint takes 4 MB per request, so through the API (6 MB, Lambda's own
# payload limit) no more than its 2.5 MiB photo (lambdas/api/models.py) reaches the model; 3 MiB
# (4 MiB of base64) reaches it from the local stack or a Batch Transform job.
MAX_PHOTO_BYTES = 3 * 1024 * 1024
# A 20-megapixel photo decodes to 60 MB of RGB; anything larger is refused, not resized.
MAX_PIXELS = 20_000_000
# MPO is how PIL names the JPEGs many phone cameras write (a JPEG with an MPF block).
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"})


class PhotoError(ValueError):
    """A photo that cannot be used; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_photo(data: bytes) -> np.ndarray:
    """uint8 RGB array of shape (IMAGE_SIZE, IMAGE_SIZE, 3), or PhotoError saying why not."""
    if not data:
        raise PhotoError("empty", "the photo is empty (0 bytes)")
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(
            "too_large",
            f"the photo is {len(data)} bytes; the limit is {MAX_PHOTO_BYTES} bytes",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in ALLOWED_FORMATS:
                raise PhotoError(
                    "not_an_image",
                    f"photo format {img.format} is not accepted; send JPEG, PNG, WEBP, GIF or BMP",
                )
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise PhotoError(
                    "too_many_pixels",
                    f"the photo is {width}x{height} pixels; the limit is {MAX_PIXELS} pixels",
                )
            # JPEG can decode straight to a reduced scale: much faster, same result every time.
            img.draft("RGB", (IMAGE_SIZE, IMAGE_SIZE))
            return np.asarray(letterbox(img.convert("RGB"), IMAGE_SIZE), dtype=np.uint8)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError("too_many_pixels", f"the photo is too large to decode: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise PhotoError("not_an_image", "the bytes are not a readable image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # PIL reports truncated or corrupt data as OSError/SyntaxError.
        raise PhotoError("corrupt", f"the photo could not be decoded: {exc}") from exc


def letterbox(img: Image.Image, size: int, fill: tuple[int, int, int] = _PAD) -> Image.Image:
    """`img` scaled to fit a `size` square, aspect kept, centred on `fill` (white: most product
    photos' own background, so the padding reads as more of it)."""
    scale = size / max(img.size)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    out = Image.new("RGB", (size, size), fill)
    out.paste(img.resize((w, h), Image.Resampling.BILINEAR), ((size - w) // 2, (size - h) // 2))
    return out


def read_photo(path: Path) -> np.ndarray:
    """`decode_photo` for a file, checking its size before reading it."""
    try:
        size = path.stat().st_size
        if size > MAX_PHOTO_BYTES:
            raise PhotoError(
                "too_large", f"the photo is {size} bytes; the limit is {MAX_PHOTO_BYTES} bytes"
            )
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PhotoError("missing", f"photo file not found: {path}") from exc
    except OSError as exc:
        raise PhotoError("unreadable", f"photo file unreadable: {exc}") from exc
    return decode_photo(data)
