"""The scheduled drift check's state machine, as plain ASL (JSONPath): name the run, then run
the drift job (`python -m sagemaker_jobs.drift` in the jobs image, `.sync`) with retries.

Built with the same helpers as the retraining pipeline (step_functions/asl.py) and rendered the
same way: `json.dumps`, with CloudFormation definition substitutions for `PLACEHOLDERS`. The
construct that deploys it, and why it is a state machine at all, is
infra/constructs/drift_check_construct.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodcat_contracts.lake import PRODUCTION_BASELINE_KEY
from step_functions import asl

JOB_MODULE = "sagemaker_jobs.drift"
JOB_OUTPUT = "/opt/ml/processing/output"
DRIFT_REPORTS = "drift/"  # under the reports zone
PLACEHOLDERS = ("DataLakeBucket", "DriftJobRoleArn", "JobsImageUri", "Region")


@dataclass(frozen=True)
class DriftCheckSettings:
    """When the check runs and what it compares (the job's own defaults are the same)."""

    # Daily, once a full day of traffic is in: one datapoint a day for the drift alarm.
    schedule: str = "cron(30 4 * * ? *)"
    lookback_hours: int = 24
    # Below this many requests PSI's noise floor nears the threshold (see prodcat/drift.py).
    min_samples: int = 500
    max_records: int = 20_000
    # Reading and scoring 20k small JSON records needs neither memory nor cores.
    instance_type: str = "ml.t3.medium"
    volume_size_gb: int = 5
    max_runtime_minutes: int = 60
    retry_attempts: int = 2


def drift_check_definition(
    *,
    name_prefix: str,
    stage: str,
    threshold: float,
    reports_prefix: str,
    capture_prefix: str,
    settings: DriftCheckSettings,
) -> dict[str, Any]:
    """The ASL: name the run, then run the drift job (`.sync`) with retries. No catch: a failed
    execution is what the DriftCheckFailed alarm counts."""
    args = [
        "--bucket",
        asl.placeholder("DataLakeBucket"),
        "--stage",
        stage,
        "--baseline-key",
        PRODUCTION_BASELINE_KEY,
        "--capture-prefix",
        capture_prefix,
        "--lookback-hours",
        str(settings.lookback_hours),
        "--min-samples",
        str(settings.min_samples),
        "--threshold",
        repr(threshold),
        "--max-records",
        str(settings.max_records),
        "--output",
        JOB_OUTPUT,
    ]
    literal_args = ", ".join(f"'{a}'" for a in args)
    report_uri = (
        f"States.Format('s3://{asl.placeholder('DataLakeBucket')}/"
        f"{reports_prefix}{DRIFT_REPORTS}date={{}}/{{}}/', $.check.day, $.check.short_id)"
    )
    return {
        "Comment": f"prodcat {stage}: drift of captured requests against the production baseline",
        "StartAt": "NameCheck",
        "States": {
            "NameCheck": {
                "Type": "Pass",
                "Comment": "12 hex digits of a UUID name the job; the window ends at the start.",
                "Parameters": {
                    "short_id.$": "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 4)",
                    "until.$": "$$.Execution.StartTime",
                    "day.$": "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)",
                },
                "ResultPath": "$.check",
                "Next": "CheckDrift",
            },
            "CheckDrift": {
                "Type": "Task",
                "Comment": "PSI per feature -> CloudWatch prodcat/DriftScore; drift.json -> S3.",
                "Resource": asl.SYNC_PROCESSING_JOB,
                # The job reads S3 itself (the window's date partitions move every run), so no
                # inputs; SageMaker uploads only its report, drift.json.
                "Parameters": asl.processing_job(
                    # <= 63 chars: prefix (<= 20) + "-drift-" + 12 + "-" + retry count.
                    name=f"States.Format('{name_prefix}-drift-{{}}-{{}}', $.check.short_id, "
                    "$$.State.RetryCount)",
                    role_arn=asl.placeholder("DriftJobRoleArn"),
                    image_uri=asl.placeholder("JobsImageUri"),
                    module=JOB_MODULE,
                    arguments_path=f"States.Array({literal_args}, '--until', $.check.until)",
                    environment={"AWS_DEFAULT_REGION": asl.placeholder("Region")},
                    outputs=[asl.s3_output("report", report_uri, JOB_OUTPUT)],
                    instance_type=settings.instance_type,
                    volume_size_gb=settings.volume_size_gb,
                    max_runtime_seconds=settings.max_runtime_minutes * 60,
                ),
                "ResultSelector": {
                    "name.$": "$.ProcessingJobName",
                    "status.$": "$.ProcessingJobStatus",
                },
                "ResultPath": "$.job",
                # The job name carries the retry count: a retry never collides.
                "Retry": asl.retry(
                    ["States.TaskFailed", "States.Timeout", "SageMaker.AmazonSageMakerException"],
                    interval_seconds=300,
                    max_attempts=settings.retry_attempts,
                ),
                "End": True,
            },
        },
    }
