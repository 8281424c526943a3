"""CreateTransformJob, run in this process, as SageMaker Batch Transform runs the serving image:
the local pipeline run's stand-in for `sagemaker:createTransformJob.sync` (moto runs no job).

Takes the request the definition sends; loads the named model's artifact (ModelDataUrl) into the
real Predictor; for every input object under the S3 prefix cuts the lines (SplitType=Line),
packs them into mini-batches of at most MaxPayloadInMB (BatchStrategy=MultiRecord), answers each
with the serving container's JSON Lines code (inference/batch.py, photo keys read from the
lake under the job's PRODCAT_RAW_PREFIX), and writes `<input name>.out` under S3OutputPath,
lines joined as AssembleWith=Line joins them. Answers like DescribeTransformJob.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from inference.batch import LakePhotos, classify_lines, render_lines, split_lines
from inference.predictor import Predictor
from inference.server import POLICY
from prodcat_contracts import job_env
from prodcat_contracts.lake import split_s3_uri
from sagemaker_jobs.model_archive import fetch_model


def mini_batches(lines: list[bytes], max_bytes: int) -> Iterator[list[bytes]]:
    """Consecutive lines, as many as fit in `max_bytes` (one line alone may not: SageMaker
    fails such a record; here it goes alone and the container answers it)."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and size + len(line) + 1 > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        yield batch


def run_transform_job(
    request: Mapping[str, Any], s3: Any, sagemaker: Any, models_dir: Path
) -> dict[str, Any]:
    model = sagemaker.describe_model(ModelName=request["ModelName"])
    predictor = Predictor(fetch_model(s3, model["PrimaryContainer"]["ModelDataUrl"], models_dir))
    env = request.get("Environment", {})
    photos = LakePhotos(env[job_env.DATA_LAKE_BUCKET], env[job_env.RAW_PREFIX], client=s3)
    max_bytes = int(request["MaxPayloadInMB"]) * 1024 * 1024
    source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, prefix = split_s3_uri(source)
    out_bucket, out_prefix = split_s3_uri(request["TransformOutput"]["S3OutputPath"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            answers = [
                answer
                for batch in mini_batches(split_lines(body), max_bytes)
                for answer in classify_lines(batch, predictor, POLICY, photos)
            ]
            name = item["Key"][len(prefix) :].lstrip("/")
            s3.put_object(
                Bucket=out_bucket,
                Key=f"{out_prefix.rstrip('/')}/{name}.out",
                Body=render_lines(answers),
            )
    return {
        "TransformJobName": request["TransformJobName"],
        "TransformJobStatus": "Completed",
        "ModelName": request["ModelName"],
        "TransformOutput": dict(request["TransformOutput"]),
    }
