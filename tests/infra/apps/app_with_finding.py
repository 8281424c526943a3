"""The real CDK app plus one deliberate cdk-nag finding: `make synth` must fail on it.

Run by tests/infra/test_compliance.py through the CDK CLI (`make synth CDK_ARGS=--app ...`).
"""

from aws_cdk import App
from aws_cdk import aws_sqs as sqs

from infra.app import build_app, synth

app = App()
stage, *_ = build_app(app)
sqs.Queue(stage.data, "UnencryptedOnPurpose", enforce_ssl=False)  # AwsSolutions-SQS3/SQS4
synth(app)
