"""SageMaker processing job for the pipeline's Evaluate steps: sagemaker_jobs.evaluate (metrics.json,
baseline.json, report.md, confusion matrices) plus, for the challenger, smoke_cases.json.

Flags are named after the container paths they default to (`--model` for
/opt/ml/processing/model, ...): sagemaker_jobs/in_process.py relies on that to run the same
request outside SageMaker.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sagemaker_jobs import evaluate as evaluate_job
from sagemaker_jobs.paths import PROCESSING, write_failure
from sagemaker_jobs.smoke_cases import write_cases


def run(model_path: Path, test_dir: Path, output_dir: Path, smoke_cases: int) -> dict[str, object]:
    metrics = evaluate_job.run(model_path, test_dir, output_dir)
    if smoke_cases > 0:
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = evaluate_job.unpack_model(model_path, Path(tmp))
            write_cases(test_dir, model_dir, output_dir, smoke_cases)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=PROCESSING / "model")
    parser.add_argument("--test", type=Path, default=PROCESSING / "test")
    parser.add_argument("--evaluation", type=Path, default=PROCESSING / "evaluation")
    parser.add_argument(
        "--smoke-cases", type=int, default=0, help="known listings for the post-deploy smoke test"
    )
    args = parser.parse_args(argv)
    try:
        metrics = run(args.model, args.test, args.evaluation, args.smoke_cases)
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}")
        raise
    print({k: v for k, v in metrics.items() if k != "data"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
