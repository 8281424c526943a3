"""SageMaker processing job: model (directory or model.tar.gz) + labelled test data ->
metrics.json, baseline.json, report.md and confusion-matrix PNGs; with `--smoke-cases N`, also
the known listings the pipeline's post-deploy smoke test sends (smoke_cases.json).

Flags are named after the container paths they default to (`--evaluation` for
/opt/ml/processing/evaluation, ...): local_runtime/jobs.py relies on that to run the
same request outside SageMaker. `--output` is the older name of `--evaluation`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sagemaker_jobs.model_archive import unpack_model
from sagemaker_jobs.paths import PROCESSING, write_failure


def run(
    model_path: Path, test_dir: Path, output_dir: Path, smoke_cases: int = 0
) -> dict[str, object]:
    from prodcat.evaluation import evaluate, write_outputs
    from prodcat.model import ProductTypeModel
    from sagemaker_jobs.smoke_cases import write_cases

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = unpack_model(model_path, Path(tmp))
        model = ProductTypeModel.load(model_dir)
        if smoke_cases > 0:
            write_cases(test_dir, model_dir, output_dir, smoke_cases)
    evaluation = evaluate(model, test_dir)
    write_outputs(evaluation, model, output_dir)
    return evaluation.metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=PROCESSING / "model")
    parser.add_argument("--test", type=Path, default=PROCESSING / "test")
    parser.add_argument(
        "--evaluation", "--output", dest="output", type=Path, default=PROCESSING / "evaluation"
    )
    parser.add_argument(
        "--smoke-cases", type=int, default=0, help="known listings for the post-deploy smoke test"
    )
    args = parser.parse_args(argv)
    try:
        metrics = run(args.model, args.test, args.output, args.smoke_cases)
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}", "processing")
        raise
    print({k: v for k, v in metrics.items() if k != "data"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
