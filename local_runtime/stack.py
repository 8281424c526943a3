"""The local stack: the whole API offline on 127.0.0.1, started and stopped as one.

- AWS services (Cognito, DynamoDB, S3, SQS, CloudWatch) from a moto server, with the resources
  the CDK app creates (same keys, groups and client auth flows);
- the SageMaker runtime from `LocalEndpoints`, serving a model trained here (or the one given);
- the API handlers behind `LocalGateway`, configured by the same environment variables the
  stack sets on the Lambdas, run concurrently in Lambda-like instance processes (at most
  `concurrency` per function); the metrics they print (EMF) are published to the local CloudWatch.

boto3 finds the local services through AWS_ENDPOINT_URL (one per process), so the handlers run
unchanged. Use it as a context manager, or `prodcat local up` from the shell.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import EndpointConnectionError

from lambdas.api.password_policy import PasswordPolicy
from lambdas.api.settings import ApiSettings
from local_runtime.endpoints import LocalEndpoints
from local_runtime.gateway import Authorizer, LocalGateway, TokenBucket, UserPool
from local_runtime.handler_log import HandlerLog
from local_runtime.instances import DEFAULT_CONCURRENCY
from local_runtime.metrics import publish_emf
from local_runtime.moto_server import environment, moto_server
from local_runtime.serving import serve_app
from local_runtime.site import PREFIX as SITE_PREFIX
from local_runtime.site import LocalSite
from prodcat.site import site_config
from prodcat_contracts.lake import ZONES

REGION = "eu-west-3"
ENDPOINT_NAME = "prodcat-local"
GROUPS = ("admins", "sellers")
BUCKET = "prodcat-local-data-lake"
DEFAULT_MODEL_DIR = Path(".work/local/model")
DEFAULT_LOG_FILE = Path(".work/local/logs/api.log")
PASSWORD_POLICY = PasswordPolicy(minimum_length=12)  # as cdk.json's dev stage (a test checks)
STATE_FILE = Path(".work/local/stack.json")  # the running `prodcat local up`, for make-admin


@dataclass(frozen=True)
class LocalResources:
    moto_url: str
    api_url: str
    api_key: str
    site_url: str  # the web page (web/), served by the gateway on the API's origin
    user_pool_id: str
    client_id: str
    bucket: str
    request_log_table: str
    products_table: str
    queue_url: str
    endpoint_name: str
    log_file: Path


def _aws_environment(moto_url: str, runtime_url: str) -> dict[str, str]:
    return {
        # moto's Step Functions interpreter calls the services it integrates at this port.
        "MOTO_PORT": moto_url.rsplit(":", 1)[1],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime_url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def create_resources(stage: str = "local") -> dict[str, str]:
    """The stateful resources of the data and API stacks, in moto: what the handlers need."""
    cognito = boto3.client("cognito-idp")
    pool = cognito.create_user_pool(
        PoolName=f"prodcat-{stage}-users",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": PASSWORD_POLICY.cognito()},
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="api",
        GenerateSecret=False,
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
    )["UserPoolClient"]
    for group in GROUPS:
        cognito.create_group(UserPoolId=pool["Id"], GroupName=group)

    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=f"prodcat-{stage}-request-log",
        KeySchema=[
            {"AttributeName": "user_id", "KeyType": "HASH"},
            {"AttributeName": "requested_at", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "user_id", "AttributeType": "S"},
            {"AttributeName": "requested_at", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName=f"prodcat-{stage}-products",
        KeySchema=[{"AttributeName": "product_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "product_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    queue = boto3.client("sqs").create_queue(QueueName=f"prodcat-{stage}-undelivered")
    settings = ApiSettings(
        stage=stage,
        user_pool_id=pool["Id"],
        user_pool_client_id=client["ClientId"],
        request_log_table=f"prodcat-{stage}-request-log",
        products_table=f"prodcat-{stage}-products",
        data_lake_bucket=BUCKET,
        raw_prefix=ZONES.raw,
        capture_prefix=ZONES.capture,
        endpoint_name=ENDPOINT_NAME,
        undelivered_queue_url=queue["QueueUrl"],
        request_log_ttl_days=30,
        password_policy=PASSWORD_POLICY.model_dump_json(),  # type: ignore[arg-type]  # a Json field
    )
    return {
        **settings.environment(),
        "POWERTOOLS_SERVICE_NAME": "prodcat-api-local",
        "POWERTOOLS_METRICS_NAMESPACE": "prodcat",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def sample_model(model_dir: Path = DEFAULT_MODEL_DIR) -> Path:
    """A model trained on the generated sample catalog, made once and reused."""
    if (model_dir / "manifest.json").exists():
        return model_dir
    from prodcat.sample_catalog import write_sample_catalog
    from prodcat.training import train

    data = model_dir.parent / "sample-catalog"
    print(
        f"No model given (--model-dir): training one on a generated sample catalog first, "
        f"once (about 1.5 min on an idle 2-core machine; kept in {model_dir} for the next start).",
        flush=True,
    )
    write_sample_catalog(data, per_class=6, seed=1)
    result = train(data)
    result.model.save(model_dir)
    print(f"model {result.model.version} trained in {result.seconds:.0f} s", flush=True)
    return model_dir


class LocalStack:
    """Starts moto, the endpoint, the gateway; `resources` says where everything is."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        port: int | None = None,
        throttle: TokenBucket | None = None,
        deploy_model: bool = True,
        log_file: Path = DEFAULT_LOG_FILE,
        concurrency: int = DEFAULT_CONCURRENCY,
        wait_seconds: float = 0.0,
    ) -> None:
        """`deploy_model=False` starts with no endpoint, as a fresh AWS stage does (/predict
        answers 503 until the pipeline's first run deploys one). `concurrency`: instances per
        API function; a request finding them all busy waits up to `wait_seconds`, then gets the
        500 API Gateway answers for a throttled Lambda."""
        self._concurrency = concurrency
        self._wait_seconds = wait_seconds
        self._log_file = log_file  # what the handlers print, as their CloudWatch log groups hold it
        self._model_dir = model_dir
        self._deploy_model = deploy_model
        self._port = port
        self._throttle = throttle or TokenBucket(rate=20, burst=40)  # cdk.json dev stage
        self._exit = ExitStack()
        self.endpoints = LocalEndpoints()
        self.resources: LocalResources | None = None
        self.gateway: LocalGateway | None = None

    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        # Routes without metrics of their own make Powertools warn on every call.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        moto_url = self._exit.enter_context(moto_server())
        runtime_url = self._exit.enter_context(serve_app(self.endpoints.app(), name="sagemaker"))
        self._exit.callback(self.endpoints.close)
        self._exit.enter_context(environment(_aws_environment(moto_url, runtime_url)))

        settings = create_resources()
        self._exit.enter_context(environment(settings))
        if self._deploy_model:
            self.endpoints.deploy(ENDPOINT_NAME, self._model_dir or sample_model())

        # Imported here: the handler module reads its environment and builds its clients lazily.
        from lambdas.api import clients
        from lambdas.api.app import app
        from lambdas.api.openapi import document
        from lambdas.api.settings import settings as api_settings

        clients.reset()
        api_settings.cache_clear()
        self._exit.callback(clients.reset)
        self._exit.callback(api_settings.cache_clear)
        handler_log = HandlerLog(self._log_file, then=publish_emf)
        api_key = secrets.token_urlsafe(24)
        pool = UserPool(
            pool_id=settings["USER_POOL_ID"],
            client_id=settings["USER_POOL_CLIENT_ID"],
            region=REGION,
            jwks_url=f"{moto_url}/{settings['USER_POOL_ID']}/.well-known/jwks.json",
        )
        gateway = LocalGateway(
            handler="lambdas.api.app:handler",  # in instance processes, imported there
            authorizer=Authorizer(pool),
            api_key=api_key,
            throttle=self._throttle,
            openapi=lambda: document(app),
            printed=handler_log.printed,
            concurrency=self._concurrency,
            wait_seconds=self._wait_seconds,
            # The page, on the API's origin.
            site=LocalSite(site_config("", api_key, "local", PASSWORD_POLICY.describe())),
        )
        self._exit.callback(gateway.close)
        self.gateway = gateway
        api_url = self._exit.enter_context(serve_app(gateway.app(), self._port, name="gateway"))
        self.resources = LocalResources(
            moto_url=moto_url,
            api_url=api_url,
            api_key=api_key,
            site_url=f"{api_url}{SITE_PREFIX}/",
            user_pool_id=settings["USER_POOL_ID"],
            client_id=settings["USER_POOL_CLIENT_ID"],
            bucket=settings["DATA_LAKE_BUCKET"],
            request_log_table=settings["REQUEST_LOG_TABLE"],
            products_table=settings["PRODUCTS_TABLE"],
            queue_url=settings["UNDELIVERED_QUEUE_URL"],
            endpoint_name=ENDPOINT_NAME,
            log_file=self._log_file,
        )

    def make_admin(self, email: str) -> None:
        """What an operator does with `aws cognito-idp admin-add-user-to-group`."""
        assert self.resources is not None
        add_to_admins(boto3.client("cognito-idp"), self.resources.user_pool_id, email)


def add_to_admins(cognito: Any, user_pool_id: str, email: str) -> None:
    try:
        cognito.admin_add_user_to_group(UserPoolId=user_pool_id, Username=email, GroupName="admins")
    except cognito.exceptions.UserNotFoundException:
        raise ValueError(
            f"no user {email} in the local user pool: sign up first (POST /register)"
        ) from None


def write_state(resources: LocalResources, path: Path = STATE_FILE) -> None:
    """Where the running stack's user pool is, for `prodcat local make-admin` in another shell."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"moto_url": resources.moto_url, "user_pool_id": resources.user_pool_id})
    )


def make_admin(email: str, state: Path = STATE_FILE) -> str:
    """`prodcat local make-admin EMAIL`: the running local stack's user joins the admins group."""
    if not state.is_file():
        raise ValueError(f"no local stack is running ({state} is missing): start prodcat local up")
    found = json.loads(state.read_text())
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=found["moto_url"],
        region_name=REGION,
        aws_access_key_id="local",  # moto accepts any; set here so no AWS profile is needed
        aws_secret_access_key="local",
    )
    try:
        add_to_admins(cognito, found["user_pool_id"], email)
    except EndpointConnectionError:
        raise ValueError(
            f"the local stack at {found['moto_url']} does not answer: is prodcat local up running?"
        ) from None
    return f"{email} is an admin now: the next POST /login gives them a token that says so"


def run_forever(model_dir: Path | None, port: int) -> None:
    """`prodcat local up`: start everything, print where it is, stop it all on Ctrl-C."""
    for name in ("botocore", "httpx"):  # one line per client and per request otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    with LocalStack(model_dir, port=port) as stack:
        r = stack.resources
        assert r is not None
        print(f"prodcat API      {r.api_url}   (x-api-key: {r.api_key})")
        print(f"Swagger UI       {r.api_url}/swagger")
        print(f"web page         {r.site_url}")
        print(f"AWS (moto)       {r.moto_url}   bucket {r.bucket}")
        print(f"handler logs     {r.log_file}")
        print(
            f"replay records:  AWS_ENDPOINT_URL={r.moto_url} AWS_DEFAULT_REGION={REGION} "
            "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "  # moto takes any; no profile
            f".venv/bin/prodcat records replay --log-file {r.log_file}"
        )
        print("make an admin:   .venv/bin/prodcat local make-admin EMAIL   (once EMAIL signed up)")
        print("Ctrl-C stops it all.")
        write_state(r)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping")
        finally:
            STATE_FILE.unlink(missing_ok=True)
