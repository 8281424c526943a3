"""Typed, validated per-stage configuration of the CDK app.

Config flows one way: `cdk.json` context (key ``prodcat:stages``) -> `load_stage_configs` ->
one frozen `StageConfig` per stage -> constructor arguments. Nothing below reads the
environment or calls AWS; a wrong or missing setting raises `ConfigError` naming the setting
(for example ``prodcat:stages.prod.ml.serverless.memory_size_mb``) and synth stops there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prodcat_contracts.gate import GatePolicy

CONTEXT_KEY = "prodcat:stages"
STAGE_SELECTOR_KEY = "stage"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Serverless inference: memory in 1 GB steps from 1024 to 6144 MB, at most 200 concurrent.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
# API Gateway cuts a Lambda integration off at 29 s.
API_INTEGRATION_TIMEOUT_S = 29
# Lambda refuses a reservation that leaves fewer than 100 unreserved concurrent executions
# in the account and region (the "UnreservedConcurrentExecution below its minimum" error).
LAMBDA_UNRESERVED_MINIMUM = 100

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_SCHEDULE = re.compile(
    r"^(cron\(([^ ]+ ){5}[^ ]+\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\))$"
)
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# CloudFront takes ACM certificates from us-east-1 only, whatever the stage's region.
_CLOUDFRONT_CERTIFICATE = re.compile(
    r"^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]{36}$"
)
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


class ConfigError(ValueError):
    """A setting in cdk.json context is missing or wrong; the message names each one."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class DataConfig(_Frozen):
    """Data lake lifecycle and table retention."""

    raw_infrequent_access_after_days: int = Field(ge=30)  # S3 IA needs objects >= 30 days old
    raw_glacier_after_days: int = Field(ge=90)
    capture_expire_after_days: int = Field(ge=1, le=3650)
    noncurrent_versions_expire_after_days: int = Field(ge=1, le=3650)
    access_logs_expire_after_days: int = Field(ge=1, le=3650)
    request_log_ttl_days: int = Field(ge=1, le=3650)

    @model_validator(mode="after")
    def _glacier_after_ia(self) -> DataConfig:
        if self.raw_glacier_after_days <= self.raw_infrequent_access_after_days:
            raise ValueError(
                "raw_glacier_after_days must be greater than raw_infrequent_access_after_days"
            )
        return self


class UsersConfig(_Frozen):
    """The Cognito user pool (sellers and admins)."""

    mfa: Literal["optional", "required"]
    password_min_length: int = Field(ge=8, le=99)
    access_token_validity_minutes: int = Field(ge=5, le=1440)


class ServerlessEndpointConfig(_Frozen):
    """What the pipeline puts in every endpoint config it creates."""

    memory_size_mb: int
    max_concurrency: int = Field(ge=1, le=SERVERLESS_MAX_CONCURRENCY)
    provisioned_concurrency: int | None = Field(default=None, ge=1, le=SERVERLESS_MAX_CONCURRENCY)

    @field_validator("memory_size_mb")
    @classmethod
    def _memory_step(cls, value: int) -> int:
        if value not in SERVERLESS_MEMORY_MB:
            raise ValueError(f"must be one of {list(SERVERLESS_MEMORY_MB)} (MB)")
        return value

    @model_validator(mode="after")
    def _provisioned_within_max(self) -> ServerlessEndpointConfig:
        if self.provisioned_concurrency is not None and (
            self.provisioned_concurrency > self.max_concurrency
        ):
            raise ValueError("provisioned_concurrency must not exceed max_concurrency")
        return self


class JobConfig(_Frozen):
    """One SageMaker training or processing job's resources."""

    instance_type: str
    volume_size_gb: int = Field(ge=1, le=512)
    max_runtime_minutes: int = Field(ge=5, le=2880)

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not _INSTANCE.match(value):
            raise ValueError("must look like ml.<family>.<size>, e.g. ml.m5.xlarge")
        return value


class MlConfig(_Frozen):
    serverless: ServerlessEndpointConfig
    training: JobConfig
    processing: JobConfig
    hyperparameters: dict[str, str] = Field(default_factory=dict)


class ApiConfig(_Frozen):
    cors_allowed_origins: tuple[str, ...] = Field(min_length=1)
    throttle_rate_limit: float = Field(gt=0, le=10000)
    throttle_burst_limit: int = Field(ge=1, le=5000)
    quota_requests_per_day: int = Field(ge=1)
    lambda_memory_mb: int = Field(ge=128, le=10240)
    lambda_timeout_seconds: int = Field(ge=1, le=API_INTEGRATION_TIMEOUT_S)
    # Per API function; None (the default) reserves nothing: the functions share the account's
    # unreserved pool, which is all a new account (quota 10) can offer. See StageConfig.
    lambda_reserved_concurrency: int | None = Field(default=None, ge=1, le=1000)
    log_retention_days: int

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin (scheme://host[:port], no path, no '*')"
                )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _check_retention(value)


class ReclassifyConfig(_Frozen):
    """After each successful deploy, classify the whole catalogue into the lake
    (models/predictions/<model version>/) with a Batch Transform job; off unless enabled."""

    enabled: bool = False
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=20)

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        return JobConfig._instance(value)


class PipelineConfig(_Frozen):
    schedule: str
    schedule_enabled: bool
    retrain_on_drift: bool
    gate: GatePolicy  # prodcat_contracts/gate.py: the gate Lambda reads the same model
    log_retention_days: int
    reclassify_catalogue: ReclassifyConfig = ReclassifyConfig()

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not _SCHEDULE.match(value):
            raise ValueError(
                "must be an EventBridge expression: cron(m h dom mon dow y) or rate(N unit)"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _check_retention(value)


class MonitoringConfig(_Frozen):
    """Alarm thresholds; each alarm fires after `evaluation_periods` bad 5-minute periods."""

    oncall_email: str
    evaluation_periods: int = Field(ge=1, le=288)
    api_latency_p99_ms: float = Field(gt=0)
    endpoint_latency_p99_ms: float = Field(gt=0)
    endpoint_cold_start_p99_ms: float = Field(gt=0)
    api_4xx_rate: float = Field(gt=0, le=1)
    api_5xx_rate: float = Field(gt=0, le=1)
    drift_score_threshold: float = Field(gt=0)
    # The daily drift check: when, over how many hours of captured requests, and how many
    # requests a feature needs before it gets a score (PSI's noise floor, prodcat/drift.py).
    drift_check_schedule: str = "cron(30 4 * * ? *)"
    drift_lookback_hours: int = Field(default=24, ge=1, le=24 * 14)
    drift_min_samples: int = Field(default=500, ge=50)
    # Share of predictions under 0.5 top-1 probability, per hour, that pages on-call.
    low_confidence_rate: float = Field(default=0.4, gt=0, le=1)

    @field_validator("drift_check_schedule")
    @classmethod
    def _drift_schedule(cls, value: str) -> str:
        return PipelineConfig._schedule(value)

    @field_validator("oncall_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class SiteConfig(_Frozen):
    """The web page's address. Left out (null), CloudFront's own *.cloudfront.net name serves it;
    with a domain, its certificate too (and a DNS record pointing the name at the distribution,
    which this app does not manage). Either way its URL is the API's first CORS origin."""

    domain_name: str | None = None
    certificate_arn: str | None = None

    @field_validator("domain_name")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError(f"{value!r} is not a lower-case domain name such as shop.example.fr")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not _CLOUDFRONT_CERTIFICATE.match(value):
            raise ValueError(
                f"{value!r} is not an ACM certificate ARN in us-east-1 (CloudFront reads "
                "certificates only there)"
            )
        return value

    @model_validator(mode="after")
    def _together(self) -> SiteConfig:
        if (self.domain_name is None) != (self.certificate_arn is None):
            raise ValueError(
                "domain_name and certificate_arn go together: CloudFront serves a domain of "
                "your own only with a certificate for it; leave both null for *.cloudfront.net"
            )
        return self


class StageConfig(_Frozen):
    """Everything one deployment (dev, prod, ...) is built from."""

    stage: str = Field(pattern=r"^[a-z][a-z0-9]{1,11}$")
    account: str | None = None
    region: str | None = None
    termination_protection: bool
    # The account's Lambda concurrent-executions quota in this region (Service Quotas
    # L-B99A9384): the default is 1,000, but new accounts may start at 10. The stage's
    # reservations must leave LAMBDA_UNRESERVED_MINIMUM of it unreserved (checked at synth).
    lambda_concurrency_quota: int = Field(default=1000, ge=10)
    data: DataConfig
    users: UsersConfig
    ml: MlConfig
    api: ApiConfig
    pipeline: PipelineConfig
    monitoring: MonitoringConfig
    site: SiteConfig = Field(default_factory=SiteConfig)

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError("must be a 12-digit AWS account id")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError("must be an AWS region name such as eu-west-3")
        return value

    @property
    def prefix(self) -> str:
        """Name prefix for what the pipeline creates at run time (jobs, models, endpoint)."""
        return f"prodcat-{self.stage}"

    @property
    def endpoint_name(self) -> str:
        """The serving endpoint's name: created by the pipeline's first deploy, then updated."""
        return f"{self.prefix}-predict"


def _check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of CloudWatch Logs' retention periods {LOG_RETENTION_DAYS}")
    return value


def _describe(error: ValidationError, root: str) -> str:
    lines = []
    for item in error.errors():
        where = ".".join([root, *(str(part) for part in item["loc"])])
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_stage_configs(context: Mapping[str, Any], selected: str | None) -> list[StageConfig]:
    """Validate the stages in ``context[CONTEXT_KEY]``; ``selected`` keeps only that stage.

    ``selected`` comes from ``cdk ... -c stage=dev``; without it every stage is synthesized
    (what `make synth` and the tests do), and a deploy then names its stacks (``dev/*``).
    """
    stages = context.get(CONTEXT_KEY)
    if not isinstance(stages, Mapping) or not stages:
        raise ConfigError(
            f"cdk.json context {CONTEXT_KEY!r} is missing or empty: it must map each stage "
            "name (dev, prod, ...) to its settings"
        )
    if selected is not None and selected not in stages:
        raise ConfigError(
            f"context {STAGE_SELECTOR_KEY}={selected!r} names no stage in {CONTEXT_KEY!r} "
            f"(known: {', '.join(sorted(stages))})"
        )
    names = [selected] if selected is not None else sorted(stages)
    configs: list[StageConfig] = []
    problems: list[str] = []
    for name in names:
        raw = stages[name]
        if not isinstance(raw, Mapping):
            problems.append(f"  {CONTEXT_KEY}.{name}: must be an object")
            continue
        try:
            configs.append(StageConfig.model_validate({**raw, "stage": name}))
        except ValidationError as error:
            problems.append(_describe(error, f"{CONTEXT_KEY}.{name}"))
    if problems:
        raise ConfigError("invalid cdk.json context:\n" + "\n".join(problems))
    return configs
