"""cdk-nag acknowledgments: every one carries the reason a reviewer needs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, reason: str, *finding_ids: str) -> None:
    """Acknowledge cdk-nag findings on `scope` (and its children), all for the same reason."""
    if len(reason.strip()) < 20:
        raise ValueError("a cdk-nag acknowledgment needs a real reason")
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=fid, reason=reason) for fid in finding_ids)
    )


def nag_spelling(scope: IConstruct, value: str) -> str:
    """How cdk-nag spells `value` (an ARN that may hold tokens) in a finding raised on `scope`.

    A port of cdk-nag's flattenCfnReference applied to the value as `scope`'s stack resolves
    it: ``arn:<AWS::Partition>:logs:<AWS::Region>:...`` when the stack is environment-agnostic,
    ``arn:aws:logs:eu-west-3:123456789012:...`` when `cdk deploy` gives it an account and
    region. Acknowledgments built from the granted value itself are right in both cases;
    hand-spelled ``<AWS::Region>`` ones match only the first.
    """
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: Any) -> str:
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(_flatten(item) for item in items)
        if function in ("Fn::Sub", "Fn::ImportValue"):
            return _flatten(argument)
        if function == "Fn::GetAtt":
            resource, attribute = argument
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if function == "Ref":
            return f"<{_flatten(argument)}>"
    return json.dumps(node, separators=(",", ":"))


def acknowledge_resources(scope: IConstruct, reason: str, *arns: str) -> None:
    """Acknowledge IAM5 on wildcard resource ARNs granted to `scope`, spelled as cdk-nag will."""
    acknowledge(
        scope, reason, *(f"AwsSolutions-IAM5[Resource::{nag_spelling(scope, a)}]" for a in arns)
    )


def pin_logical_id(construct: IConstruct, logical_id: str) -> None:
    """Fix a stateful resource's logical ID: refactoring the tree must not replace it."""
    resource = construct.node.default_child
    if not isinstance(resource, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to pin")
    resource.override_logical_id(logical_id)


def attribute_ref(consumer: IConstruct, resource: IConstruct, attribute: str) -> str:
    """How cdk-nag spells `resource`'s attribute inside a finding raised on `consumer`.

    Same stack: ``<LogicalId.Attr>``. Another stack: the name of the export CDK generates,
    ``<producer stack>:ExportsOutputFnGetAtt<LogicalId><Attr><hash>``, whose hash is the
    first 8 hex digits (upper case) of md5("Exports/Output" + the reference as JSON), the
    scheme of CDK's makeUniqueId. Stable because stateful logical IDs are pinned.
    """
    producer = Stack.of(resource)
    cfn = resource.node.default_child
    if not isinstance(cfn, CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource")
    logical_id = producer.resolve(cfn.logical_id)
    if Stack.of(consumer) is producer:
        return f"<{logical_id}.{attribute}>"
    reference = json.dumps({"Fn::GetAtt": [logical_id, attribute]}, separators=(",", ":"))
    digest = hashlib.md5(f"Exports/Output{reference}".encode()).hexdigest()[:8].upper()
    return f"{producer.stack_name}:ExportsOutputFnGetAtt{logical_id}{attribute}{digest}"


def acknowledge_prefix_grants(
    role: IConstruct, bucket: IConstruct, prefixes: Sequence[str], reason: str
) -> None:
    """Acknowledge IAM5 on object ARNs `<bucket>/<prefix>*`: the wildcard is the keys."""
    ref = attribute_ref(role, bucket, "Arn")
    acknowledge(role, reason, *(f"AwsSolutions-IAM5[Resource::{ref}/{p}*]" for p in prefixes))
