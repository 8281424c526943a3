"""The stateful stack: encryption, TLS-only, private, versioned, lifecycle, retained, stable IDs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_helpers import Synth, resources

STAGES = ("dev", "prod")


def _data(synth: Synth, stage: str) -> dict[str, Any]:
    return synth.template(stage, "data")


@pytest.mark.parametrize("stage", STAGES)
def test_stateful_logical_ids_are_pinned(synth: Synth, stage: str) -> None:
    # Changing any of these replaces a bucket, table or user pool (data loss): pinned on purpose.
    template = _data(synth, stage)
    expected = {
        "DataLakeBucket": "AWS::S3::Bucket",
        "DataLakeAccessLogsBucket": "AWS::S3::Bucket",
        "UserPool": "AWS::Cognito::UserPool",
        "RequestLogTable": "AWS::DynamoDB::Table",
        "ProductCatalogueTable": "AWS::DynamoDB::Table",
    }
    for logical_id, cfn_type in expected.items():
        assert template["Resources"][logical_id]["Type"] == cfn_type
    assert template["Resources"]["ModelPackageGroup"]["Type"] == (
        "AWS::SageMaker::ModelPackageGroup"
    )


@pytest.mark.parametrize("stage", STAGES)
def test_stateful_resources_are_retained(synth: Synth, stage: str) -> None:
    template = _data(synth, stage)
    stateful = {"AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Cognito::UserPool"}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in stateful:
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    # The model registry is retained too, except when its own first create rolls back
    # (below, with its per-stack name).
    group = template["Resources"]["ModelPackageGroup"]
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"


def test_only_prod_data_is_termination_and_deletion_protected(synth: Synth) -> None:
    assert synth.termination_protection[("prod", "data")] is True
    assert synth.termination_protection[("dev", "data")] is False
    for stage, protected in (("prod", True), ("dev", False)):
        template = Template.from_json(_data(synth, stage))
        template.has_resource_properties(
            "AWS::DynamoDB::Table", {"DeletionProtectionEnabled": protected}
        )
        template.has_resource_properties(
            "AWS::Cognito::UserPool", {"DeletionProtection": "ACTIVE" if protected else "INACTIVE"}
        )


@pytest.mark.parametrize("stage", STAGES)
def test_buckets_are_encrypted_private_versioned(synth: Synth, stage: str) -> None:
    buckets = resources(_data(synth, stage), "AWS::S3::Bucket")
    assert set(buckets) == {"DataLakeBucket", "DataLakeAccessLogsBucket"}
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_policies_deny_plain_http_and_old_tls(synth: Synth, stage: str) -> None:
    template = _data(synth, stage)
    policies = resources(template, "AWS::S3::BucketPolicy")
    protected = {p["Properties"]["Bucket"]["Ref"]: p for p in policies.values()}
    assert set(protected) == {"DataLakeBucket", "DataLakeAccessLogsBucket"}
    for bucket, policy in protected.items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert any(
            s["Action"] == "s3:*" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in denies
        ), bucket
        assert any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies), (
            bucket
        )


def test_lake_lifecycle_follows_config(synth: Synth) -> None:
    rules = {
        stage: {
            r["Id"]: r
            for r in _data(synth, stage)["Resources"]["DataLakeBucket"]["Properties"][
                "LifecycleConfiguration"
            ]["Rules"]
        }
        for stage in STAGES
    }
    dev = rules["dev"]
    assert dev["capture-expires"]["Prefix"] == "capture/"
    assert dev["capture-expires"]["ExpirationInDays"] == 30
    assert rules["prod"]["capture-expires"]["ExpirationInDays"] == 90
    assert dev["raw-to-cheaper-storage"]["Prefix"] == "raw/"
    assert [
        (t["StorageClass"], t["TransitionInDays"])
        for t in rules["prod"]["raw-to-cheaper-storage"]["Transitions"]
    ] == [
        ("STANDARD_IA", 30),
        ("GLACIER_IR", 180),
    ]
    assert dev["old-versions-expire"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_lake_access_is_logged_to_the_log_bucket(synth: Synth) -> None:
    props = _data(synth, "dev")["Resources"]["DataLakeBucket"]["Properties"]
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": "DataLakeAccessLogsBucket"
    }


def test_tables_have_pitr_and_only_the_request_log_expires(synth: Synth) -> None:
    tables = _data(synth, "dev")["Resources"]
    log, products = (
        tables["RequestLogTable"]["Properties"],
        tables["ProductCatalogueTable"]["Properties"],
    )
    for table in (log, products):
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSESpecification"]["SSEEnabled"] is True
    assert log["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "TimeToLiveSpecification" not in products
    assert log["KeySchema"] == [
        {"AttributeName": "user_id", "KeyType": "HASH"},
        {"AttributeName": "requested_at", "KeyType": "RANGE"},
    ]


def test_user_pool_has_sellers_and_admins_groups_and_no_custom_attributes(synth: Synth) -> None:
    template = Template.from_json(_data(synth, "dev"))
    for group in ("sellers", "admins"):
        template.has_resource_properties(
            "AWS::Cognito::UserPoolGroup",
            {"GroupName": group, "UserPoolId": {"Ref": "UserPool"}},
        )
    pool = _data(synth, "dev")["Resources"]["UserPool"]["Properties"]
    assert "Schema" not in pool or all(
        not a.get("Mutable") for a in pool["Schema"] if a["Name"].startswith("custom:")
    )
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "PreventUserExistenceErrors": "ENABLED",
            "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_PASSWORD_AUTH"]),
        },
    )


def test_model_package_group_is_named_per_stack_and_survives_only_a_delete(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        group = synth.template(stage, "data")["Resources"]["ModelPackageGroup"]
        # A new stack (after a destroy, or a failed first create) gets a new UUID, so the
        # retained group of the old one cannot collide with it ("already exists").
        uuid = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
        assert group["Properties"]["ModelPackageGroupName"] == {
            "Fn::Join": [
                "",
                [f"prodcat-{stage}-models-", {"Fn::Select": [0, {"Fn::Split": ["-", uuid]}]}],
            ]
        }
        # Kept on delete (audit history); removed if the stack's own create rolls back.
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"
        assert group["UpdateReplacePolicy"] == "Retain"
