"""Known listings for the post-deploy smoke test, with what the evaluated model answers for them.

The evaluation job picks a few test rows (some with a photo, some text only), asks the model
for them through the serving code itself (`inference.predictor.Predictor`), and writes
`smoke_cases.json` beside metrics.json. After the deploy, lambdas/pipeline/smoke.py sends the
same listings to the endpoint and expects that top-1 within the endpoint's top-k and the same
model version: the endpoint serves the model that was evaluated, through the same code.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from prodcat_contracts.lake import SMOKE_CASES

TOP_K = 5
# A serverless endpoint takes 4 MB per request: keep each case far below it.
MAX_PHOTO_BYTES = 512 * 1024
MAX_TEXT_CHARS = 5_000


class SmokeListing(BaseModel):
    """The /invocations request body of one case (prodcat_contracts/listing.py's Listing)."""

    model_config = ConfigDict(frozen=True)

    designation: str | None = None
    description: str | None = None
    photo: str | None = Field(default=None, description="base64")
    top_k: int = TOP_K


class SmokeCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    listing: SmokeListing
    expected_top1: int = Field(description="the evaluated model's top-1 for this listing")
    label: int = Field(description="the true type, for the record")


class SmokeCases(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_version: str
    top_k: int = TOP_K
    cases: list[SmokeCase] = Field(min_length=1)


def select_cases(test_dir: Path, model_dir: Path, count: int) -> SmokeCases:
    """`count` test listings, photos first (half at most), in id order: the same every run."""
    from inference.predictor import Predictor
    from prodcat.data import load_listings
    from prodcat_contracts.listing import Listing

    predictor = Predictor(model_dir)
    listings, _ = load_listings(test_dir, predictor.model.taxonomy)
    listings = sorted(
        (x for x in listings if len(x.text) <= MAX_TEXT_CHARS), key=lambda x: x.product_id
    )
    with_photo = [
        x for x in listings if x.photo is not None and x.photo.stat().st_size <= MAX_PHOTO_BYTES
    ][: count // 2]
    photo_ids = {x.product_id for x in with_photo}
    text_only = [x for x in listings if x.text and x.product_id not in photo_ids]
    chosen = with_photo + text_only[: count - len(with_photo)]
    requests = [
        # The loader's text is already `listing_text(title, description)`; sent as the
        # description alone, the server derives the very same text from it.
        SmokeListing(
            description=x.text or None,
            photo=base64.b64encode(x.photo.read_bytes()).decode()
            if x.product_id in photo_ids and x.photo is not None
            else None,
        )
        for x in chosen
    ]
    answers = predictor.predict([Listing.model_validate(r.model_dump()) for r in requests])
    return SmokeCases(
        model_version=predictor.model.version,
        cases=[
            SmokeCase(
                id=x.product_id,
                listing=request,
                expected_top1=answer.predictions[0].code,
                label=int(x.label or 0),
            )
            for x, request, answer in zip(chosen, requests, answers, strict=True)
        ],
    )


def write_cases(test_dir: Path, model_dir: Path, out_dir: Path, count: int) -> Path:
    cases = select_cases(test_dir, model_dir, count)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SMOKE_CASES
    path.write_text(json.dumps(cases.model_dump(mode="json"), ensure_ascii=False))
    return path
