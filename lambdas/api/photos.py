"""The checks a photo passes before the API stores it or sends it to the model."""

from __future__ import annotations

from lambdas.api.errors import BadRequest, PayloadTooLarge
from lambdas.api.models import MAX_PHOTO_BYTES, decode_photo_field
from lambdas.api.records import photo_extension


def accepted_photo(encoded: str | None) -> bytes | None:
    """The photo's bytes; 413 over the limit, 400 when it is not a format the model reads.
    (The model still decodes it fully: a truncated JPEG is its 400 to give.)"""
    photo = decode_photo_field(encoded)
    if photo is None:
        return None
    if len(photo) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(
            f"the photo is {len(photo)} bytes; the limit is {MAX_PHOTO_BYTES} bytes. Downscale "
            "it to about 1000 px on its longest side (the model looks at 224x224).",
            limit_bytes=MAX_PHOTO_BYTES,
        )
    if photo_extension(photo) is None:
        raise BadRequest("photo is not a JPEG, PNG, WEBP, GIF or BMP image")
    return photo
