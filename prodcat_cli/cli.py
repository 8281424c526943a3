"""`prodcat`: the command line, a front door above every unit.

  train            train a model on a challenge-format directory
  evaluate         metrics.json, the drift baseline and a report on labelled data
  drift            drift of captured requests against a baseline.json
  sample-catalog   write a small generated catalog in the challenge format
  local            the local stack: `local up` (the API offline), `local make-admin`
  pipeline         the retraining pipeline: `pipeline start` (a deployed stage),
                   `pipeline run --local` (the same state machine on the local stack)
  records          write back records the API could not store: `records replay`, `records drain`
  batch            classify a whole catalogue, or start a Batch Transform job

Errors a user can fix (a wrong option, path or value) exit 2 with one line saying what to fix.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from prodcat.data import DataFormatError

if TYPE_CHECKING:
    from prodcat.batch import BatchSummary


class UsageError(Exception):
    """A value the user gave is wrong: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (argparse's own print the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _hyperparameter(text: str) -> tuple[str, str]:
    """`--hp NAME=VALUE`, checked against the model's hyperparameters before any work starts."""
    from prodcat.model import Hyperparameters

    defaults = Hyperparameters()
    names = [f.name for f in dataclasses.fields(Hyperparameters)]
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE (e.g. text_c=0.5); names: {', '.join(names)}"
        )
    if name not in names:
        raise argparse.ArgumentTypeError(
            f"unknown hyperparameter {name!r}; valid names: {', '.join(names)}"
        )
    default = getattr(defaults, name)
    try:
        type(default)(value)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{name}={value!r}: not a valid {type(default).__name__} (default {default})"
        ) from None
    try:
        Hyperparameters.from_json({name: value})  # the model's own checks (e.g. profile names)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{name}={value!r}: {exc}") from None
    return name, value


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1")
    return value


def cmd_train(args: argparse.Namespace) -> int:
    from prodcat.model import Hyperparameters
    from prodcat.training import train

    hp = Hyperparameters.from_json(dict(args.hp))
    result = train(args.data, hp, progress=not args.quiet)
    result.model.save(args.model_dir)
    print(
        json.dumps(
            {
                "model_dir": str(args.model_dir),
                "model_version": result.model.version,
                "training_seconds": round(result.seconds, 1),
                "data": result.model.metadata["data"],
            },
            indent=2,
        )
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from prodcat.evaluation import evaluate, write_outputs
    from prodcat.model import ProductTypeModel

    model = ProductTypeModel.load(args.model_dir)
    if not args.allow_training_data and _is_training_data(model, args.data):
        raise UsageError(
            f"{args.data} is the data this model was trained on: its scores would be near 1.0 "
            "and say nothing about new listings; evaluate on held-out data (e.g. prodcat "
            "sample-catalog --held-out DIR), or add --allow-training-data to measure the fit"
        )
    evaluation = evaluate(model, args.data, progress=not args.quiet)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = write_outputs(evaluation, model, args.report_dir or out.parent)
    if paths["metrics"].resolve() != out.resolve():
        out.write_text(paths["metrics"].read_text())
    print(json.dumps({k: v for k, v in evaluation.metrics.items() if k != "data"}, indent=2))
    return 0


def _is_training_data(model: Any, data_dir: Path) -> bool:
    """The same listings as the model's training set (its data fingerprint), read cheaply.

    Training drops rows whose only content is a photo that fails to decode; those are rare, so
    the fingerprint of the readable rows matches whenever this is the training directory.
    """
    from prodcat.data import load_listings
    from prodcat.training import _fingerprint

    trained_on = model.metadata.get("data", {}).get("fingerprint")
    listings, _ = load_listings(data_dir, model.taxonomy)
    usable = [x for x in listings if x.has_text or x.has_photo]
    return bool(trained_on) and _fingerprint(usable) == trained_on


def cmd_sample(args: argparse.Namespace) -> int:
    from prodcat.sample_catalog import write_sample_catalog

    if args.held_out and args.held_out.resolve() == args.out.resolve():
        # Training reads every X_*.csv of its directory: the test split would be trained on.
        raise UsageError("--held-out must be another directory than --out")
    write_sample_catalog(args.out, per_class=args.per_class, seed=args.seed)
    print(f"sample catalog ({args.per_class} listings per class) written to {args.out}")
    if args.held_out:
        # Another seed stream: new titles, ids and photos drawn from the same categories.
        write_sample_catalog(
            args.held_out, per_class=args.held_out_per_class, seed=args.seed + 10_000, split="test"
        )
        print(
            f"held-out catalog ({args.held_out_per_class} per class) written to {args.held_out}: "
            f"prodcat evaluate --data {args.held_out} ..."
        )
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from prodcat.drift import Statistics, compare
    from sagemaker_jobs.drift import read_capture_sources

    baseline = Statistics.model_validate_json(Path(args.baseline).read_text())
    records, invalid = read_capture_sources(args.captures)
    report = compare(baseline, records, min_samples=args.min_samples, threshold=args.threshold)
    print(json.dumps({**report.model_dump(mode="json"), "invalid_records": invalid}, indent=2))
    return 0


def cmd_local_up(args: argparse.Namespace) -> int:
    # The local runtime (local_runtime/) starts moto, a gateway, endpoints: only for this command.
    from local_runtime.stack import run_forever

    run_forever(args.model_dir, args.port)
    return 0


def cmd_pipeline_start(args: argparse.Namespace) -> int:
    # The retraining state machine of a deployed stage (step_functions/trigger.py).
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    from step_functions.trigger import start_run

    _check_stage(args.stage)
    try:
        run = start_run(args.stage, state_machine=args.state_machine_arn)
    except NoRegionError:
        raise UsageError(
            f"no AWS region: set AWS_REGION (or AWS_PROFILE with a region) to stage "
            f"{args.stage}'s region"
        ) from None
    except (BotoCoreError, ClientError) as exc:
        print(f"prodcat pipeline start: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(run.model_dump(), indent=2))
    return 0


def _check_stage(stage: str, cdk_json: Path = Path("cdk.json")) -> None:
    """A stage must be one cdk.json defines (when run from the project, where cdk.json is)."""
    if not cdk_json.is_file():
        return
    from infra.config import CONTEXT_KEY

    stages = json.loads(cdk_json.read_text()).get("context", {}).get(CONTEXT_KEY, {})
    if stage not in stages:
        raise UsageError(
            f"--stage {stage!r} is not a stage in {cdk_json} (known: {', '.join(sorted(stages))})"
        )


def cmd_local_make_admin(args: argparse.Namespace) -> int:
    from local_runtime.stack import make_admin

    print(make_admin(args.email))
    return 0


def cmd_pipeline_run(args: argparse.Namespace) -> int:
    if not args.local:
        print(
            "prodcat pipeline run: only --local runs here; a deployed stage runs in AWS: "
            "prodcat pipeline start --stage STAGE",
            file=sys.stderr,
        )
        return 2
    from local_runtime.pipeline import run_local

    return run_local(args.data, args.work, args.keep_running)


def _moment(text: str) -> datetime:
    """`24h`, `7d`, `30m` ago, or an ISO-8601 time (UTC unless it says otherwise)."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_records_replay(args: argparse.Namespace) -> int:
    # Undelivered records (lambdas/api/undelivered.py) from a log file or CloudWatch Logs.
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdas.api import replay

    try:
        if args.log_file:
            envelopes = list(replay.envelopes_in_files(args.log_file))
        else:
            groups = args.log_group or replay.api_log_groups(args.stage)
            until = _moment(args.until) if args.until else datetime.now(UTC)
            since = _moment(args.since)
            envelopes = list(replay.envelopes_in_log_groups(groups, since, until))
    except (BotoCoreError, ClientError) as exc:
        print(f"prodcat records replay: error: {exc}", file=sys.stderr)
        return 2
    report = replay.replay(envelopes).report()
    print(json.dumps(report, indent=2))
    return 1 if report["failed"] else 0


def cmd_records_drain(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdas.api import replay

    try:
        report = replay.drain(args.queue_url or replay.undelivered_queue(args.stage)).report()
    except (BotoCoreError, ClientError) as exc:
        print(f"prodcat records drain: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 1 if report["failed"] else 0


def classify_catalogue(
    data_dir: Path,
    out: str | Path,
    model_dir: Path,
    *,
    part_rows: int,
    progress: bool = True,
) -> BatchSummary:
    """`prodcat batch` on this machine: the serving container's JSON Lines code, in process
    (prodcat.batch's resumable parts around inference.batch's classification)."""
    from tqdm import tqdm

    from inference.batch import DirectoryPhotos, classify_lines
    from inference.predictor import Predictor
    from inference.server import POLICY
    from prodcat.batch import count_rows, local_catalogue, part_store, run_batch

    predictor = Predictor(Path(model_dir))
    photos = DirectoryPhotos(Path(data_dir), raw_prefix="")
    listings = local_catalogue(Path(data_dir))
    with tqdm(total=count_rows(data_dir), unit="row", disable=not progress) as bar:
        return run_batch(
            listings,
            part_store(out),
            lambda lines: classify_lines(lines, predictor, POLICY, photos),
            predictor.model.version,
            part_rows=part_rows,
            on_part=bar.update,
        )


def cmd_batch(args: argparse.Namespace) -> int:
    # Classify a whole catalogue: in process here, or a Batch Transform job for s3:// data.
    if str(args.data).startswith("s3://"):
        from prodcat.transform_job import endpoint_name, start_catalogue_transform

        started = start_catalogue_transform(
            str(args.data),
            str(args.out),
            model_name=args.model_name,
            endpoint=endpoint_name(args.stage) if args.stage else None,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            kms_key_id=args.kms_key_id,
        )
        print(json.dumps(started, indent=2, default=str))
        return 0
    if args.model_dir is None:
        raise ValueError("--model-dir is required for local data (s3:// data uses --stage)")
    summary = classify_catalogue(
        Path(args.data), args.out, args.model_dir, part_rows=args.part_rows, progress=not args.quiet
    )
    print(json.dumps(summary.to_json(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="prodcat", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model on a challenge-format directory")
    p.add_argument(
        "--data", type=Path, required=True, help="directory with X_*.csv, Y_*.csv, photos"
    )
    p.add_argument("--model-dir", type=Path, required=True, help="where to write the model")
    p.add_argument(
        "--hp",
        action="append",
        default=[],
        type=_hyperparameter,
        metavar="NAME=VALUE",
        help="hyperparameter override, e.g. --hp text_c=0.5 (repeatable; the README's model "
        "section lists each)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics, drift baseline and report on labelled data")
    p.add_argument(
        "--model-dir", type=Path, required=True, help="a model directory `prodcat train` wrote"
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="labelled listings in the challenge format, NOT the training data",
    )
    p.add_argument("--output", type=Path, required=True, help="where to write metrics.json")
    p.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="baseline.json, report.md, confusion PNGs (default: beside --output)",
    )
    p.add_argument(
        "--allow-training-data",
        action="store_true",
        help="score the training data anyway (measures the fit, not the accuracy)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("drift", help="drift of captured requests against a baseline.json (PSI)")
    p.add_argument("--baseline", type=Path, required=True, help="baseline.json from evaluate")
    p.add_argument(
        "--captures",
        nargs="+",
        required=True,
        metavar="DIR_OR_S3",
        help="capture record files, directories (every *.json below) or s3://bucket/prefix",
    )
    p.add_argument("--min-samples", type=int, default=500, help="fewer requests: no score")
    p.add_argument("--threshold", type=float, default=0.2, help="PSI above this: drift")
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser(
        "sample-catalog",
        help="write a small generated catalog in the challenge format (no real data)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory for the training split (X_train.csv, Y_train.csv, photos); its "
        "earlier photos are replaced",
    )
    p.add_argument(
        "--per-class", type=_at_least_one, default=12, help="listings per category (27 categories)"
    )
    p.add_argument(
        "--held-out",
        type=Path,
        help="also write a held-out test split here (other listings), to evaluate on",
    )
    p.add_argument(
        "--held-out-per-class",
        type=_at_least_one,
        default=4,
        help="listings per category in --held-out",
    )
    p.add_argument("--seed", type=int, default=0, help="same seed, same bytes")
    p.set_defaults(func=cmd_sample)

    local = sub.add_parser("local", help="the local stack: the API offline on 127.0.0.1")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    p = local_sub.add_parser("up", help="start moto, the model endpoint and the API; Ctrl-C stops")
    p.add_argument("--port", type=int, default=3001, help="the API's port on 127.0.0.1")
    p.add_argument(
        "--model-dir", type=Path, help="a trained model (default: train one on a sample catalog)"
    )
    p.set_defaults(func=cmd_local_up)
    p = local_sub.add_parser(
        "make-admin",
        help="add a signed-up user to the admins group of the running local stack "
        "(they sign in again to get it)",
    )
    p.add_argument("email", help="the user's email, as registered")
    p.set_defaults(func=cmd_local_make_admin)

    pipeline = sub.add_parser(
        "pipeline", help="the retraining pipeline: start it on a deployed stage, or run it locally"
    )
    pipeline_sub = pipeline.add_subparsers(dest="pipeline_command", required=True)
    p = pipeline_sub.add_parser(
        "start", help="start a retraining run now (refused by the run if one is in progress)"
    )
    p.add_argument("--stage", required=True, help="the cdk.json stage, e.g. dev")
    p.add_argument(
        "--state-machine-arn", help="default: prodcat-<stage>-retrain in the caller's account"
    )
    p.set_defaults(func=cmd_pipeline_start)
    p = pipeline_sub.add_parser(
        "run", help="the same state machine on the local stack, printing each state (--local)"
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="run on the local stack: the only place `run` runs (a stage runs in AWS: "
        "`pipeline start`)",
    )
    p.add_argument(
        "--data", type=Path, help="base data in the challenge format (default: a sample catalog)"
    )
    p.add_argument("--work", type=Path, default=Path(".work/pipeline"), help="scratch directory")
    p.add_argument(
        "--keep-running", action="store_true", help="keep serving the new model until Ctrl-C"
    )
    p.set_defaults(func=cmd_pipeline_run)
    records = sub.add_parser(
        "records", help="records the API accepted but could not write: write them back"
    )
    records_sub = records.add_subparsers(dest="records_command", required=True)
    p = records_sub.add_parser(
        "replay", help="from the API's logs (a double fault: write and queue both failed)"
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--log-file", type=Path, action="append", help="a log file (the local stack's; repeatable)"
    )
    source.add_argument("--log-group", action="append", help="a CloudWatch log group (repeatable)")
    source.add_argument("--stage", help="a deployed stage: the log groups of its API functions")
    p.add_argument("--since", default="24h", help="CloudWatch: 30m, 24h, 7d ago or ISO time")
    p.add_argument("--until", help="CloudWatch: ISO time (default: now)")
    p.set_defaults(func=cmd_records_replay)
    p = records_sub.add_parser("drain", help="from the undelivered-records queue")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--queue-url", help="the undelivered-records queue's URL")
    source.add_argument("--stage", help="a deployed stage: its undelivered-records queue")
    p.set_defaults(func=cmd_records_drain)
    p = sub.add_parser(
        "batch", help="classify a whole catalogue (resumable) or start a Batch Transform job"
    )
    p.add_argument(
        "--data", required=True, help="challenge-format directory, or s3://bucket/prefix/"
    )
    p.add_argument("--out", required=True, help="directory or s3:// prefix for the answers")
    p.add_argument("--model-dir", type=Path, help="local data: the model to use")
    p.add_argument("--part-rows", type=int, default=1000, help="local data: rows per output part")
    p.add_argument("--stage", help="s3:// data: classify with the model this stage serves")
    p.add_argument("--model-name", help="s3:// data: a SageMaker model instead of --stage's")
    p.add_argument(
        "--instance-type", default="ml.m5.xlarge", help="s3:// data: transform instances"
    )
    p.add_argument("--instance-count", type=int, default=1, help="s3:// data: how many instances")
    p.add_argument("--kms-key-id", help="s3:// data: KMS key for the output and volumes")
    p.set_defaults(func=cmd_batch)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, DataFormatError, OSError, ValueError) as exc:
        # A wrong path or a malformed directory is the user's to fix: say what, without a trace.
        command = [args.command, getattr(args, f"{args.command}_command", None)]
        print(f"prodcat {' '.join(filter(None, command))}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
