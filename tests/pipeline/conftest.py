"""moto with Step Functions executing definitions, the stand-ins of local_runtime/stand_ins.py
and pipeline_harness installed, and a small generated catalog as the base data."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pipeline_harness
import pytest

from prodcat.sample_catalog import write_sample_catalog

# moto logs every forwarded SageMaker call and every failed state at WARNING.
logging.getLogger("moto").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_catalog(tmp_path_factory.mktemp("base"), per_class=4, seed=3)


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Iterator[pipeline_harness.Moto]:
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from lambdas.pipeline import gate, smoke
    from local_runtime import stand_ins

    config: Any = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }
    with mock_aws(config=config):
        gate._s3_client.cache_clear()
        lambdas = pipeline_harness.InProcessLambdas()
        monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambdas.backend_invoke())
        pipeline = pipeline_harness.MotoPipeline()
        jobs = pipeline_harness.SageMakerDoubles(
            pipeline.s3, pipeline.sagemaker, pipeline.cloudwatch
        )
        served = pipeline_harness.ServedEndpoints(pipeline.s3, pipeline.sagemaker)
        monkeypatch.setattr(smoke, "_runtime_client", lambda: served)
        handlers = {
            "double-sagemaker-processing-job": jobs.processing_job,
            "double-sagemaker-training-job": jobs.training_job,
            "double-sagemaker-update-endpoint": jobs.update_endpoint,
            "double-sfn-list-executions": stand_ins.sfn_list_executions,
            "double-s3-get-object": stand_ins.s3_get_object,
            f"{pipeline_harness.PREFIX}-gate": stand_ins.lambda_handler(gate.handler),
            f"{pipeline_harness.PREFIX}-smoke": stand_ins.lambda_handler(smoke.handler),
        }
        for name, handler in handlers.items():
            lambdas.register(name, handler)
        try:
            yield pipeline_harness.Moto(pipeline, jobs, served, lambdas)
        finally:
            # An execution thread must not outlive the mock (it would call real AWS).
            if jobs.hold_prepare is not None:
                jobs.hold_prepare.set()
            deadline = time.monotonic() + 120
            while pipeline.sfn.list_executions(
                stateMachineArn=pipeline.state_machine, statusFilter="RUNNING"
            )["executions"]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            gate._s3_client.cache_clear()
