"""CloudWatch alarms to the on-call topic and the operations dashboard.

Metric contract for the drift job: namespace `prodcat`, metric `DriftScore`, dimensions
`Stage=<stage>` and `Feature=overall` (one series per feature beside it), and
`DriftSampleSize` {Stage}; published once per drift check (sagemaker_jobs/drift.py).
The API's Powertools metrics (namespace `prodcat`, dimensions `service`, `Stage`) give the
low-confidence rate: `LowConfidence` is 1 when the top-1 probability is under 0.5, else 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import MonitoringConfig
from infra.constructs.rollback_alarms import ROLLBACK_ALARMS, rollback_alarm_name

PERIOD = Duration.minutes(5)
DRIFT_NAMESPACE = "prodcat"
DRIFT_METRIC = "DriftScore"
ENDPOINT_VARIANT = "AllTraffic"
DRIFT_FEATURES = (
    "predicted_class",
    "top1_confidence",
    "text_length",
    "language",
    "photo",
    "mode",
)
# The drift job publishes one datapoint per check (daily), so its alarm uses an hour's period and
# keeps its state between checks (missing data: ignore): ALARM until a check says otherwise.
DRIFT_PERIOD = Duration.hours(1)
API_NAMESPACE = "prodcat"  # the API's Powertools metrics
PREDICT_SERVICE = "prodcat-api-predict"  # Powertools `service` dimension of the predict Lambda
# Share of predictions whose top-1 probability is under 0.5, over an hour with at least
# LOW_CONFIDENCE_MIN_PREDICTIONS of them, against `monitoring.low_confidence_rate`. A calibrated
# model that is right about 80% of the time puts well under a quarter of its answers there;
# the default 0.4 is twice that: traffic it does not know.
LOW_CONFIDENCE_MIN_PREDICTIONS = 20
LOW_CONFIDENCE_PERIOD = Duration.hours(1)
_MICROSECONDS_PER_MS = 1000  # SageMaker reports ModelLatency and ModelSetupTime in µs


@dataclass(frozen=True)
class MonitoredResources:
    stage: str
    api: apigw.RestApi
    functions: Mapping[str, lambda_.IFunction]
    endpoint_name: str
    state_machine: sfn.IStateMachine
    queues: Mapping[str, sqs.IQueue]
    # The scheduled drift check's state machine (infra/constructs/drift_check_construct.py).
    drift_check: sfn.IStateMachine | None = None


class MonitoringConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: MonitoringConfig,
        topic: sns.ITopic,
        resources: MonitoredResources,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._stage = resources.stage
        self._action = actions.SnsAction(topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        stage = resources.api.deployment_stage
        endpoint = {"EndpointName": resources.endpoint_name, "VariantName": ENDPOINT_VARIANT}

        api_latency = stage.metric_latency(statistic="p99", period=PERIOD)
        api_4xx = stage.metric_client_error(statistic="Average", period=PERIOD)
        api_5xx = stage.metric_server_error(statistic="Average", period=PERIOD)
        model_latency = _sagemaker("ModelLatency", endpoint, "p99")
        cold_start = _sagemaker("ModelSetupTime", endpoint, "p99")
        endpoint_5xx = _sagemaker("Invocation5XXErrors", endpoint, "Sum")
        drift = _drift(resources.stage, "overall")
        drift_features: list[cloudwatch.IMetric] = [
            _drift(resources.stage, f).with_(label=f) for f in DRIFT_FEATURES
        ]
        drift_samples = cloudwatch.Metric(
            namespace=DRIFT_NAMESPACE,
            metric_name="DriftSampleSize",
            dimensions_map={"Stage": resources.stage},
            statistic="Maximum",
            period=DRIFT_PERIOD,
        )
        low_confidence = cloudwatch.MathExpression(
            # An hour with a handful of predictions says nothing about a rate: count it as 0.
            expression=f"IF(predictions >= {LOW_CONFIDENCE_MIN_PREDICTIONS}, rate, 0)",
            using_metrics={
                "rate": _predict_metric("LowConfidence", resources.stage, "Average"),
                "predictions": _predict_metric("LowConfidence", resources.stage, "SampleCount"),
            },
            label="Low-confidence rate (top-1 < 0.5)",
            period=LOW_CONFIDENCE_PERIOD,
        )
        failed = cloudwatch.MathExpression(
            expression="failed + timedout + aborted",
            using_metrics={
                "failed": resources.state_machine.metric_failed(statistic="Sum", period=PERIOD),
                "timedout": resources.state_machine.metric_timed_out(
                    statistic="Sum", period=PERIOD
                ),
                "aborted": resources.state_machine.metric_aborted(statistic="Sum", period=PERIOD),
            },
            label="Pipeline runs failed, timed out or aborted",
            period=PERIOD,
        )

        self._alarm(
            "ApiLatencyP99",
            api_latency,
            settings.api_latency_p99_ms,
            "API p99 latency (ms) above threshold",
        )
        self._alarm(
            "Api4xxRate",
            api_4xx,
            settings.api_4xx_rate,
            "Share of API requests answered 4xx above threshold",
        )
        self._alarm(
            "Api5xxRate",
            api_5xx,
            settings.api_5xx_rate,
            "Share of API requests answered 5xx above threshold",
        )
        self._alarm(
            "EndpointLatencyP99",
            model_latency,
            settings.endpoint_latency_p99_ms * _MICROSECONDS_PER_MS,
            "Endpoint p99 model latency (µs) above threshold",
        )
        self._alarm(
            "EndpointColdStartP99",
            cold_start,
            settings.endpoint_cold_start_p99_ms * _MICROSECONDS_PER_MS,
            "Serverless endpoint p99 cold start (ModelSetupTime, µs) above threshold",
        )
        self._alarm("Endpoint5xx", endpoint_5xx, 0, "Endpoint answered 5xx")
        self._alarm(
            "DriftScore",
            drift,
            settings.drift_score_threshold,
            "Drift score (PSI, max over features) of the last check above threshold; see the "
            "per-feature scores on the dashboard and drift.json under models/reports/drift/",
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self._alarm(
            "LowConfidenceRate",
            low_confidence,
            settings.low_confidence_rate,
            "Share of predictions with a top-1 probability under 0.5 above threshold",
        )
        if resources.drift_check is not None:
            check = resources.drift_check
            self._alarm(
                "DriftCheckFailed",
                cloudwatch.MathExpression(
                    # Each series exists only when it happened: fill the others with 0 so
                    # that the sum has a value whenever one of them does.
                    expression="FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
                    using_metrics={
                        "failed": check.metric_failed(statistic="Sum", period=PERIOD),
                        "timedout": check.metric_timed_out(statistic="Sum", period=PERIOD),
                        "aborted": check.metric_aborted(statistic="Sum", period=PERIOD),
                    },
                    label="Drift checks failed, timed out or aborted",
                    period=PERIOD,
                ),
                0,
                "The scheduled drift check failed (after its retries): drift is not measured",
                evaluation_periods=1,
            )
        self._alarm(
            "PipelineFailed",
            failed,
            0,
            "A retraining run failed, timed out or aborted",
            evaluation_periods=1,
        )
        for name, function in resources.functions.items():
            self._alarm(
                f"{name}LambdaErrors",
                function.metric_errors(statistic="Sum", period=PERIOD),
                0,
                f"{name} Lambda raised errors",
            )
            self._alarm(
                f"{name}LambdaThrottles",
                function.metric_throttles(statistic="Sum", period=PERIOD),
                0,
                f"{name} Lambda was throttled",
            )
        for name, queue in resources.queues.items():
            self._alarm(
                f"{name}NotEmpty",
                queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=PERIOD
                ),
                0,
                f"{name}: messages that could not be delivered are waiting",
                evaluation_periods=1,
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=Duration.days(7),
            widgets=[
                [
                    cloudwatch.AlarmStatusWidget(
                        title="Alarms", alarms=list(self.alarms.values()), width=24, height=4
                    )
                ],
                [
                    _graph("API p99 latency (ms)", [api_latency]),
                    _graph("API 4xx / 5xx rate", [api_4xx, api_5xx]),
                    _graph("API requests", [stage.metric_count(period=PERIOD)]),
                ],
                [
                    _graph("Endpoint p99 model latency (µs)", [model_latency]),
                    _graph("Endpoint p99 cold start (µs)", [cold_start]),
                    _graph(
                        "Endpoint invocations / 5xx",
                        [_sagemaker("Invocations", endpoint, "Sum"), endpoint_5xx],
                    ),
                ],
                [
                    _graph(
                        "Lambda errors",
                        [f.metric_errors(period=PERIOD) for f in resources.functions.values()],
                    ),
                    _graph(
                        "Lambda throttles",
                        [f.metric_throttles(period=PERIOD) for f in resources.functions.values()],
                    ),
                    _graph("Drift score (overall)", [drift]),
                ],
                [
                    _graph("Drift score per feature (PSI)", drift_features),
                    _graph("Requests per drift check", [drift_samples]),
                    _graph("Low-confidence rate", [low_confidence]),
                ],
                [
                    _graph(
                        "Pipeline runs",
                        [
                            resources.state_machine.metric_succeeded(period=PERIOD),
                            resources.state_machine.metric_failed(period=PERIOD),
                        ],
                    )
                ],
            ],
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        evaluation_periods: int | None = None,
        treat_missing_data: cloudwatch.TreatMissingData | None = None,
    ) -> cloudwatch.Alarm:
        periods = evaluation_periods or self._settings.evaluation_periods
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            # Serverless and idle: no traffic means no datapoints, which is not an incident.
            treat_missing_data=treat_missing_data or cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
            # The pipeline's UpdateEndpoint names these (auto-rollback): fixed names.
            alarm_name=(
                rollback_alarm_name(self._stage, name) if name in ROLLBACK_ALARMS else None
            ),
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[name] = alarm
        return alarm


def _sagemaker(metric_name: str, dimensions: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name=metric_name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=PERIOD,
    )


def _drift(stage: str, feature: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=DRIFT_NAMESPACE,
        metric_name=DRIFT_METRIC,
        dimensions_map={"Stage": stage, "Feature": feature},
        statistic="Maximum",
        period=DRIFT_PERIOD,
    )


def _predict_metric(name: str, stage: str, statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=API_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": PREDICT_SERVICE, "Stage": stage},
        statistic=statistic,
        period=LOW_CONFIDENCE_PERIOD,
    )


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6)
