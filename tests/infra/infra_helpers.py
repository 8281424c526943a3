"""Helpers shared by the infra tests (imported as a plain module: tests/infra is on sys.path)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass
class Synth:
    outdir: Path
    templates: dict[tuple[str, str], dict[str, Any]]
    stack_names: dict[tuple[str, str], str]
    termination_protection: dict[tuple[str, str], bool]
    validation_error: str | None
    validation_report: dict[str, Any] | None
    asset_dirs: list[Path]

    def template(self, stage: str, stack: str) -> dict[str, Any]:
        return self.templates[(stage, stack)]


def resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == cfn_type
    }


def policy_statements(template: dict[str, Any], role_logical_prefix: str) -> list[dict[str, Any]]:
    """Statements of the inline policies attached to the role whose logical ID starts so."""
    found: list[dict[str, Any]] = []
    for resource in resources(template, "AWS::IAM::Policy").values():
        roles = resource["Properties"].get("Roles", [])
        if any(r.get("Ref", "").startswith(role_logical_prefix) for r in roles):
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        action = statement["Action"]
        out.update([action] if isinstance(action, str) else action)
    return out


def flatten(value: Any) -> str:
    """Render a CloudFormation value as one readable string (for asserting ARNs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(flatten(p) for p in parts)
        if "Fn::ImportValue" in value:
            return f"<import:{flatten(value['Fn::ImportValue'])}>"
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        if "Fn::Sub" in value:
            return flatten(value["Fn::Sub"])
    raise AssertionError(f"cannot flatten {value!r}")


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """action -> the (flattened) resources it is allowed on, over all Allow statements."""
    out: dict[str, set[str]] = {}
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        actions = statement["Action"]
        targets = statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for target in [targets] if not isinstance(targets, list) else targets:
                out.setdefault(action, set()).add(flatten(target))
    return out


def lake_prefixes(resource_set: set[str]) -> set[str]:
    """The data lake key prefixes among `resource_set` ("" for the bucket itself)."""
    found = set()
    for resource in resource_set:
        if "DataLakeBucket" in resource:
            _, _, rest = resource.partition(">")
            found.add(rest.lstrip("/"))
    return found
