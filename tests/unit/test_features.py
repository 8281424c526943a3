"""encode_listing_photos with the real EfficientNet-Lite2: bad photos counted, text kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from prodcat.data import Listing, LoadReport, load_listings
from prodcat.features import encode_listing_photos
from prodcat.image_encoder import FEATURE_DIM, TorchEncoder, default_encoder
from prodcat.photos import decode_photo
from prodcat_contracts.taxonomy import builtin_taxonomy


@pytest.fixture(scope="module")
def encoder() -> TorchEncoder:
    return default_encoder()


def test_bad_photos_are_counted_and_text_is_kept(
    tmp_path: Path,
    write_dataset: Callable[..., Path],
    make_image: Callable[..., bytes],
    broken_jpeg: bytes,
    encoder: TorchEncoder,
) -> None:
    red = make_image("JPEG", size=(320, 240), color=(220, 20, 20))
    blue = make_image("JPEG", size=(320, 240), color=(20, 20, 220))
    rows = [
        ("0", "Casque gaming sans fil", "", "1", "11", 50),  # good photo
        ("1", "Manette PS4", "neuve", "2", "12", 50),  # truncated JPEG
        ("2", "", "", "3", "13", 50),  # photo only, text bytes named .jpg
        ("3", "Console Switch", "", "4", "", 60),  # no photo at all
        ("4", "", "", "5", "15", 60),  # photo only, good photo
    ]
    photos = {
        ("11", "1"): red,
        ("12", "2"): broken_jpeg,
        ("13", "3"): b"Sorry, this image is no longer available.\n",
        ("15", "5"): blue,
    }
    listings, report = load_listings(
        write_dataset(tmp_path / "d", rows, photos=photos), builtin_taxonomy()
    )
    assert report.rows_kept == 5 and not report.skipped

    feats = encode_listing_photos(listings, encoder, report, progress=False)

    assert len(feats) == len(listings)
    assert feats[1] is None and feats[2] is None and feats[3] is None
    assert dict(report.skipped) == {
        "bad_photo_corrupt": 1,
        "bad_photo_not_an_image": 1,
        "empty_listing_after_bad_photo": 1,
    }
    # The listing with a broken photo keeps its text and label untouched.
    assert (listings[1].text, listings[1].label) == ("Manette PS4 . neuve", 50)

    good = [feats[0], feats[4]]
    for f in good:
        assert f is not None
        assert f.shape == (FEATURE_DIM,)
        assert f.dtype == np.float32
        assert np.isfinite(f).all()
    assert not np.allclose(good[0], good[1]), "different photos must give different features"

    # Training-time features (files, batched) equal serving-time ones (bytes, one photo).
    served = encoder.encode(decode_photo(red)[None])[0]
    np.testing.assert_allclose(good[0], served, rtol=1e-4, atol=1e-4)


def test_listings_without_photos_need_no_encoding(encoder: TorchEncoder) -> None:
    listings = [Listing("1", "Roman Gallimard", None, 10), Listing("2", "Puzzle", None, 1281)]
    report = LoadReport()
    assert encode_listing_photos(listings, encoder, report, progress=False) == [None, None]
    assert not report.skipped


def test_missing_file_after_loading_is_counted(tmp_path: Path, encoder: TorchEncoder) -> None:
    # The photo was indexed, then removed before encoding (e.g. a sync still running).
    listings = [Listing("1", "Transat", tmp_path / "image_1_product_1.jpg", 2582)]
    report = LoadReport()
    assert encode_listing_photos(listings, encoder, report, progress=False) == [None]
    assert dict(report.skipped) == {"bad_photo_missing": 1}
