"""SageMaker's container paths, each overridable by its SM_* variable (and so runnable locally)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

PROCESSING = Path("/opt/ml/processing")


def env_path(var: str, default: str) -> Path:
    return Path(os.environ.get(var, default))


def hyperparameters() -> dict[str, str]:
    """SM_HPS (script mode) or the hyperparameters.json SageMaker writes for any training image."""
    if "SM_HPS" in os.environ:
        return {k: str(v) for k, v in json.loads(os.environ["SM_HPS"]).items()}
    path = (
        Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "hyperparameters.json"
    )
    return json.loads(path.read_text()) if path.is_file() else {}


# Where a job leaves the reason it failed, per job type: SageMaker reads a different file for each.
# Training: /opt/ml/output/failure -> DescribeTrainingJob's FailureReason.
# Processing: /opt/ml/output/message -> DescribeProcessingJob's ExitMessage (the first 1 KB, which
# must be UTF-8, or the job fails with a ClientError instead); a processing job ignores `failure`.
JobKind = Literal["training", "processing"]
REASON_FILES: dict[JobKind, str] = {"training": "failure", "processing": "message"}
REASON_MAX_BYTES = 1024


def output_dir() -> Path:
    return env_path("SM_OUTPUT_DIR", "/opt/ml/output")


def reason_file(kind: JobKind, out: Path | None = None) -> Path:
    """The file SageMaker reads a `kind` job's failure reason from."""
    return (out or output_dir()) / REASON_FILES[kind]


def write_failure(message: str, kind: JobKind) -> None:
    """Leave `message` where SageMaker shows it for a failed job of this kind."""
    # 1 KB of UTF-8: cut on a byte boundary, dropping a character split in two.
    text = message.encode("utf-8")[:REASON_MAX_BYTES].decode("utf-8", "ignore")
    path = reason_file(kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        pass  # not in a container: the message is on stderr already
