"""Writing records the API has accepted, so that none is lost.

boto3 already retries throttling and transient errors with backoff (clients.py). When a write
still fails, the record goes to the undelivered-records queue (an alarm pages on-call while it
holds anything). When the queue fails too, or the record is too large for it (a photo), the
record is printed in full as JSON log lines (format in undelivered.py), and the queue gets a
pointer to them. `prodcat records drain` and `prodcat records replay` write them back.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.api.clients import client
from lambdas.api.undelivered import QUEUE_LIMIT, Record, print_lines

logger = Logger(child=True)


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    # The bucket encrypts by default and refuses plain HTTP (data lake construct).
    client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def _send(queue_url: str, message: str, record: Record) -> bool:
    try:
        client("sqs").send_message(QueueUrl=queue_url, MessageBody=message)
        return True
    except (ClientError, BotoCoreError) as exc:
        logger.warning("the undelivered queue failed too", kind=record.kind, error=str(exc))
        return False


def deliver(record: Record, write: Callable[[], object], queue_url: str) -> bool:
    """Run `write()` (which stores `record`); on failure queue it, or log it. True if written."""
    try:
        write()
        return True
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "write failed; sending to the undelivered queue", kind=record.kind, error=str(exc)
        )
    message = record.queue_message()
    fits = len(message.encode()) <= QUEUE_LIMIT
    if fits and _send(queue_url, message, record):
        return False
    lines = print_lines(record)
    # Too large for the queue: a pointer still pages on-call. (A queue that just failed is not
    # tried twice: the caller is waiting.)
    queued = not fits and _send(queue_url, record.pointer_message(), record)
    logger.error(
        "record undelivered: logged in full for `prodcat records replay`",
        kind=record.kind,
        record_id=record.id,
        destination=record.destination.model_dump(),
        log_lines=lines,
        pointer_queued=queued,
    )
    return False
