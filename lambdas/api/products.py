"""POST /products and DELETE /products/{id} (admins): labelled products for the next retraining.

The catalogue table says which admin-added products exist; the data lake's raw zone holds what
training reads (records/photos keyed by product id, tombstones for deletions). A product is
accepted only once its catalogue claim, photo and record are all written; otherwise the caller
gets a 503 and the claim is released (a photo written before the failure stays, but prepare
trains only on products with a record). Writes are keyed by product id: a retry is safe.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.api import request_log
from lambdas.api.clients import client
from lambdas.api.delivery import put_object
from lambdas.api.errors import BadRequest, Conflict, Unavailable
from lambdas.api.identity import Caller
from lambdas.api.models import (
    PRODUCT_ID_PATTERN,
    ProductDeleted,
    ProductIn,
    ProductStored,
)
from lambdas.api.photos import storable_photo
from lambdas.api.settings import ApiSettings
from lambdas.api.taxonomy import check_code
from prodcat_contracts.lake import (
    PhotoRef,
    ProductRecord,
    Tombstone,
    photo_extension,
    product_photo_key,
    product_record_key,
    tombstone_key,
)

logger = Logger(child=True)
_STORE_FAILED = "the product could not be stored; nothing was kept, try again"


def add_product(product: ProductIn, caller: Caller, settings: ApiSettings) -> ProductStored:
    caller.require_admin()
    check_code(product.prdtypecode)
    photo = storable_photo(product.photo)
    product_id = product.product_id or uuid.uuid4().hex
    now = datetime.now(UTC)
    photo_ref = None
    if photo is not None:
        key = product_photo_key(settings.raw_prefix, product_id, photo_extension(photo) or "bin")
        photo_ref = PhotoRef(key=key, bytes=len(photo), sha256=hashlib.sha256(photo).hexdigest())
    record = ProductRecord(
        product_id=product_id,
        designation=product.designation,
        description=product.description,
        photo=photo_ref,
        prdtypecode=product.prdtypecode,
        added_by=caller.user_id,
        added_at=now,
    )
    record_key = product_record_key(settings.raw_prefix, product_id)
    _claim(settings.products_table, record, record_key)
    try:
        if photo is not None and photo_ref is not None:
            put_object(settings.data_lake_bucket, photo_ref.key, photo, "application/octet-stream")
        put_object(
            settings.data_lake_bucket,
            record_key,
            record.model_dump_json().encode(),
            "application/json",
        )
        # Re-adding a deleted id brings it back into training.
        client("s3").delete_object(
            Bucket=settings.data_lake_bucket, Key=tombstone_key(settings.raw_prefix, product_id)
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error(
            "storing the product failed; releasing its id", product_id=product_id, error=str(exc)
        )
        _release(settings.products_table, product_id)
        raise Unavailable(_STORE_FAILED, retry_after_seconds=5) from exc
    return ProductStored(
        product_id=product_id,
        prdtypecode=product.prdtypecode,
        record_key=record_key,
        photo_key=photo_ref.key if photo_ref else None,
    )


def _claim(table: str, record: ProductRecord, record_key: str) -> None:
    item = record.model_dump(mode="json", exclude={"photo"})
    item.update(record_key=record_key, photo_key=record.photo.key if record.photo else None)
    try:
        client("dynamodb").put_item(
            TableName=table,
            Item=request_log.serialize(item),
            ConditionExpression="attribute_not_exists(product_id)",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise Conflict(
                f"product {record.product_id} exists: DELETE /products/{record.product_id} first"
            ) from exc
        raise Unavailable(_STORE_FAILED, retry_after_seconds=5) from exc
    except BotoCoreError as exc:
        raise Unavailable(_STORE_FAILED, retry_after_seconds=5) from exc


def _release(table: str, product_id: str) -> None:
    try:
        client("dynamodb").delete_item(TableName=table, Key={"product_id": {"S": product_id}})
    except (ClientError, BotoCoreError) as exc:
        logger.error("could not release the product id", product_id=product_id, error=str(exc))


def delete_product(product_id: str, caller: Caller, settings: ApiSettings) -> ProductDeleted:
    """Leave a product out of training: an admin-added one is removed from the catalogue and
    the lake; any id (also one from the base data) gets a tombstone that prepare honours."""
    caller.require_admin()
    if not re.fullmatch(PRODUCT_ID_PATTERN, product_id):
        raise BadRequest(
            f"{product_id!r} is not a product id: use letters, digits, _ . - (up to 64)",
            errors=[{"field": "product_id", "message": "invalid product id"}],
        )
    bucket, raw = settings.data_lake_bucket, settings.raw_prefix
    tombstone = Tombstone(
        product_id=product_id, deleted_by=caller.user_id, deleted_at=datetime.now(UTC)
    )
    try:
        # The tombstone first: once it is written the product is out of training whatever
        # happens to the rest.
        put_object(
            bucket,
            tombstone_key(raw, product_id),
            tombstone.model_dump_json().encode(),
            "application/json",
        )
        removed = (
            client("dynamodb")
            .delete_item(
                TableName=settings.products_table,
                Key={"product_id": {"S": product_id}},
                ReturnValues="ALL_OLD",
            )
            .get("Attributes")
        )
        if removed:
            old = request_log.deserialize(removed)
            keys = [k for k in (old.get("record_key"), old.get("photo_key")) if k]
            if keys:
                client("s3").delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
                )
    except (ClientError, BotoCoreError) as exc:
        raise Unavailable(
            "the product could not be deleted; try again", retry_after_seconds=5
        ) from exc
    return ProductDeleted(product_id=product_id, removed_from_catalogue=bool(removed))
