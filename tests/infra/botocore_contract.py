"""Step Functions Task states checked against botocore's service models, with no AWS call.

What a real deploy and run would reject, found before them: `check_definition(asl)` returns one
line per problem in every Task state (those in Parallel branches too):

- the Resource is a real integration: an optimized one Step Functions documents (with the
  integration patterns it supports, e.g. `.sync` only for the SageMaker *jobs*), or
  `arn:aws:states:::aws-sdk:<service>:<action>` naming a real botocore operation;
- Parameters are the operation's request: member names (`Name` or `Name.$`, not both), required
  members, and for every static value its type (structure, list, map, string, integer, ...),
  enum, length/range and pattern, read from the model, never retyped;
- dynamic values (`Name.$`) are traced: paths into what earlier states wrote (Pass states are
  evaluated, intrinsic functions included, on sample values; Task results keep the botocore
  shape of the operation's output, narrowed by ResultSelector) must exist, and the value that
  arrives is checked like a static one when it is known (job names, S3 URIs), or by type when
  only its shape is known, or by its static text when it is a `States.Format` with unknown
  arguments;
- ResultSelector paths exist in the operation's output (for `.sync` jobs: the Describe*
  response Step Functions returns).

The state data is tracked flow-insensitively (every write of every state, merged): a path some
state writes resolves, whichever branch wrote it; a value that may also be null (a Choice guards
it) is checked for its non-null alternatives.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape

from step_functions.render import iter_states

try:  # cfn-lint's dependency: understands the \p{L} classes AWS patterns use
    import regex as _regex_module
except ImportError:  # pragma: no cover - fall back to what `re` can compile
    _regex_module = None  # type: ignore[assignment]

# Step Functions' service names (the Java SDK's) where botocore names the service otherwise.
SDK_SERVICE_ALIASES = {"sfn": "stepfunctions"}

_SM = "sagemaker"


@dataclass(frozen=True)
class Optimized:
    """An optimized integration as Step Functions documents it (connect-sagemaker, connect-sns,
    connect-lambda): its API's request members are its Parameters."""

    service: str  # botocore's service and operation
    operation: str
    patterns: frozenset[str] = frozenset({""})  # the suffixes it supports ("" request-response)
    sync_result: str | None = None  # the operation whose response a `.sync` task returns
    documented: frozenset[str] | None = None  # the members it passes (None: all of the API's)
    any_json: frozenset[str] = frozenset()  # members it takes as any JSON


OPTIMIZED: dict[str, Optimized] = {
    "sagemaker:createEndpoint": Optimized(_SM, "CreateEndpoint"),
    "sagemaker:createEndpointConfig": Optimized(_SM, "CreateEndpointConfig"),
    "sagemaker:createModel": Optimized(_SM, "CreateModel"),
    "sagemaker:updateEndpoint": Optimized(_SM, "UpdateEndpoint"),
    "sagemaker:createHyperParameterTuningJob": Optimized(
        _SM,
        "CreateHyperParameterTuningJob",
        frozenset({"", ".sync"}),
        "DescribeHyperParameterTuningJob",
    ),
    "sagemaker:createLabelingJob": Optimized(
        _SM, "CreateLabelingJob", frozenset({"", ".sync"}), "DescribeLabelingJob"
    ),
    "sagemaker:createProcessingJob": Optimized(
        _SM, "CreateProcessingJob", frozenset({"", ".sync"}), "DescribeProcessingJob"
    ),
    "sagemaker:createTrainingJob": Optimized(
        _SM, "CreateTrainingJob", frozenset({"", ".sync"}), "DescribeTrainingJob"
    ),
    "sagemaker:createTransformJob": Optimized(
        _SM, "CreateTransformJob", frozenset({"", ".sync"}), "DescribeTransformJob"
    ),
    "sns:publish": Optimized(
        "sns",
        "Publish",
        frozenset({"", ".waitForTaskToken"}),
        documented=frozenset(
            {
                "Message",
                "MessageAttributes",
                "MessageDeduplicationId",
                "MessageGroupId",
                "MessageStructure",
                "PhoneNumber",
                "Subject",
                "TargetArn",
                "TopicArn",
            }
        ),
    ),
    "lambda:invoke": Optimized(
        "lambda",
        "Invoke",
        frozenset({"", ".waitForTaskToken"}),
        documented=frozenset(
            {"FunctionName", "Payload", "InvocationType", "Qualifier", "ClientContext"}
        ),
        # Step Functions sends the Payload as JSON and returns the function's answer parsed.
        any_json=frozenset({"Payload"}),
    ),
}
_SDK_PATTERNS = frozenset({"", ".waitForTaskToken"})  # AWS SDK integrations: no .sync

# Constraints a service documents but its botocore model does not carry.
# SNS Publish: "Subject ... must be ASCII text that begins with a letter, number, or punctuation
# mark; must not include line breaks or control characters; and must be less than 100
# characters long."
_SNS_SUBJECT = re.compile(r"[!-~][ -~]{0,98}")


class ContractError(AssertionError):
    pass


@dataclass(frozen=True)
class Integration:
    resource: str
    service: str
    operation: str
    pattern: str
    result_operation: str
    documented: frozenset[str] | None = None
    any_json: frozenset[str] = frozenset()
    # AWS SDK integrations spell every member in PascalCase, in and out, "even if the native
    # service API is in camelCase" (Step Functions' own API: stateMachineArn -> StateMachineArn).
    pascal: bool = False

    @property
    def model(self) -> ServiceModel:
        return service_model(self.service)

    @property
    def input_shape(self) -> Shape:
        shape = self.model.operation_model(self.operation).input_shape
        assert shape is not None, self.operation
        return shape

    @property
    def output_shape(self) -> Shape | None:
        return self.model.operation_model(self.result_operation).output_shape


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(name: str) -> ServiceModel:
    return _session().get_service_model(name)


_RESOURCE = re.compile(
    r"arn:aws:states:::(?P<sdk>aws-sdk:)?(?P<service>[a-z0-9]+):(?P<action>[a-zA-Z0-9]+)"
    r"(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?"
)


def integration(resource: str) -> Integration:
    """The botocore operation a Task's Resource calls; ContractError when there is none."""
    match = _RESOURCE.fullmatch(resource)
    if match is None:
        raise ContractError(f"{resource}: not a Step Functions service integration ARN")
    service, action = match["service"], match["action"]
    pattern = match["pattern"] or ""
    if not match["sdk"]:
        known = OPTIMIZED.get(f"{service}:{action}")
        if known is None:
            raise ContractError(
                f"{resource}: not an optimized integration this checker knows "
                f"(known: {', '.join(sorted(OPTIMIZED))})"
            )
        if pattern not in known.patterns:
            raise ContractError(
                f"{resource}: {service}:{action} does not support the {pattern or 'request-'}"
                f"{'' if pattern else 'response'} pattern (supports: "
                f"{', '.join(p or 'request-response' for p in sorted(known.patterns))})"
            )
        _operation(known.service, known.operation, resource)
        result = known.sync_result if pattern == ".sync" and known.sync_result else known.operation
        _operation(known.service, result, resource)
        return Integration(
            resource,
            known.service,
            known.operation,
            pattern,
            result,
            known.documented,
            known.any_json,
        )
    if pattern not in _SDK_PATTERNS:
        raise ContractError(f"{resource}: AWS SDK integrations do not support {pattern}")
    botocore_service = SDK_SERVICE_ALIASES.get(service, service)
    if botocore_service not in _session().get_available_services():
        raise ContractError(f"{resource}: botocore knows no service {botocore_service!r}")
    if action[:1].isupper():
        raise ContractError(f"{resource}: the action is camelCase ({action[:1].lower()}...)")
    operation = action[:1].upper() + action[1:]
    _operation(botocore_service, operation, resource)
    return Integration(resource, botocore_service, operation, pattern, operation, pascal=True)


def _operation(service: str, operation: str, resource: str) -> None:
    if operation not in service_model(service).operation_names:
        raise ContractError(f"{resource}: {service} has no operation {operation}")


def members(shape: Shape, pascal: bool) -> dict[str, Shape]:
    """A structure's members by the name Step Functions takes."""
    if not pascal:
        return dict(shape.members)
    return {name[:1].upper() + name[1:]: member for name, member in shape.members.items()}


def required_members(shape: Shape, pascal: bool) -> list[str]:
    return [name[:1].upper() + name[1:] if pascal else name for name in shape.required_members]


# --- abstract values: what a path may hold ---------------------------------------------------


@dataclass(frozen=True)
class Unknown:
    """Any JSON (a Lambda's answer), or any value of one type (`type_name`)."""

    type_name: str | None = None


@dataclass(frozen=True, eq=False)
class Shaped:
    """A value of a botocore shape (what an operation returned)."""

    shape: Shape
    any_json: frozenset[str] = frozenset()
    pascal: bool = False

    def _key(self) -> tuple[Any, ...]:
        return (self.shape.name, self.shape.type_name, self.any_json, self.pascal)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shaped) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class Text:
    """A string known in part: the static text of a `States.Format` with unknown arguments."""

    parts: tuple[str | None, ...]

    @property
    def static_length(self) -> int:
        return sum(len(p) for p in self.parts if p is not None)


@dataclass(frozen=True)
class Each:
    """The items a `[*]` projection gives: a list of `item`."""

    item: Any


@dataclass(frozen=True)
class OneOf:
    """Written differently by different states."""

    options: tuple[Any, ...]


_LEAVES = (Unknown, Shaped, Text, Each, OneOf)


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    if _same(old, new):
        return old
    options = [*(old.options if isinstance(old, OneOf) else (old,))]
    for option in new.options if isinstance(new, OneOf) else (new,):
        if not any(_same(option, o) for o in options):
            options.append(option)
    return OneOf(tuple(options))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# --- JSONPath and intrinsic functions --------------------------------------------------------


class PathError(ContractError):
    pass


_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-]+)|\['([^']+)'\]|\[(\d+|\*)\]")


def parse_path(path: str) -> tuple[str, list[str | int]]:
    """('$' or '$$', segments); segments are names, indexes and '*'."""
    root = "$$" if path.startswith("$$") else "$"
    if not path.startswith("$"):
        raise PathError(f"{path!r}: not a JSONPath")
    rest, segments, position = path[len(root) :], [], 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise PathError(f"{path!r}: cannot read {rest[position:]!r}")
        name, quoted, index = match.groups()
        if index is None:
            segments.append(name or quoted)
        else:
            segments.append("*" if index == "*" else int(index))
        position = match.end()
    return root, segments


def resolve(path: str, data: Any, context: Any) -> Any:
    root, segments = parse_path(path)
    return _walk(context if root == "$$" else data, segments, path)


def _walk(value: Any, segments: list[str | int], path: str) -> Any:
    for position, segment in enumerate(segments):
        if isinstance(value, OneOf):
            found = []
            for option in value.options:
                try:
                    found.append(_walk(option, segments[position:], path))
                except PathError:
                    continue
            if not found:
                raise PathError(f"{path}: no alternative written there has {segment!r}")
            return found[0] if len(found) == 1 else OneOf(tuple(found))
        if isinstance(value, Unknown):
            return Unknown()
        if isinstance(value, Each):
            if isinstance(segment, int):
                value = value.item
                continue
            if segment == "*":
                continue
            return Each(_walk(value.item, segments[position:], path))
        if isinstance(value, Shaped):
            value = _shape_step(value, segment, path)
            continue
        if segment == "*":
            if not isinstance(value, list):
                raise PathError(f"{path}: [*] on {type(value).__name__}")
            items = [_walk(v, segments[position + 1 :], path) for v in value]
            return items
        if isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                raise PathError(f"{path}: no item {segment}")
            value = value[segment]
            continue
        if not isinstance(value, dict) or segment not in value:
            raise PathError(f"{path}: nothing writes {segment!r} there")
        value = value[segment]
    return value


def _shape_step(value: Shaped, segment: str | int, path: str) -> Any:
    shape, pascal = value.shape, value.pascal
    if shape.type_name == "structure":
        if not isinstance(segment, str) or segment == "*":
            raise PathError(f"{path}: {shape.name} is a structure, not a list")
        found = members(shape, pascal)
        if segment not in found:
            raise PathError(f"{path}: {shape.name} has no member {segment!r}")
        if segment in value.any_json:
            return Unknown()
        return Shaped(found[segment], pascal=pascal)
    if shape.type_name == "list":
        if segment == "*":
            return Each(Shaped(shape.member, pascal=pascal))
        if isinstance(segment, int):
            return Shaped(shape.member, pascal=pascal)
        raise PathError(f"{path}: {shape.name} is a list: no member {segment!r}")
    if shape.type_name == "map":
        return Shaped(shape.value, pascal=pascal)
    raise PathError(f"{path}: {shape.name} is a {shape.type_name}: no {segment!r} in it")


class IntrinsicError(ContractError):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<function>States\.[A-Za-z0-9]+)\(|(?P<path>\$\$?[^,()\s]*)|(?P<literal>null|true|false)"
    r"|(?P<close>\))|(?P<comma>,))"
)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class PathRef:
    path: str


def parse_expression(text: str) -> Any:
    """A `.$` value: a path, or an intrinsic function call (nested calls, literals, paths)."""
    value, end = _parse(text, 0)
    if text[end:].strip():
        raise IntrinsicError(f"{text!r}: unexpected {text[end:]!r}")
    return value


def _parse(text: str, position: int) -> tuple[Any, int]:
    match = _TOKEN.match(text, position)
    if match is None:
        raise IntrinsicError(f"{text!r}: cannot read at {text[position:]!r}")
    if match["string"] is not None:
        raw = match["string"][1:-1]
        return re.sub(r"\\(.)", r"\1", raw), match.end()
    if match["number"] is not None:
        number = match["number"]
        return (float(number) if "." in number else int(number)), match.end()
    if match["literal"] is not None:
        return {"null": None, "true": True, "false": False}[match["literal"]], match.end()
    if match["path"] is not None:
        return PathRef(match["path"]), match.end()
    if match["function"] is not None:
        args: list[Any] = []
        position = match.end()
        closing = re.compile(r"\s*\)").match(text, position)
        if closing:
            return Call(match["function"], ()), closing.end()
        while True:
            arg, position = _parse(text, position)
            args.append(arg)
            separator = _TOKEN.match(text, position)
            if separator is None or not (separator["comma"] or separator["close"]):
                raise IntrinsicError(f"{text!r}: expected ',' or ')' at {text[position:]!r}")
            position = separator.end()
            if separator["close"]:
                return Call(match["function"], tuple(args)), position
    raise IntrinsicError(f"{text!r}: unexpected {match.group(0)!r}")


SAMPLE_UUID = "5f0c8a3e-7b1d-4c2a-9e6f-0a1b2c3d4e5f"


def evaluate(expression: str, data: Any, context: Any) -> Any:
    """The value (or abstract value) a `.$` expression gives on this data."""
    return _eval(parse_expression(expression), data, context, expression)


def _eval(node: Any, data: Any, context: Any, source: str) -> Any:
    if isinstance(node, PathRef):
        return resolve(node.path, data, context)
    if not isinstance(node, Call):
        return node
    args = [_eval(arg, data, context, source) for arg in node.args]
    handler = _INTRINSICS.get(node.name)
    if handler is None:
        raise IntrinsicError(f"{source}: {node.name} is not supported by this checker")
    # A value some states write one way and others another: the call on each alternative.
    results: Any = None
    for combination in itertools.islice(
        itertools.product(*[a.options if isinstance(a, OneOf) else (a,) for a in args]), 64
    ):
        result = handler(list(combination), source)
        results = result if results is None else _merge(results, result)
    return handler([], source) if results is None else results


def _known(value: Any) -> bool:
    if isinstance(value, _LEAVES):
        return False
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_known(v) for v in value)
    return True


def _format_arg(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _format(args: list[Any], source: str) -> Any:
    if not args or not isinstance(args[0], str):
        raise IntrinsicError(f"{source}: States.Format needs a literal template first")
    template, values = args[0], args[1:]
    pieces = template.split("{}")
    if len(pieces) - 1 != len(values):
        raise IntrinsicError(
            f"{source}: the template has {len(pieces) - 1} {{}} for {len(values)} arguments"
        )
    parts: list[str | None] = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        parts += [_format_arg(value) if _known(value) else None, piece]
    if all(p is not None for p in parts):
        return "".join(p for p in parts if p is not None)
    return Text(tuple(parts))


def _string_split(args: list[Any], source: str) -> Any:
    text, delimiters = args
    if not isinstance(delimiters, str):
        raise IntrinsicError(f"{source}: States.StringSplit needs literal delimiters")
    if not isinstance(text, str):
        return Each(Unknown("string"))
    return [p for p in re.split("[" + re.escape(delimiters) + "]", text) if p]


def _array_get_item(args: list[Any], source: str) -> Any:
    array, index = args
    if isinstance(array, Each):
        return array.item
    if isinstance(array, Shaped) and array.shape.type_name == "list":
        return Shaped(array.shape.member, pascal=array.pascal)
    if isinstance(array, list) and isinstance(index, int):
        if index >= len(array):
            raise IntrinsicError(f"{source}: index {index} past the end of {array!r}")
        return array[index]
    if isinstance(array, list) and array:
        return OneOf(tuple(array))
    return Unknown()


def _math_add(args: list[Any], source: str) -> Any:
    if all(isinstance(a, int) for a in args):
        return args[0] + args[1]
    return Unknown("integer")


def _array_length(args: list[Any], source: str) -> Any:
    (array,) = args
    return len(array) if isinstance(array, list) else Unknown("integer")


def _json_to_string(args: list[Any], source: str) -> Any:
    (value,) = args
    return json.dumps(value, separators=(",", ":")) if _known(value) else Unknown("string")


def _string_to_json(args: list[Any], source: str) -> Any:
    (value,) = args
    return json.loads(value) if isinstance(value, str) else Unknown()


_INTRINSICS = {
    "States.Format": _format,
    "States.StringSplit": _string_split,
    "States.ArrayGetItem": _array_get_item,
    "States.Array": lambda args, source: list(args),
    "States.ArrayLength": _array_length,
    "States.MathAdd": _math_add,
    "States.UUID": lambda args, source: SAMPLE_UUID,
    "States.JsonToString": _json_to_string,
    "States.StringToJson": _string_to_json,
}


def sample_context(
    *, retry_count: int = 0, state_machine: str = "prodcat-sample-pipeline"
) -> dict[str, Any]:
    """The context object (`$$`) as Step Functions fills it, with values of the real shape."""
    machine = f"arn:aws:states:eu-west-3:123456789012:stateMachine:{state_machine}"
    return {
        "Execution": {
            "Id": f"arn:aws:states:eu-west-3:123456789012:execution:{state_machine}:"
            f"{uuid.UUID(int=0xFEEDFACE)}",
            "Name": str(uuid.UUID(int=0xFEEDFACE)),
            "StartTime": "2024-05-02T04:30:00.123Z",
            "RoleArn": "arn:aws:iam::123456789012:role/prodcat-sample-StateMachineRole",
            "Input": Unknown(),
        },
        "StateMachine": {"Id": machine, "Name": state_machine},
        "State": {
            "Name": "SampleState",
            "EnteredTime": "2024-05-02T04:30:01.456Z",
            "RetryCount": retry_count,
        },
    }


# --- the state data every state may see ------------------------------------------------------


def _set(data: dict[str, Any], result_path: str, value: Any) -> None:
    root, segments = parse_path(result_path)
    if root != "$" or not segments:
        return  # "$" replaces the whole input: not used here, not tracked
    target = data
    for segment in segments[:-1]:
        target = target.setdefault(str(segment), {})
        if not isinstance(target, dict):
            return
    last = str(segments[-1])
    target[last] = _merge(target[last], value) if last in target else value


def _instantiate(template: Any, data: Any, context: Any, *, strict: bool) -> Any:
    """A Parameters / ResultSelector object with its `.$` values evaluated."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                try:
                    out[key[:-2]] = evaluate(value, data, context)
                except ContractError:
                    if strict:
                        raise
                    # Not written yet (the data settles over passes), or never: the checks
                    # report the latter.
            else:
                out[key] = _instantiate(value, data, context, strict=strict)
        return out
    if isinstance(template, list):
        return [_instantiate(v, data, context, strict=strict) for v in template]
    return template


def task_result(state: Mapping[str, Any]) -> Any:
    """What a Task returns, before ResultSelector: its operation's output shape."""
    try:
        found = integration(state["Resource"])
    except ContractError:
        return Unknown()
    shape = found.output_shape
    if shape is None:
        return {}
    return Shaped(shape, found.any_json, found.pascal)


def state_data(definition: Mapping[str, Any], context: Any | None = None) -> dict[str, Any]:
    """Everything the states of `definition` write, merged (see the module docstring)."""
    context = sample_context() if context is None else context
    data: dict[str, Any] = {}
    for _ in range(8):
        written: dict[str, Any] = {}
        for _, state in iter_states(definition):
            _record(state, data, written, context)
        if written == data:
            return data
        data = written
    raise ContractError("the state data does not settle (a path feeds itself?)")


def _record(state: Mapping[str, Any], data: Any, written: dict[str, Any], context: Any) -> None:
    kind = state["Type"]
    result: Any = None
    if kind == "Pass":
        if "Parameters" in state:
            result = _instantiate(state["Parameters"], data, context, strict=False)
        elif "Result" in state:
            result = copy.deepcopy(state["Result"])
        else:
            return
    elif kind == "Task":
        result = task_result(state)
    elif kind == "Parallel":
        # The branches' outputs, each the whole data; without a ResultSelector: not tracked.
        result = [data for _ in state["Branches"]] if "ResultSelector" in state else Unknown()
    else:
        return
    if "ResultSelector" in state:
        result = _instantiate(state["ResultSelector"], result, context, strict=False)
    result_path = state.get("ResultPath", "$")
    if result_path is not None:
        _set(written, result_path, result)
    for catch in state.get("Catch", []):
        if catch.get("ResultPath"):
            _set(
                written,
                catch["ResultPath"],
                {"Error": Unknown("string"), "Cause": Unknown("string")},
            )


# --- checking values against shapes ----------------------------------------------------------


@cache
def _compiled(pattern: str) -> Any:
    for engine in (_regex_module, re):
        if engine is None:
            continue
        try:
            return engine.compile(pattern)
        except Exception:  # an engine that cannot read the pattern: left unchecked
            continue
    return None


UNCHECKED_PATTERNS: set[str] = set()


def check_value(value: Any, shape: Shape, where: str, *, dynamic: bool = False) -> list[str]:
    """Problems with `value` as a value of `shape` (a static value, or a traced one)."""
    origin = " (traced)" if dynamic else ""
    if isinstance(value, OneOf):
        return [
            p
            for option in value.options
            if option is not None
            for p in check_value(option, shape, where, dynamic=True)
        ]
    if isinstance(value, Unknown):
        if value.type_name and not _compatible(value.type_name, shape.type_name):
            return [f"{where}: a {value.type_name} for {shape.name} ({shape.type_name})"]
        return []
    if isinstance(value, Shaped):
        return _check_shaped(value.shape, shape, where)
    if isinstance(value, Each):
        if shape.type_name != "list":
            return [f"{where}: a list for {shape.name} ({shape.type_name})"]
        return check_value(value.item, shape.member, f"{where}[*]", dynamic=True)
    if isinstance(value, Text):
        if shape.type_name != "string":
            return [f"{where}: a string (States.Format) for {shape.name} ({shape.type_name})"]
        maximum = shape.metadata.get("max")
        if maximum is not None and value.static_length > maximum:
            return [
                f"{where}: its static text alone is {value.static_length} characters, over "
                f"{shape.name}'s {maximum}"
            ]
        return []
    problems: list[str] = []
    kind = shape.type_name
    if value is None:
        return [f"{where}{origin}: null for {shape.name} ({kind})"]
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}{origin}: {type(value).__name__} for structure {shape.name}"]
        problems += _check_members(value, shape, where, dynamic=dynamic)
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{where}{origin}: {type(value).__name__} for list {shape.name}"]
        problems += _check_range(len(value), shape, where, "items", origin)
        for index, item in enumerate(value):
            problems += check_value(item, shape.member, f"{where}[{index}]", dynamic=dynamic)
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{where}{origin}: {type(value).__name__} for map {shape.name}"]
        problems += _check_range(len(value), shape, where, "entries", origin)
        for key, item in value.items():
            name = key[:-2] if key.endswith(".$") and not dynamic else key
            problems += check_value(name, shape.key, f"{where} key {name!r}", dynamic=dynamic)
            if key.endswith(".$") and not dynamic:
                problems += _check_dynamic(item, shape.value, f"{where}.{name}")
            else:
                problems += check_value(item, shape.value, f"{where}.{key}", dynamic=dynamic)
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{where}{origin}: {value!r} is not a string ({shape.name})"]
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            problems.append(f"{where}{origin}: {value!r} is not one of {shape.name} {enum}")
        problems += _check_range(len(value), shape, where, "characters", origin)
        pattern = shape.metadata.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is None:
                UNCHECKED_PATTERNS.add(f"{shape.name}: {pattern}")
            elif compiled.fullmatch(value) is None:
                problems.append(
                    f"{where}{origin}: {value!r} does not match {shape.name}'s pattern {pattern}"
                )
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}{origin}: {value!r} is not an integer ({shape.name})"]
        problems += _check_range(value, shape, where, "", origin)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{where}{origin}: {value!r} is not a number ({shape.name})"]
        problems += _check_range(value, shape, where, "", origin)
    elif kind == "boolean":
        if not isinstance(value, bool):
            return [f"{where}{origin}: {value!r} is not a boolean ({shape.name})"]
    elif kind == "blob":
        if not isinstance(value, str):
            return [f"{where}{origin}: {type(value).__name__} for blob {shape.name}"]
    elif kind == "timestamp" and (
        isinstance(value, bool) or not isinstance(value, str | int | float)
    ):
        return [f"{where}{origin}: {value!r} is not a timestamp ({shape.name})"]
    return problems


def _compatible(source: str, target: str) -> bool:
    families = ({"integer", "long"}, {"float", "double", "integer", "long"}, {"string", "blob"})
    return source == target or any(source in f and target in f for f in families)


def _check_shaped(source: Shape, target: Shape, where: str) -> list[str]:
    if not _compatible(source.type_name, target.type_name):
        return [
            f"{where}: {source.name} ({source.type_name}) from an earlier result for "
            f"{target.name} ({target.type_name})"
        ]
    if source.type_name == "structure":
        extra = sorted({m.lower() for m in source.members} - {m.lower() for m in target.members})
        if extra:
            return [f"{where}: {source.name} carries {extra}, unknown to {target.name}"]
    if source.type_name == "list":
        return _check_shaped(source.member, target.member, f"{where}[*]")
    source_enum, target_enum = source.metadata.get("enum"), target.metadata.get("enum")
    if target_enum and not (source_enum and set(source_enum) <= set(target_enum)):
        return [f"{where}: {source.name} values need not be one of {target.name}'s"]
    return []


def _check_range(
    measure: int | float, shape: Shape, where: str, unit: str, origin: str
) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    label = f"{measure} {unit}".strip()
    if low is not None and measure < low:
        return [f"{where}{origin}: {label}, under {shape.name}'s minimum {low}"]
    if high is not None and measure > high:
        return [f"{where}{origin}: {label}, over {shape.name}'s maximum {high}"]
    return []


@dataclass
class _Checking:
    data: Any
    context: Any
    pascal: bool = False


_CHECKING: list[_Checking] = []


def _check_members(
    value: Mapping[str, Any],
    shape: Shape,
    where: str,
    *,
    dynamic: bool,
    allowed: frozenset[str] | None = None,
    any_json: frozenset[str] = frozenset(),
) -> list[str]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    pascal = _CHECKING[-1].pascal if _CHECKING else False
    by_name = members(shape, pascal)
    for key, item in value.items():
        name = key[:-2] if key.endswith(".$") and not dynamic else key
        if name in seen:
            problems.append(f"{where}: {name} given twice ({seen[name]!r} and {key!r})")
        seen[name] = key
        if name not in by_name:
            near = [m for m in by_name if m.lower() == name.lower()]
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(f"{where}: {shape.name} has no member {name!r}{hint}")
            continue
        if allowed is not None and name not in allowed:
            problems.append(f"{where}: Step Functions does not pass {name} in this integration")
            continue
        if name in any_json:
            problems += _check_paths_only(item, f"{where}.{name}")
            continue
        member = by_name[name]
        if key.endswith(".$") and not dynamic:
            problems += _check_dynamic(item, member, f"{where}.{name}")
        else:
            problems += check_value(item, member, f"{where}.{name}", dynamic=dynamic)
    for required in required_members(shape, pascal):
        if required not in seen:
            problems.append(f"{where}: {shape.name} requires {required}")
    return problems


def _check_paths_only(value: Any, where: str) -> list[str]:
    """In any-JSON values (a Lambda's Payload): every `.$` path must still resolve."""
    problems: list[str] = []
    if isinstance(value, dict):
        checking = _CHECKING[-1]
        for key, item in value.items():
            if key.endswith(".$"):
                try:
                    evaluate(item, checking.data, checking.context)
                except ContractError as error:
                    problems.append(f"{where}.{key[:-2]}: {error}")
            else:
                problems += _check_paths_only(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += _check_paths_only(item, f"{where}[{index}]")
    return problems


def _check_dynamic(expression: Any, shape: Shape, where: str) -> list[str]:
    if not isinstance(expression, str):
        return [f"{where}: a `.$` value must be a path or an intrinsic, not {expression!r}"]
    checking = _CHECKING[-1]
    try:
        value = evaluate(expression, checking.data, checking.context)
    except ContractError as error:
        return [f"{where}: {error}"]
    return check_value(value, shape, where, dynamic=True)


def check_task(name: str, state: Mapping[str, Any], data: Any, context: Any) -> list[str]:
    """Problems with one Task state's Resource, Parameters and ResultSelector."""
    if "Arguments" in state or state.get("QueryLanguage") == "JSONata":
        return [f"{name}: JSONata tasks are not checked by this helper"]
    try:
        found = integration(state["Resource"])
    except ContractError as error:
        return [f"{name}: {error}"]
    where = f"{name} ({found.service}:{found.operation})"
    parameters = state.get("Parameters", {})
    problems: list[str] = []
    _CHECKING.append(_Checking(data, context, found.pascal))
    try:
        if not isinstance(parameters, dict):
            problems.append(f"{where}: Parameters must be an object")
        else:
            problems += _check_members(
                parameters,
                found.input_shape,
                where,
                dynamic=False,
                allowed=found.documented,
                any_json=found.any_json,
            )
    finally:
        _CHECKING.pop()
    if found.resource.startswith("arn:aws:states:::sns:publish"):
        subject = parameters.get("Subject")
        if isinstance(subject, str) and not _SNS_SUBJECT.fullmatch(subject):
            problems.append(
                f"{where}.Subject: {subject!r}: SNS wants printable ASCII, under 100 "
                "characters, starting with a letter, number or punctuation"
            )
    if "ResultSelector" in state:
        try:
            _instantiate(state["ResultSelector"], task_result(state), context, strict=True)
        except ContractError as error:
            problems.append(f"{where} ResultSelector: {error}")
    return problems


def check_definition(definition: Mapping[str, Any], context: Any | None = None) -> list[str]:
    """Every problem of every Task state of `definition` (see the module docstring)."""
    context = sample_context() if context is None else context
    data = state_data(definition, context)
    problems: list[str] = []
    for name, state in iter_states(definition):
        if state["Type"] == "Task":
            problems += check_task(name, state, data, context)
    return problems


# --- names a run generates -------------------------------------------------------------------

# Request members that name what a Create call makes, per SageMaker resource kind: names are
# unique per account, region and kind.
CREATED_NAMES = {
    ("sagemaker", "CreateProcessingJob"): "ProcessingJobName",
    ("sagemaker", "CreateTrainingJob"): "TrainingJobName",
    ("sagemaker", "CreateTransformJob"): "TransformJobName",
    ("sagemaker", "CreateHyperParameterTuningJob"): "HyperParameterTuningJobName",
    ("sagemaker", "CreateModel"): "ModelName",
    ("sagemaker", "CreateEndpointConfig"): "EndpointConfigName",
    ("sagemaker", "CreateEndpoint"): "EndpointName",
}


@dataclass(frozen=True)
class GeneratedName:
    state: str
    kind: str  # the Create operation
    member: str
    retry_count: int
    value: Any
    shape: Shape


def generated_names(
    definition: Mapping[str, Any], *, max_retries: int | None = None
) -> list[GeneratedName]:
    """Every name the Create* tasks of one run give, for every retry count they can reach."""
    names: list[GeneratedName] = []
    for name, state in iter_states(definition):
        if state["Type"] != "Task":
            continue
        found = integration(state["Resource"])
        member = CREATED_NAMES.get((found.service, found.operation))
        if member is None:
            continue
        retries = sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
        if max_retries is not None:
            retries = min(retries, max_retries)
        parameters = state["Parameters"]
        shape = found.input_shape.members[member]
        for count in range(retries + 1):
            context = sample_context(retry_count=count)
            data = state_data(definition, context)
            if member in parameters:
                value = parameters[member]
            else:
                value = evaluate(parameters[f"{member}.$"], data, context)
            names.append(GeneratedName(name, found.operation, member, count, value, shape))
    return names


def _transitions(state: Mapping[str, Any]) -> set[str]:
    targets = {state.get("Next"), state.get("Default")}
    targets |= {c.get("Next") for c in state.get("Choices", [])}
    targets |= {c.get("Next") for c in state.get("Catch", [])}
    return {t for t in targets if t}


def run_together(definition: Mapping[str, Any]) -> set[frozenset[str]]:
    """Pairs of states that can both run in one execution: one reaches the other, or they sit
    in different branches of one Parallel (all branches run). States of alternative paths (a
    Choice's exclusive outcomes) are not paired."""
    edges: dict[str, set[str]] = {}
    branch_of: dict[str, tuple[str, int]] = {}

    def visit(
        machine: Mapping[str, Any], exits: set[str], parallel: tuple[str, int] | None
    ) -> None:
        for name, state in machine["States"].items():
            edges[name] = set(_transitions(state))
            if parallel is not None:
                branch_of[name] = parallel
            if state.get("End") or state["Type"] in ("Succeed", "Fail"):
                edges[name] |= exits if state["Type"] != "Fail" else set()
            for index, branch in enumerate(state.get("Branches", [])):
                edges[name].add(branch["StartAt"])
                visit(branch, _transitions(state), (name, index))

    visit(definition, set(), None)
    reach: dict[str, set[str]] = {}
    for start in edges:
        seen, stack = set(), [start]
        while stack:
            for target in edges[stack.pop()]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        reach[start] = seen
    pairs = set()
    for a in edges:
        for b in edges:
            siblings = (
                a in branch_of
                and b in branch_of
                and branch_of[a][0] == branch_of[b][0]
                and branch_of[a][1] != branch_of[b][1]
            )
            if a != b and (b in reach[a] or a in reach[b] or siblings):
                pairs.add(frozenset((a, b)))
    return pairs
