"""POST /feedback: the product type a seller finally chose for one of their predictions.

It becomes a label: the listing (from the seller's request log) and its photo (copied out of
the expiring capture zone) are written to raw/feedback/ for the next retraining. The key is the
prediction's, so a seller who changes their mind overwrites their earlier choice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.api import request_log, undelivered
from lambdas.api.clients import client
from lambdas.api.delivery import deliver, put_object
from lambdas.api.errors import NotFound
from lambdas.api.identity import Caller
from lambdas.api.models import FeedbackIn, FeedbackStored
from lambdas.api.settings import ApiSettings
from lambdas.api.taxonomy import check_code
from prodcat_contracts.lake import FeedbackRecord, PhotoRef, feedback_key, feedback_photo_key

logger = Logger(child=True)


def _copy_photo(item: dict[str, Any], settings: ApiSettings) -> PhotoRef | None:
    source = item.get("photo_key")
    if not source:
        return None
    extension = source.rpartition(".")[2]
    target = feedback_photo_key(settings.raw_prefix, item["request_id"], extension)
    try:
        client("s3").copy_object(
            Bucket=settings.data_lake_bucket,
            Key=target,
            CopySource={"Bucket": settings.data_lake_bucket, "Key": source},
        )
    except (ClientError, BotoCoreError) as exc:
        # The capture may have expired or never been written: keep the label, text only.
        logger.warning("photo not copied to the feedback", source=source, error=str(exc))
        return None
    return PhotoRef(key=target, bytes=int(item["photo_bytes"]), sha256=item["photo_sha256"])


def give_feedback(feedback: FeedbackIn, caller: Caller, settings: ApiSettings) -> FeedbackStored:
    check_code(feedback.prdtypecode)
    table = settings.request_log_table
    # Read from the caller's own partition: another seller's prediction is simply not found.
    item = request_log.get(table, caller.user_id, feedback.prediction_id)
    if item is None:
        raise NotFound(
            f"no prediction {feedback.prediction_id!r} in your log: use a prediction_id from "
            f"POST /predict (the log keeps them {settings.request_log_ttl_days} days)"
        )
    requested_at = datetime.fromisoformat(item["at"])
    record = FeedbackRecord(
        request_id=item["request_id"],
        prdtypecode=feedback.prdtypecode,
        predicted_code=int(item["predictions"][0]["code"]),
        model_version=item["model_version"],
        designation=item.get("designation"),
        description=item.get("description"),
        photo=_copy_photo(item, settings),
        given_at=datetime.now(UTC),
    )
    bucket, queue = settings.data_lake_bucket, settings.undelivered_queue_url
    key = feedback_key(settings.raw_prefix, record.request_id, requested_at)
    body = record.model_dump_json().encode()
    deliver(
        undelivered.s3_object("feedback", bucket, key, body, "application/json"),
        lambda: put_object(bucket, key, body, "application/json"),
        queue,
    )
    deliver(
        undelivered.dynamodb_update(
            "request_log_choice",
            table,
            {"user_id": caller.user_id, "requested_at": feedback.prediction_id},
            {"chosen_code": feedback.prdtypecode},
        ),
        lambda: request_log.set_chosen_code(
            table, caller.user_id, feedback.prediction_id, feedback.prdtypecode
        ),
        queue,
    )
    return FeedbackStored(
        prediction_id=feedback.prediction_id,
        prdtypecode=feedback.prdtypecode,
        predicted_code=record.predicted_code,
        record_key=key,
    )
