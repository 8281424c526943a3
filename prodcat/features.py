"""Photo features for a list of listings, with a progress bar and bad photos counted by reason."""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from prodcat.data import Listing, LoadReport
from prodcat.image_encoder import ImageEncoder, encode_photo_files


def encode_listing_photos(
    listings: list[Listing], encoder: ImageEncoder, report: LoadReport, *, progress: bool = True
) -> list[np.ndarray | None]:
    """Features per listing (None without a usable photo), aligned with `listings`.

    A photo that cannot be decoded is recorded as `bad_photo_<reason>`; its listing keeps its
    text, and a listing left with neither is recorded as `empty_listing_after_bad_photo`.
    """
    rows = [i for i, listing in enumerate(listings) if listing.photo is not None]
    out: list[np.ndarray | None] = [None] * len(listings)
    with tqdm(total=len(rows), desc="encoding photos", unit="photo", disable=not progress) as bar:
        paths = [p for i in rows if (p := listings[i].photo) is not None]
        for i, (feats, reason) in zip(
            rows, encode_photo_files(paths, encoder, on_batch=bar.update), strict=True
        ):
            if feats is None:
                report.skip(f"bad_photo_{reason}")
                if not listings[i].has_text:
                    report.skip("empty_listing_after_bad_photo")
            out[i] = feats
    return out
