"""Request and response bodies of the API. The OpenAPI document is generated from these.

/predict takes the same listing as the model's /invocations (prodcat_contracts/listing.py), so the
two can never disagree about what a listing is.

Photos travel inline, base64 in the JSON body, up to `MAX_PHOTO_BYTES` decoded. The limit is
set by the tightest hop: a serverless endpoint takes 4 MB per request, and 2.5 MiB of photo is
3.4 MB of base64, leaving room for the longest title and description. (API Gateway takes
10 MB and Lambda 6 MB.) The model looks at 260x260 pixels, so a website should downscale a
phone photo to about 1,000 px before sending it: that is faster for the seller too. An upload
URL to S3 would lift the limit but cost a second round trip on every prediction.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prodcat_contracts.listing import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, ProductType
from prodcat_contracts.listing import Listing as ModelListing
from prodcat_contracts.text import has_text

MAX_PHOTO_BYTES = int(2.5 * 1024 * 1024)
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def decode_photo_field(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("photo is not valid base64") from exc


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, examples=["seller@example.com"])
    password: str = Field(min_length=1, max_length=256)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        # Cognito checks deliverability by sending the code; this only catches typos early.
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("email must look like name@example.com")
        return value.lower()


class Confirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    code: str = Field(min_length=1, max_length=32, description="the code Cognito emailed")

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class Registered(BaseModel):
    user_id: str
    email: str
    confirmed: bool = Field(description="false until the emailed code is sent to POST /confirm")
    next_step: str


class Tokens(BaseModel):
    id_token: str = Field(description="send as the Authorization header")
    access_token: str
    refresh_token: str | None
    expires_in: int = Field(description="seconds until the tokens expire")
    token_type: str = "Bearer"


class PredictRequest(ModelListing):
    """A listing to classify: any of title, description and photo, at least one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"designation": "Lot de 3 coussins déhoussables 40x40", "top_k": 3},
            ]
        },
    )


class PredictResponse(BaseModel):
    prediction_id: str = Field(description="send it back with POST /feedback")
    predictions: list[ProductType] = Field(description="most probable first")
    model_version: str
    modalities: list[str] = Field(description="what the model used: text, photo or both")
    latency_ms: float


class LoggedInput(BaseModel):
    designation: str | None
    description: str | None
    photo_bytes: int | None


class LoggedPrediction(BaseModel):
    code: int
    name: str
    probability: float


class LogEntry(BaseModel):
    prediction_id: str
    user_id: str
    requested_at: datetime
    input: LoggedInput
    predictions: list[LoggedPrediction]
    model_version: str
    latency_ms: float
    chosen_code: int | None = Field(
        default=None, description="what the seller chose, from /feedback"
    )


class LogPage(BaseModel):
    items: list[LogEntry] = Field(description="newest first")
    next_token: str | None = Field(description="pass as next_token for the next page")


class ProductIn(BaseModel):
    """A labelled product for the next retraining."""

    model_config = ConfigDict(extra="forbid")

    product_id: str | None = Field(
        None,
        pattern=PRODUCT_ID_PATTERN,
        description="your id for it (letters, digits, _ . -); one is made when absent",
    )
    designation: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)
    photo: str | None = Field(None, description="base64 JPEG, PNG, WEBP, GIF or BMP")
    prdtypecode: int = Field(description="its product type (one of the 27 codes)")

    @field_validator("photo")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        decode_photo_field(value)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> ProductIn:
        # Training reads text as the model does (`has_text`): a title of `<br>` is no title.
        if not has_text(self.designation, None) and not self.photo:
            raise ValueError(
                "a product needs a designation or a photo (a designation must have text left "
                "once markup and invisible characters are removed)"
            )
        return self


class ProductStored(BaseModel):
    product_id: str
    prdtypecode: int
    record_key: str
    photo_key: str | None


class ProductDeleted(BaseModel):
    product_id: str
    removed_from_catalogue: bool = Field(
        description="false when it was not an admin-added product (e.g. from the base data); "
        "it is left out of training either way"
    )


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(min_length=1, max_length=200, description="from POST /predict")
    prdtypecode: int = Field(description="the product type the seller finally chose")


class FeedbackStored(BaseModel):
    prediction_id: str
    prdtypecode: int
    predicted_code: int
    record_key: str


class Health(BaseModel):
    status: Literal["ok"]
    stage: str
