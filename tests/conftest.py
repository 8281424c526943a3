"""What every test directory shares: the AWS environment for tests that talk to moto."""

from __future__ import annotations

import pytest

# moto's region of choice here; the tests' buckets and ARNs name it.
AWS_TEST_REGION = "eu-west-3"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and a region for boto3 (moto accepts any), and no instance metadata
    lookups: a test never reaches a real account, whatever the machine's own settings."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": AWS_TEST_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
