"""SageMaker processing job: model (directory or model.tar.gz) + labelled test data ->
metrics.json, baseline.json, report.md and confusion-matrix PNGs."""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path

from sagemaker_jobs.paths import PROCESSING, write_failure


def unpack_model(model_path: Path, workdir: Path) -> Path:
    """A training job's model.tar.gz, unpacked; a directory that is already a model, as is."""
    archive = model_path if model_path.is_file() else model_path / "model.tar.gz"
    if not archive.is_file():
        return model_path
    target = workdir / "model"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")  # refuses absolute paths and links out of `target`
    return target


def run(model_path: Path, test_dir: Path, output_dir: Path) -> dict[str, object]:
    from prodcat.evaluation import evaluate, write_outputs
    from prodcat.model import ProductTypeModel

    with tempfile.TemporaryDirectory() as tmp:
        model = ProductTypeModel.load(unpack_model(model_path, Path(tmp)))
    evaluation = evaluate(model, test_dir)
    write_outputs(evaluation, model, output_dir)
    return evaluation.metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=PROCESSING / "model")
    parser.add_argument("--test", type=Path, default=PROCESSING / "test")
    parser.add_argument("--output", type=Path, default=PROCESSING / "evaluation")
    args = parser.parse_args(argv)
    try:
        metrics = run(args.model, args.test, args.output)
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}")
        raise
    print({k: v for k, v in metrics.items() if k != "data"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
