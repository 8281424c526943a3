"""Photo features for a list of listings, with a progress bar and bad photos counted by reason."""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from prodcat.data import Listing, LoadReport
from prodcat.image_encoder import PhotoEncoder, encode_photo_files

# Photos per forward pass. Small batches are cheaper on CPU: at 32 each batch's activations
# (tens of MB) are mapped and unmapped by malloc every layer, and the page faults cost more
# system time than the network's own arithmetic (160 dev photos: 5.0 s user + 7.6 s system
# at 32; 5.7 s + 0.7 s at 2; /tmp bench on the 2-core machine, load ~10).
PHOTO_BATCH = 2


def encode_listing_photos(
    listings: list[Listing], encoder: PhotoEncoder, report: LoadReport, *, progress: bool = True
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
            rows,
            encode_photo_files(paths, encoder, batch_size=PHOTO_BATCH, on_batch=bar.update),
            strict=True,
        ):
            if feats is None:
                report.skip(f"bad_photo_{reason}")
                if not listings[i].has_text:
                    report.skip("empty_listing_after_bad_photo")
            out[i] = feats
    return out
