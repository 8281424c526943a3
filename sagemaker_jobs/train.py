"""SageMaker training job: channel `train` (challenge format) -> model directory.

Locally: `SM_CHANNEL_TRAIN=data SM_MODEL_DIR=out python -m sagemaker_jobs.train`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sagemaker_jobs.paths import env_path, hyperparameters, write_failure


def run(train_dir: Path, model_dir: Path, output_dir: Path, hps: dict[str, str]) -> str:
    from prodcat.model import Hyperparameters
    from prodcat.training import train

    result = train(train_dir, Hyperparameters.from_json(hps))
    result.model.save(model_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "training.json").write_text(json.dumps(result.model.metadata, indent=2))
    return result.model.version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--train", type=Path, default=env_path("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    )
    parser.add_argument("--model-dir", type=Path, default=env_path("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument(
        "--output-dir", type=Path, default=env_path("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")
    )
    args, _ = parser.parse_known_args(argv)  # SageMaker may append `train`
    try:
        version = run(args.train, args.model_dir, args.output_dir, hyperparameters())
    except Exception as exc:  # the job's failure reason must say what went wrong
        write_failure(f"{type(exc).__name__}: {exc}", "training")
        raise
    print(f"trained model {version} -> {args.model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
