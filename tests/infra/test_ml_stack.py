"""SageMaker execution roles: each reaches only its zones; images staged, never built at synth."""

from __future__ import annotations

import pytest
from infra_helpers import Synth, grants, lake_prefixes, policy_statements, resources


def _role_grants(synth: Synth, role: str) -> dict[str, set[str]]:
    return grants(policy_statements(synth.template("dev", "ml"), f"Roles{role}Role"))


@pytest.mark.parametrize(
    ("role", "reads", "writes"),
    [
        ("Prepare", {"", "raw/*"}, {"curated/*"}),
        ("Train", {"", "curated/*"}, {"models/artifacts/*"}),
        ("Evaluate", {"", "curated/*", "models/artifacts/*"}, {"models/reports/*"}),
        ("Model", {"", "models/artifacts/*"}, set()),
        # Reclassifying the catalogue: reads the photos and the model, writes the predictions
        # (the transform's input lines, then its answers); the endpoint's role stays as above.
        (
            "Catalogue",
            {"", "raw/*", "models/artifacts/*", "models/predictions/*"},
            {"models/predictions/*"},
        ),
    ],
)
def test_each_sagemaker_role_reaches_only_its_zones(
    synth: Synth, role: str, reads: set[str], writes: set[str]
) -> None:
    allowed = _role_grants(synth, role)
    assert lake_prefixes(allowed["s3:GetObject*"]) == reads
    assert lake_prefixes(allowed.get("s3:PutObject", set())) == writes
    assert not {a for a in allowed if a.startswith("s3:Delete") or a == "s3:*"}
    assert "iam:PassRole" not in allowed


@pytest.mark.parametrize("role", ["Prepare", "Train", "Evaluate", "Model", "Catalogue"])
def test_wildcard_resources_only_where_aws_has_no_resource_level_permissions(
    synth: Synth, role: str
) -> None:
    allowed = _role_grants(synth, role)
    star = {action for action, targets in allowed.items() if "*" in targets}
    assert star == {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
    statements = policy_statements(synth.template("dev", "ml"), f"Roles{role}Role")
    (metrics,) = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}}


def test_roles_are_assumed_by_sagemaker_only(synth: Synth) -> None:
    roles = resources(synth.template("dev", "ml"), "AWS::IAM::Role")
    assert len(roles) == 5
    for role in roles.values():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert "ManagedPolicyArns" not in role["Properties"]


def test_model_role_logs_only_to_its_endpoint_group(synth: Synth) -> None:
    allowed = _role_grants(synth, "Model")
    assert {r.rsplit(":log-group:", 1)[1] for r in allowed["logs:PutLogEvents"]} == {
        "/aws/sagemaker/Endpoints/prodcat-dev-predict:*"
    }


def test_image_assets_are_staged_without_local_junk(synth: Synth) -> None:
    docker_dirs = [d for d in synth.asset_dirs if (d / "inference" / "Dockerfile").exists()]
    assert docker_dirs, "no Docker build context was staged"
    for directory in docker_dirs:
        top = {p.name for p in directory.iterdir()}
        assert not top & {".venv", "node_modules", "cdk.out", ".git", ".work", "tests"}
        assert not list(directory.rglob("__pycache__"))
