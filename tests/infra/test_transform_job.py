"""`prodcat batch` on AWS: the Batch Transform job it starts, against botocore's service model of
CreateTransformJob (types, enums, ranges, patterns) and moto's SageMaker and S3."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore_contract as contract
import pytest
from moto import mock_aws

from prodcat.sample_catalog import write_sample_catalog
from prodcat.transform_job import (
    MAX_PAYLOAD_MB,
    endpoint_name,
    start_catalogue_transform,
    transform_request,
)

REGION = "eu-west-3"
BUCKET = "prodcat-prod-data-datalakebucket-1a2b3c4d"


def _create_transform_job() -> object:
    return contract.service_model("sagemaker").operation_model("CreateTransformJob").input_shape


def test_the_request_matches_create_transform_job_in_botocores_model() -> None:
    request = transform_request(
        name="prodcat-batch-20261203-120000",
        model_name="prodcat-prod-1a2b3c4d1a2b3c4d5e6f7a8b",
        input_uri=f"s3://{BUCKET}/models/predictions/v1/input/",
        output_uri=f"s3://{BUCKET}/models/predictions/v1/output/",
        photo_bucket=BUCKET,
        photo_prefix="raw/base/",
        kms_key_id="arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    assert contract.check_value(request, _create_transform_job(), "CreateTransformJob") == []
    # The Batch Transform contract inference/batch.py implements, and the container's limit.
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformInput"]["ContentType"] == "application/jsonlines"
    assert request["BatchStrategy"] == "MultiRecord"
    assert request["TransformOutput"]["AssembleWith"] == "Line"
    from inference.server import MAX_BODY_BYTES

    assert MAX_PAYLOAD_MB * 1024 * 1024 < MAX_BODY_BYTES


def test_the_checker_refuses_what_sagemaker_would() -> None:
    request = transform_request(
        name="x" * 64,
        model_name="m",
        input_uri="s3://b/i/",
        output_uri="s3://b/o/",
        photo_bucket="b",
        photo_prefix="raw/",
    )
    request["BatchStrategy"] = "Lines"
    problems = contract.check_value(request, _create_transform_job(), "CreateTransformJob")
    assert any("TransformJobName" in p for p in problems)
    assert any("BatchStrategy" in p for p in problems)


@pytest.fixture
def aws(aws_env: None) -> object:
    with mock_aws():
        yield


def test_batch_on_s3_writes_json_lines_and_starts_a_job_on_the_served_model(
    aws: object, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    sm = boto3.client("sagemaker", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    catalog = write_sample_catalog(tmp_path / "catalog", per_class=1, seed=1)
    for path in catalog.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"raw/base/{path.relative_to(catalog).as_posix()}")
    role = "arn:aws:iam::123456789012:role/model"
    sm.create_model(
        ModelName="prodcat-prod-served",
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-3.amazonaws.com/serve:1"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="prodcat-prod-cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "prodcat-prod-served",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    sm.create_endpoint(EndpointName=endpoint_name("prod"), EndpointConfigName="prodcat-prod-cfg")

    started = start_catalogue_transform(
        f"s3://{BUCKET}/raw/base/",
        f"s3://{BUCKET}/models/predictions/manual/",
        endpoint=endpoint_name("prod"),
        s3=s3,
        sagemaker=sm,
        now=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
    )
    job = sm.describe_transform_job(TransformJobName="prodcat-batch-20261203-120000")
    assert job["ModelName"] == "prodcat-prod-served"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/input/")
    body = s3.get_object(Bucket=BUCKET, Key="models/predictions/manual/input/part-00000.jsonl")
    lines = [json.loads(x) for x in body["Body"].read().splitlines()]
    assert len(lines) == started["rows"] > 0
    with_photo = [x for x in lines if "photo_key" in x]
    assert with_photo and all(x["photo_key"].startswith("raw/base/images/") for x in with_photo)
    for line in with_photo:  # each key names an object the container can read
        s3.head_object(Bucket=BUCKET, Key=line["photo_key"])
    assert started["Environment"] == {
        "PRODCAT_DATA_LAKE_BUCKET": BUCKET,
        "PRODCAT_RAW_PREFIX": "raw/base/",
    }


def test_batch_on_s3_refuses_data_that_is_not_a_catalogue(aws: object) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    with pytest.raises(ValueError, match=r"X_<split>\.csv"):
        start_catalogue_transform(
            f"s3://{BUCKET}/raw/base/", f"s3://{BUCKET}/out/", model_name="m", s3=s3
        )
