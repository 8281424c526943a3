"""SageMaker processing job: model (directory or model.tar.gz) + labelled test data ->
metrics.json, baseline.json, report.md and confusion-matrix PNGs; with `--smoke-cases N`, also
the known listings the pipeline's post-deploy smoke test sends (smoke_cases.json).

Flags are named after the container paths they default to (`--evaluation` for
/opt/ml/processing/evaluation, ...): sagemaker_jobs/in_process.py relies on that to run the
same request outside SageMaker. `--output` is the older name of `--evaluation`.
"""

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
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")  # refuses absolute paths, links out of `target`
        else:  # Python 3.11 before 3.11.4 (Debian 12's 3.11.2) has no filters: refuse by hand
            tar.extractall(target, members=_plain_members(tar, target))
    return target


def _plain_members(tar: tarfile.TarFile, target: Path) -> list[tarfile.TarInfo]:
    """Regular files and directories that land inside `target`: all a model archive holds."""
    root = target.resolve()
    members = tar.getmembers()
    for member in members:
        inside = (root / member.name).resolve().is_relative_to(root)
        if not (member.isfile() or member.isdir()) or not inside or Path(member.name).is_absolute():
            raise tarfile.TarError(f"refusing {member.name!r} in the model archive")
        member.mode &= 0o755  # as the data filter: no set-id bits, no group/other write
    return members


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
