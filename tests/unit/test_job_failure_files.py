"""Each job leaves its failure reason in the file its SageMaker job type reads: a training job's
/opt/ml/output/failure becomes DescribeTrainingJob's FailureReason, a processing job's
/opt/ml/output/message DescribeProcessingJob's ExitMessage (first 1 KB, UTF-8 or the job fails
with a ClientError). A reason in the other file is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_runtime import jobs
from sagemaker_jobs import drift, evaluate, paths, prepare, train


@pytest.fixture
def output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "opt/ml/output"
    monkeypatch.setenv("SM_OUTPUT_DIR", str(out))
    return out


def test_training_and_processing_read_different_files() -> None:
    assert paths.reason_file("training", Path("/opt/ml/output")) == Path("/opt/ml/output/failure")
    assert paths.reason_file("processing", Path("/opt/ml/output")) == Path("/opt/ml/output/message")


@pytest.mark.parametrize(("kind", "other"), [("training", "message"), ("processing", "failure")])
def test_write_failure_writes_only_the_file_of_its_kind(
    output_dir: Path, kind: paths.JobKind, other: str
) -> None:
    paths.write_failure("ValueError: no X_train.csv", kind)
    assert paths.reason_file(kind).read_text(encoding="utf-8") == "ValueError: no X_train.csv"
    assert not (output_dir / other).exists()


def test_a_long_reason_is_cut_to_1_kb_of_valid_utf8(output_dir: Path) -> None:
    paths.write_failure("é" * 1000, "processing")  # 2 bytes each: byte 1024 ends a character
    paths.write_failure("x" + "é" * 1000, "training")  # byte 1024 splits one
    message = (output_dir / "message").read_bytes()
    failure = (output_dir / "failure").read_bytes()
    assert len(message) == 1024 and message.decode("utf-8") == "é" * 512
    assert len(failure) == 1023 and failure.decode("utf-8") == "x" + "é" * 511


def test_the_train_job_fails_into_the_training_file(output_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - whatever the loader raises, it is reported
        train.main(["--train", str(tmp_path / "empty"), "--model-dir", str(tmp_path / "model")])
    assert (output_dir / "failure").read_text().strip()
    assert not (output_dir / "message").exists()


def test_prepare_fails_into_the_processing_file(output_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(Exception, match="raw/base/"):
        prepare.main(["--input", str(tmp_path / "raw"), "--output", str(tmp_path / "out")])
    assert "DataFormatError" in (output_dir / "message").read_text()
    assert not (output_dir / "failure").exists()


def test_evaluate_fails_into_the_processing_file(output_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - no model there: whatever loading raises
        evaluate.main(
            [
                "--model",
                str(tmp_path / "none"),
                "--test",
                str(tmp_path / "none"),
                "--evaluation",
                str(tmp_path / "out"),
            ]
        )
    assert (output_dir / "message").read_text().strip()
    assert not (output_dir / "failure").exists()


class _BrokenS3:
    def list_objects_v2(self, **_: Any) -> Any:
        raise ConnectionError("S3 unreachable")


def test_drift_fails_into_the_processing_file(output_dir: Path, tmp_path: Path) -> None:
    clients = drift.Clients(s3=_BrokenS3(), cloudwatch=None)
    argv = ["--bucket", "lake", "--stage", "dev", "--output", str(tmp_path / "out")]
    with pytest.raises(ConnectionError):
        drift.main(argv, clients=clients)
    assert (output_dir / "message").read_text() == "ConnectionError: S3 unreachable"
    assert not (output_dir / "failure").exists()


def test_in_process_jobs_report_the_file_sagemaker_reads(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.mkdir()
    (out / "message").write_text("processing reason")
    (out / "failure").write_text("training reason")
    error = RuntimeError("exit 1")
    assert jobs._failure_reason(out, "processing", error) == "processing reason"
    assert jobs._failure_reason(out, "training", error) == "training reason"
    assert jobs._failure_reason(tmp_path, "training", error) == "RuntimeError: exit 1"
