"""A dead-letter queue: where messages or events that could not be delivered are kept (14
days, encrypted, TLS only) for an alarm to page on and a person to replay."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge


def dead_letter_queue(scope: Construct, construct_id: str, *, holds: str) -> sqs.Queue:
    """The queue; `holds` says whose dead letters it keeps (cdk-nag's SQS3, "this queue has no
    dead-letter queue of its own", is acknowledged with it: a DLQ's DLQ would never be read)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(queue, holds, "AwsSolutions-SQS3")
    return queue
