"""The /invocations JSON contract: one listing, or a batch under `instances`."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prodcat_contracts.text import has_text

MAX_TOP_K = 27
MAX_BATCH = 32
MAX_TITLE_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
EMPTY_LISTING = "the listing is empty: send a designation, a description or a photo"
NO_TEXT_LEFT = (
    "the text is empty after removing markup, entities and invisible or control characters: "
    "send words the model can read, or a photo"
)


class Listing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    designation: str | None = Field(None, max_length=MAX_TITLE_CHARS, description="product title")
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION_CHARS, description="may hold HTML"
    )
    photo: str | None = Field(None, description="base64-encoded JPEG, PNG, WEBP, GIF or BMP")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="how many product types to return")

    @field_validator("photo")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("photo is not valid base64") from exc
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Listing:
        # `has_text` is what the model calls text: `<br>` or a zero-width space alone is none.
        if self.photo or has_text(self.designation, self.description):
            return self
        if (self.designation or "").strip() or (self.description or "").strip():
            raise ValueError(NO_TEXT_LEFT)
        raise ValueError(EMPTY_LISTING)

    def photo_bytes(self) -> bytes | None:
        return base64.b64decode(self.photo) if self.photo else None


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: list[Listing] = Field(..., min_length=1, max_length=MAX_BATCH)


class ProductType(BaseModel):
    code: int
    name: str
    name_fr: str
    probability: float


class Prediction(BaseModel):
    predictions: list[ProductType]
    model_version: str
    modalities: list[str] = Field(description="what the model used: text, photo or both")


class BatchPrediction(BaseModel):
    results: list[Prediction]
