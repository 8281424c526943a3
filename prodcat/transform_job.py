"""`prodcat batch --data s3://... --out s3://...`: a SageMaker Batch Transform job on the
production model, over the serving container's JSON Lines contract (inference/batch.py).

1. The catalogue (challenge format under s3://bucket/prefix/) becomes JSON Lines input parts
   under <out>/input/ (photos stay where they are: each line names its photo's key).
2. CreateTransformJob runs the model the stage's endpoint serves over them; answers land in
   <out>/output/<part>.jsonl.out, one line per input line, in order.

The job's container reads photo keys under the catalogue's prefix only (PRODCAT_RAW_PREFIX), with
the model's execution role. Called through boto3 (no SageMaker SDK needed), clients injectable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prodcat.batch import S3Parts, chunks, s3_catalogue
from prodcat_contracts import job_env
from prodcat_contracts.lake import split_s3_uri

CONTENT_TYPE = "application/jsonlines"
# The container refuses bodies over 6 MiB (inference/server.py); 5 MB leaves room whichever
# megabyte SageMaker counts, and holds a 3 MiB photo inline (4 MiB of base64).
MAX_PAYLOAD_MB = 5
INPUT_ROWS_PER_FILE = 10_000  # the unit SageMaker spreads over instances
DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"


def endpoint_name(stage: str) -> str:
    # The name infra/config.py gives the stage's endpoint (StageConfig.endpoint_name).
    return f"prodcat-{stage}-predict"


def production_model_name(sagemaker: Any, endpoint: str) -> str:
    """The model the endpoint serves now (its current config's first variant)."""
    config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    return str(variants[0]["ModelName"])


def job_name(now: datetime) -> str:
    return f"prodcat-batch-{now.strftime('%Y%m%d-%H%M%S')}"


def transform_request(
    *,
    name: str,
    model_name: str,
    input_uri: str,
    output_uri: str,
    photo_bucket: str,
    photo_prefix: str,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    kms_key_id: str | None = None,
) -> dict[str, Any]:
    """CreateTransformJob's parameters (tests check them against botocore's service model)."""
    output: dict[str, Any] = {
        "S3OutputPath": output_uri,
        "Accept": CONTENT_TYPE,
        "AssembleWith": "Line",
    }
    resources: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": instance_count}
    if kms_key_id:
        output["KmsKeyId"] = kms_key_id
        resources["VolumeKmsKeyId"] = kms_key_id
    return {
        "TransformJobName": name,
        "ModelName": model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": MAX_PAYLOAD_MB,
        # Lines are classified 32 at a time; one request at a time per instance keeps the
        # container's memory to one payload (it uses every core for each).
        "MaxConcurrentTransforms": 1,
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 1},
        "Environment": {
            job_env.DATA_LAKE_BUCKET: photo_bucket,
            job_env.RAW_PREFIX: photo_prefix,
        },
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": CONTENT_TYPE,
            "SplitType": "Line",
        },
        "TransformOutput": output,
        "TransformResources": resources,
    }


def write_input(s3: Any, data_uri: str, input_uri: str) -> int:
    """The catalogue at `data_uri` as JSON Lines files under `input_uri`; returns the rows."""
    store = S3Parts(s3, input_uri)
    rows = 0
    for number, lines in enumerate(chunks(s3_catalogue(s3, data_uri), INPUT_ROWS_PER_FILE)):
        store.write(f"part-{number:05d}.jsonl", b"".join(line + b"\n" for line in lines))
        rows += len(lines)
    return rows


def start_catalogue_transform(
    data_uri: str,
    out_uri: str,
    *,
    model_name: str | None = None,
    endpoint: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    kms_key_id: str | None = None,
    s3: Any = None,
    sagemaker: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the input, start the job; returns what was started (the job runs on in AWS)."""
    import boto3

    s3 = s3 or boto3.client("s3")
    sagemaker = sagemaker or boto3.client("sagemaker")
    if model_name is None:
        if endpoint is None:
            raise ValueError("name the model: --model-name, or --stage for its endpoint's model")
        model_name = production_model_name(sagemaker, endpoint)
    bucket, prefix = split_s3_uri(data_uri)
    split_s3_uri(out_uri)  # refuse a non-S3 output before writing anything
    out = out_uri.rstrip("/")
    rows = write_input(s3, data_uri, f"{out}/input/")
    request = transform_request(
        name=job_name(now or datetime.now(UTC)),
        model_name=model_name,
        input_uri=f"{out}/input/",
        output_uri=f"{out}/output/",
        photo_bucket=bucket,
        photo_prefix=prefix if not prefix or prefix.endswith("/") else prefix + "/",
        instance_type=instance_type,
        instance_count=instance_count,
        kms_key_id=kms_key_id,
    )
    arn = sagemaker.create_transform_job(**request)["TransformJobArn"]
    return {"transform_job_arn": arn, "model_name": model_name, "rows": rows, **request}
