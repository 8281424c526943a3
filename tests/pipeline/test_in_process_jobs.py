"""local_runtime/jobs.py: the state machine's CreateProcessingJob/CreateTrainingJob
requests run in this process against S3 (moto here), with SageMaker's path and channel contract;
step_functions/render.py: the definition as moto (and the local stack) run it."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from local_runtime import jobs
from sagemaker_jobs.model_archive import pack_model
from step_functions.definition import PLACEHOLDERS
from step_functions.render import iter_states, replace_resources, substitute, task_resources

BUCKET = "lake"


@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        import boto3

        client = boto3.client("s3")
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
        )
        yield client


def _processing_request(arguments: list[str]) -> dict[str, Any]:
    return {
        "ProcessingJobName": "prodcat-dev-prep-abc-0",
        "AppSpecification": {
            "ImageUri": "jobs:1",
            "ContainerEntrypoint": ["python", "-m", "sagemaker_jobs.prepare"],
            "ContainerArguments": arguments,
        },
        "Environment": {"PRODCAT_RUN_ID": "run-1", "PRODCAT_CODE_VERSION": "code-1"},
        "ProcessingInputs": [
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/raw/",
                    "LocalPath": "/opt/ml/processing/input",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "curated",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/curated/run-1/",
                        "LocalPath": "/opt/ml/processing/output",
                    },
                }
            ]
        },
    }


def test_a_processing_request_runs_the_real_entry_point_on_s3(s3: Any, tmp_path: Path) -> None:
    from prodcat.sample_catalog import write_sample_catalog

    catalog = write_sample_catalog(tmp_path / "catalog", per_class=2, seed=1)
    for path in (p for p in catalog.rglob("*") if p.is_file()):
        s3.upload_file(str(path), BUCKET, "raw/base/" + path.relative_to(catalog).as_posix())

    answer = jobs.run_processing_job(_processing_request(["--test-share", "0.3"]), s3)

    assert answer["ProcessingJobStatus"] == "Completed"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["Contents"]}
    assert {"curated/run-1/dataset.json", "curated/run-1/train/X_train.csv"} <= keys
    assert any(k.startswith("curated/run-1/test/images/image_test/") for k in keys)
    manifest = json.loads(
        s3.get_object(Bucket=BUCKET, Key="curated/run-1/dataset.json")["Body"].read()
    )
    # The container's environment reached the job; its arguments too.
    assert (manifest["run_id"], manifest["code_version"], manifest["test_share"]) == (
        "run-1",
        "code-1",
        0.3,
    )
    assert "PRODCAT_RUN_ID" not in os.environ  # and left with it


def test_a_failing_job_reports_its_failure_reason(s3: Any) -> None:
    with pytest.raises(
        jobs.JobFailed, match=r"prodcat-dev-prep-abc-0: DataFormatError: .*raw/base/"
    ):
        jobs.run_processing_job(_processing_request([]), s3)  # nothing under raw/


def test_inputs_and_outputs_map_to_flags_named_after_their_container_paths(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="models/artifacts/job/output/model.tar.gz", Body=b"model")
    s3.put_object(Bucket=BUCKET, Key="curated/r/test/X_test.csv", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="curated/r/test/images/image_test/a.jpg", Body=b"j")
    seen: dict[str, Any] = {}

    def runner(module: str, argv: list[str], env: Mapping[str, str]) -> None:
        flags = dict(zip(argv[::2], argv[1::2], strict=True))
        seen.update(module=module, flags=flags)
        model, test = Path(flags["--model"]), Path(flags["--test"])
        # S3Prefix semantics: one object lands under its own name, a prefix keeps its tree.
        assert (model / "model.tar.gz").read_bytes() == b"model"
        assert (test / "X_test.csv").is_file() and (test / "images/image_test/a.jpg").is_file()
        (Path(flags["--evaluation"]) / "metrics.json").write_text("{}")

    request = {
        "ProcessingJobName": "ev",
        "AppSpecification": {
            "ImageUri": "jobs:1",
            "ContainerEntrypoint": ["python", "-m", "sagemaker_jobs.evaluate"],
            "ContainerArguments": ["--smoke-cases", "8"],
        },
        "ProcessingInputs": [
            {
                "InputName": "model",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/models/artifacts/job/output/model.tar.gz",
                    "LocalPath": "/opt/ml/processing/model",
                },
            },
            {
                "InputName": "test",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/curated/r/test/",
                    "LocalPath": "/opt/ml/processing/test",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/models/reports/r/challenger/",
                        "LocalPath": "/opt/ml/processing/evaluation",
                    },
                }
            ]
        },
    }
    jobs.run_processing_job(request, s3, runner)

    assert seen["module"] == "sagemaker_jobs.evaluate"
    assert set(seen["flags"]) == {"--model", "--test", "--evaluation", "--smoke-cases"}
    assert (
        s3.get_object(Bucket=BUCKET, Key="models/reports/r/challenger/metrics.json")["Body"].read()
        == b"{}"
    )


def test_a_training_request_gets_sagemakers_contract_and_packs_the_model(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="curated/r/train/X_train.csv", Body=b"rows")

    def runner(module: str, argv: list[str], env: Mapping[str, str]) -> None:
        assert module == "sagemaker_jobs.train" and argv == []
        assert json.loads(env["SM_HPS"]) == {"folds": "3"}
        assert (Path(env["SM_CHANNEL_TRAIN"]) / "X_train.csv").read_bytes() == b"rows"
        (Path(env["SM_MODEL_DIR"]) / "manifest.json").write_text('{"model_version": "v"}')

    request = {
        "TrainingJobName": "prodcat-dev-train-abc-0",
        "AlgorithmSpecification": {
            "TrainingImage": "jobs:1",
            "ContainerEntrypoint": ["python", "-m", "sagemaker_jobs.train"],
        },
        "HyperParameters": {"folds": "3"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/curated/r/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models/artifacts/"},
    }
    answer = jobs.run_training_job(request, s3, runner)

    key = "models/artifacts/prodcat-dev-train-abc-0/output/model.tar.gz"
    assert answer["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/{key}"
    packed = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert tar.getnames() == ["manifest.json"]
    # Same model, same bytes: no timestamps in the archive.
    assert gzip.decompress(packed) == gzip.decompress(pack_model(_unpack(packed)))
    assert packed == pack_model(_unpack(packed))


def _unpack(packed: bytes) -> Path:
    import tempfile

    target = Path(tempfile.mkdtemp())
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        tar.extractall(target, filter="data")
    return target


def test_only_python_module_entry_points_run_in_process(s3: Any) -> None:
    request = _processing_request([])
    request["AppSpecification"]["ContainerEntrypoint"] = ["bash", "-c", "echo"]
    with pytest.raises(ValueError, match="python -m"):
        jobs.run_processing_job(request, s3)


DEFINITION: dict[str, Any] = {
    "StartAt": "A",
    "States": {
        "A": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {"Bucket": "${DataLakeBucket}"},
            "Next": "P",
        },
        "P": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "B",
                    "States": {
                        "B": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                            "End": True,
                        }
                    },
                }
            ],
            "End": True,
        },
    },
}


def test_substitute_fills_every_placeholder_as_cloudformation_does() -> None:
    values = {name: f"v-{name}" for name in PLACEHOLDERS}
    values["DataLakeBucket"] = 'lake "quoted"'
    rendered = substitute(DEFINITION, values)
    assert rendered["States"]["A"]["Parameters"]["Bucket"] == 'lake "quoted"'
    with pytest.raises(KeyError, match="DataLakeBucket"):
        substitute(DEFINITION, {k: v for k, v in values.items() if k != "DataLakeBucket"})
    with pytest.raises(KeyError, match="Unknown"):
        substitute({**DEFINITION, "Comment": "${Unknown}"}, values)


def test_replace_resources_reaches_into_parallel_branches() -> None:
    swapped = replace_resources(
        DEFINITION, {"arn:aws:states:::sagemaker:createTrainingJob.sync": "arn:aws:lambda:x"}
    )
    assert set(task_resources(swapped).values()) == {"arn:aws:lambda:x"}
    assert [name for name, _ in iter_states(swapped)] == ["A", "P", "B"]
    assert DEFINITION["States"]["A"]["Resource"].endswith(".sync")  # the original is untouched
