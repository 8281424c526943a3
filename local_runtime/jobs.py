"""Run the state machine's SageMaker job requests in this process, against any S3 (moto, a local
stack): what SageMaker does around a container, without the container.

`run_processing_job` takes the CreateProcessingJob request the definition sends, downloads each
input to a scratch directory, runs the entry point module's `main` with one flag per container
path (named after its last component: /opt/ml/processing/input -> `--input`, the convention the
processing entry points follow), uploads the outputs, and answers like DescribeProcessingJob.
`run_training_job` does the same for CreateTrainingJob with SageMaker's training contract
(SM_CHANNEL_*, SM_MODEL_DIR, SM_HPS, ...) and packs the model as
`<S3OutputPath>/<job name>/output/model.tar.gz`, as SageMaker does.

The tests' job doubles are built on these, and so will `prodcat pipeline run --local` be.
`runner` is injectable: it receives the module, its argv and its environment (the tests cache
deterministic jobs through it).
"""

from __future__ import annotations

import importlib
import json
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from local_runtime.moto_server import environment
from prodcat_contracts.lake import split_s3_uri
from sagemaker_jobs.model_archive import pack_model
from sagemaker_jobs.paths import JobKind, reason_file

Runner = Callable[[str, list[str], Mapping[str, str]], None]
_ENV_LOCK = threading.Lock()  # jobs read os.environ: one job at a time changes it


class JobFailed(RuntimeError):
    """The job's entry point failed; the message is its FailureReason."""


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AppSpecification(_Request):
    ImageUri: str
    ContainerEntrypoint: list[str] = Field(min_length=3)
    ContainerArguments: list[str] = Field(default_factory=list)


class S3Input(_Request):
    S3Uri: str
    LocalPath: str


class ProcessingInput(_Request):
    InputName: str
    S3Input: S3Input


class S3Output(_Request):
    S3Uri: str
    LocalPath: str


class ProcessingOutput(_Request):
    OutputName: str
    S3Output: S3Output


class ProcessingOutputConfig(_Request):
    Outputs: list[ProcessingOutput]


class ProcessingJobRequest(_Request):
    ProcessingJobName: str
    AppSpecification: AppSpecification
    Environment: dict[str, str] = Field(default_factory=dict)
    ProcessingInputs: list[ProcessingInput] = Field(default_factory=list)
    ProcessingOutputConfig: ProcessingOutputConfig


class AlgorithmSpecification(_Request):
    TrainingImage: str
    ContainerEntrypoint: list[str] = Field(min_length=3)


class S3DataSource(_Request):
    S3Uri: str


class DataSource(_Request):
    S3DataSource: S3DataSource


class Channel(_Request):
    ChannelName: str
    DataSource: DataSource


class OutputDataConfig(_Request):
    S3OutputPath: str


class TrainingJobRequest(_Request):
    TrainingJobName: str
    AlgorithmSpecification: AlgorithmSpecification
    HyperParameters: dict[str, str] = Field(default_factory=dict)
    InputDataConfig: list[Channel]
    OutputDataConfig: OutputDataConfig
    Environment: dict[str, str] = Field(default_factory=dict)


def download_prefix(s3: Any, uri: str, dest: Path) -> int:
    """Every object under `uri` into `dest`, keyed below the URI's last '/' (SageMaker's
    S3Prefix: a prefix that names one object lands as that file's name)."""
    bucket, prefix = split_s3_uri(uri)
    base = prefix[: prefix.rfind("/") + 1]
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            target = dest / key[len(base) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            count += 1
    return count


def upload_dir(s3: Any, src: Path, uri: str) -> int:
    bucket, prefix = split_s3_uri(uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    count = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, prefix + path.relative_to(src).as_posix())
        count += 1
    return count


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    with _ENV_LOCK, environment(values):
        yield


def run_module(module: str, argv: list[str], env: Mapping[str, str]) -> None:
    """The default runner: the entry point's `main(argv)` with `env` set, as the container would."""
    with _environment(env):
        code = importlib.import_module(module).main(argv)
    if code != 0:
        raise JobFailed(f"{module} exited with {code}")


def _entry_module(entrypoint: list[str]) -> str:
    if entrypoint[:2] != ["python", "-m"]:
        raise ValueError(f"only `python -m <module>` entry points run in process: {entrypoint}")
    return entrypoint[2]


def _failure_reason(output_dir: Path, kind: JobKind, exc: BaseException) -> str:
    """What SageMaker would report: the file a job of this kind reads, else the exception."""
    reason = reason_file(kind, output_dir)
    if reason.is_file():
        return reason.read_text(encoding="utf-8")
    return f"{type(exc).__name__}: {exc}"


def run_processing_job(
    request: Mapping[str, Any], s3: Any, runner: Runner = run_module
) -> dict[str, Any]:
    job = ProcessingJobRequest.model_validate(request)
    module = _entry_module(job.AppSpecification.ContainerEntrypoint)
    with tempfile.TemporaryDirectory(prefix=f"{job.ProcessingJobName}-") as tmp:
        root = Path(tmp)
        argv: list[str] = []
        for item in job.ProcessingInputs:
            local = root / item.S3Input.LocalPath.lstrip("/")
            download_prefix(s3, item.S3Input.S3Uri, local)
            argv += [f"--{Path(item.S3Input.LocalPath).name}", str(local)]
        outputs = []
        for out in job.ProcessingOutputConfig.Outputs:
            local = root / out.S3Output.LocalPath.lstrip("/")
            local.mkdir(parents=True, exist_ok=True)
            outputs.append((local, out.S3Output.S3Uri))
            argv += [f"--{Path(out.S3Output.LocalPath).name}", str(local)]
        argv += job.AppSpecification.ContainerArguments
        output_dir = root / "opt/ml/output"
        env = {**job.Environment, "SM_OUTPUT_DIR": str(output_dir)}
        try:
            runner(module, argv, env)
        except Exception as exc:
            raise JobFailed(
                f"{job.ProcessingJobName}: {_failure_reason(output_dir, 'processing', exc)}"
            ) from exc
        for local, uri in outputs:
            upload_dir(s3, local, uri)
    return {
        "ProcessingJobName": job.ProcessingJobName,
        "ProcessingJobStatus": "Completed",
        "ProcessingOutputConfig": json.loads(job.ProcessingOutputConfig.model_dump_json()),
    }


def run_training_job(
    request: Mapping[str, Any], s3: Any, runner: Runner = run_module
) -> dict[str, Any]:
    job = TrainingJobRequest.model_validate(request)
    module = _entry_module(job.AlgorithmSpecification.ContainerEntrypoint)
    with tempfile.TemporaryDirectory(prefix=f"{job.TrainingJobName}-") as tmp:
        root = Path(tmp) / "opt/ml"
        env = {
            **job.Environment,
            "SM_HPS": json.dumps(job.HyperParameters),
            "SM_MODEL_DIR": str(root / "model"),
            "SM_OUTPUT_DIR": str(root / "output"),
            "SM_OUTPUT_DATA_DIR": str(root / "output/data"),
            "SM_CHANNELS": json.dumps([c.ChannelName for c in job.InputDataConfig]),
        }
        for channel in job.InputDataConfig:
            local = root / "input/data" / channel.ChannelName
            download_prefix(s3, channel.DataSource.S3DataSource.S3Uri, local)
            env[f"SM_CHANNEL_{channel.ChannelName.upper()}"] = str(local)
        (root / "model").mkdir(parents=True)
        try:
            runner(module, [], env)
        except Exception as exc:
            raise JobFailed(
                f"{job.TrainingJobName}: {_failure_reason(root / 'output', 'training', exc)}"
            ) from exc
        bucket, prefix = split_s3_uri(job.OutputDataConfig.S3OutputPath)
        key = f"{prefix.rstrip('/')}/{job.TrainingJobName}/output/model.tar.gz".lstrip("/")
        s3.put_object(Bucket=bucket, Key=key, Body=pack_model(root / "model"))
    return {
        "TrainingJobName": job.TrainingJobName,
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://{bucket}/{key}"},
    }
