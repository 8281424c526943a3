"""decode_photo / read_photo: the exact array the encoder reads, or a PhotoError with a reason code."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prodcat import photos
from prodcat.photos import IMAGE_SIZE, MAX_PHOTO_BYTES, PhotoError, decode_photo, read_photo


def _reason(call: Callable[[], object]) -> str:
    with pytest.raises(PhotoError) as info:
        call()
    assert str(info.value), "a PhotoError must say what is wrong"
    return info.value.reason


@pytest.mark.parametrize(
    ("fmt", "mode", "color"),
    [
        ("JPEG", "RGB", (200, 30, 30)),
        ("JPEG", "L", 120),
        ("PNG", "RGB", (200, 30, 30)),
        ("PNG", "RGBA", (200, 30, 30, 255)),
        ("PNG", "P", 3),
        ("GIF", "RGB", (200, 30, 30)),
        ("BMP", "RGB", (200, 30, 30)),
        ("WEBP", "RGB", (200, 30, 30)),
    ],
)
def test_accepted_formats_decode_to_square_rgb_uint8(
    make_image: Callable[..., bytes], fmt: str, mode: str, color: object
) -> None:
    arr = decode_photo(make_image(fmt, size=(300, 120), color=color, mode=mode))
    assert arr.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    assert arr.dtype == np.uint8


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decoded_pixels_keep_the_photo_colour(make_image: Callable[..., bytes], fmt: str) -> None:
    arr = decode_photo(make_image(fmt, size=(640, 640), color=(200, 30, 90)))
    np.testing.assert_allclose(arr.reshape(-1, 3).mean(axis=0), (200, 30, 90), atol=4)


@pytest.mark.parametrize("size", [(640, 320), (320, 640)])
def test_a_wide_or_tall_photo_is_seen_whole_on_white(
    make_image: Callable[..., bytes], size: tuple[int, int]
) -> None:
    # 2:1 -> the photo fills the middle half of the square, undistorted; the rest is white.
    arr = decode_photo(make_image("PNG", size=size, color=(200, 30, 90)))
    quarter = IMAGE_SIZE // 4
    photo = arr[quarter:-quarter] if size[0] > size[1] else arr[:, quarter:-quarter]
    pad = np.concatenate(
        [arr[: quarter - 1], arr[-quarter + 1 :]]
        if size[0] > size[1]
        else [arr[:, : quarter - 1], arr[:, -quarter + 1 :]],
        axis=0 if size[0] > size[1] else 1,
    )
    np.testing.assert_allclose(photo.reshape(-1, 3).mean(axis=0), (200, 30, 90), atol=1)
    assert (pad == 255).all()


def test_decoding_is_deterministic(make_noisy_jpeg: Callable[..., bytes]) -> None:
    data = make_noisy_jpeg((500, 400))
    np.testing.assert_array_equal(decode_photo(data), decode_photo(data))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, this is not a photo", "not_an_image"),
        (b"<html><body>404 Not Found</body></html>", "not_an_image"),
        (b"\x00" * 2048, "not_an_image"),
    ],
)
def test_unusable_bytes_give_reason(data: bytes, reason: str) -> None:
    assert _reason(lambda: decode_photo(data)) == reason


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.95])
def test_truncated_jpeg_is_corrupt(make_noisy_jpeg: Callable[..., bytes], keep: float) -> None:
    data = make_noisy_jpeg()
    assert _reason(lambda: decode_photo(data[: int(len(data) * keep)])) == "corrupt"


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM"])
def test_formats_outside_the_allowed_list_are_refused(
    make_image: Callable[..., bytes], fmt: str
) -> None:
    data = make_image(fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # PIL itself can read it
    assert _reason(lambda: decode_photo(data)) == "not_an_image"


def test_multi_picture_jpeg_from_a_phone_camera_is_accepted() -> None:
    first, second = Image.new("RGB", (64, 48), "red"), Image.new("RGB", (64, 48), "blue")
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[second])
    assert buf.getvalue()[:2] == b"\xff\xd8"
    assert decode_photo(buf.getvalue()).shape == (IMAGE_SIZE, IMAGE_SIZE, 3)


def test_bytes_over_the_size_limit_are_too_large_before_decoding() -> None:
    assert _reason(lambda: decode_photo(b"\xff\xd8" + b"\x00" * MAX_PHOTO_BYTES)) == "too_large"


def test_a_valid_photo_over_a_lowered_size_limit_is_too_large(
    monkeypatch: pytest.MonkeyPatch, make_noisy_jpeg: Callable[..., bytes]
) -> None:
    data = make_noisy_jpeg()
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", len(data) - 1)
    assert _reason(lambda: decode_photo(data)) == "too_large"
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", len(data))
    assert decode_photo(data).shape == (IMAGE_SIZE, IMAGE_SIZE, 3)


def test_a_21_megapixel_png_is_refused(make_image: Callable[..., bytes]) -> None:
    # A solid 1-bit PNG: a few KB on the wire, 61 MB once decoded to RGB.
    data = make_image("PNG", size=(5000, 4100), color=0, mode="1")
    assert len(data) < 100_000
    assert _reason(lambda: decode_photo(data)) == "too_many_pixels"


def test_pixel_limit_is_inclusive(
    monkeypatch: pytest.MonkeyPatch, make_image: Callable[..., bytes]
) -> None:
    monkeypatch.setattr(photos, "MAX_PIXELS", 64 * 48)
    assert decode_photo(make_image("PNG", size=(64, 48))).shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    assert _reason(lambda: decode_photo(make_image("PNG", size=(65, 48)))) == "too_many_pixels"


def test_pil_decompression_bomb_warning_is_a_refusal_not_a_log_line(
    monkeypatch: pytest.MonkeyPatch, make_image: Callable[..., bytes]
) -> None:
    # PIL only *warns* between MAX_IMAGE_PIXELS and twice that; decode_photo must refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)
    assert _reason(lambda: decode_photo(make_image("PNG", size=(60, 60)))) == "too_many_pixels"
    # ... and above twice the limit PIL raises, which is also a refusal.
    assert _reason(lambda: decode_photo(make_image("PNG", size=(100, 100)))) == "too_many_pixels"


def test_read_photo_reads_a_file(tmp_path: Path, make_image: Callable[..., bytes]) -> None:
    path = tmp_path / "image_1_product_2.jpg"
    path.write_bytes(make_image("JPEG", size=(500, 500), color=(10, 200, 10)))
    arr = read_photo(path)
    assert arr.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
    np.testing.assert_array_equal(arr, decode_photo(path.read_bytes()))


def test_read_photo_missing_file(tmp_path: Path) -> None:
    assert _reason(lambda: read_photo(tmp_path / "nope.jpg")) == "missing"


def test_read_photo_directory_is_unreadable(tmp_path: Path) -> None:
    assert _reason(lambda: read_photo(tmp_path)) == "unreadable"


def test_read_photo_refuses_a_huge_file_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.jpg"
    with path.open("wb") as f:
        f.truncate(MAX_PHOTO_BYTES + 1)  # sparse: costs no disk

    def fail(self: Path) -> bytes:
        raise AssertionError("read_photo read a file it should have refused by size")

    monkeypatch.setattr(Path, "read_bytes", fail)
    assert _reason(lambda: read_photo(path)) == "too_large"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"Not an image, just text\n", "not_an_image")],
)
def test_read_photo_passes_bad_content_reasons_through(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "image_1_product_2.jpg"
    path.write_bytes(content)
    assert _reason(lambda: read_photo(path)) == reason


def test_photo_error_is_a_value_error_with_the_limit_in_its_message() -> None:
    with pytest.raises(ValueError, match=str(MAX_PHOTO_BYTES)):
        decode_photo(b"x" * (MAX_PHOTO_BYTES + 1))
