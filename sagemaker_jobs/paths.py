"""SageMaker's container paths, each overridable by its SM_* variable (and so runnable locally)."""

from __future__ import annotations

import json
import os
from pathlib import Path

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


def write_failure(message: str) -> None:
    """SageMaker shows /opt/ml/output/failure as the job's FailureReason."""
    out = env_path("SM_OUTPUT_DIR", "/opt/ml/output")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "failure").write_text(message[:1024])
    except OSError:
        pass  # not in a container: the message is on stderr already
