"""The Lambda execution environment, rebuilt on this machine: what a function really runs with.

A function in the synthesized templates runs its handler from its code asset, on its runtime's
Python and SDK, with its layers. The .venv tests run the same handlers on the .venv's Python,
boto3 and Powertools, which is how a handler can pass every test and crash on import in Lambda.
This module rebuilds the other side, from pinned versions only:

- the runtime: a venv made with the template's Runtime (python3.13 -> a local python3.13) holding
  the SDK that runtime ships (lambda_runtime/runtime-<runtime>.txt);
- the layer: aws-lambda-powertools at the version the template resolves its layer for, with the
  packages the AWS-managed layer ships (lambda_runtime/powertools-layer-<runtime>.txt), in a
  directory of its own, like /opt/python;
- the function: its asset folder from cdk.out (like /var/task), its environment variables from
  the template, the variables Lambda itself sets, and a fresh interpreter per function.

The environment is built once per set of pins and kept under .work/ (git-ignored).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PINS = Path(__file__).resolve().parent / "lambda_runtime"
CACHE = REPO_ROOT / ".work"
BUILD_FORMAT = "1"  # bump when the way the environment is built changes

# The public SSM parameter the Powertools team publishes per release, arch and Python; the
# construct reads the layer ARN from it, so its name says which Powertools the functions get.
POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>[a-z0-9_]+)/(?P<python>python3\.\d+)/"
    r"(?P<version>\d+\.\d+\.\d+)$"
)
# What the layer build deletes after `pip install aws-lambda-powertools[all]` because the runtime
# provides it (powertools-lambda-python layer_v3/docker/Dockerfile: rm -rf boto* s3transfer*
# *dateutil* urllib3* six* jmespath*). Distribution names, normalized.
LAYER_STRIPS = ("boto3", "botocore", "s3transfer", "python-dateutil", "urllib3", "six", "jmespath")
REGION = "eu-west-3"

# Runs in the clean interpreter (`python -I`: no PYTHON* variables, no user site, no cwd on
# sys.path). sys.path as in Lambda: the task root, then the layer, then the runtime's own.
BOOTSTRAP = r"""
import importlib, json, os, sys, traceback, uuid

task_root, layer, handler_name, events_file, out_file = sys.argv[1:6]
sys.path[0:0] = [task_root, layer]


class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    invoked_function_arn = (
        f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{function_name}"
    )
    log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
    log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self):
        return 20_000


def failure(phase, exc):
    return {
        "phase": phase,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc(),
    }


outcomes = []
try:
    module_name, _, function_name = handler_name.rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
except BaseException as exc:
    outcomes.append(failure("import", exc))
else:
    for event in json.loads(open(events_file).read()):
        # Lambda sets the trace header per invocation; X-Ray's facade segment is made from it.
        os.environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};"
            f"Parent={uuid.uuid4().hex[:16]};Sampled=1"
        )
        try:
            outcomes.append({"phase": "invoke", "result": handler(event, Context())})
        except BaseException as exc:
            outcomes.append(failure("invoke", exc))
with open(out_file, "w") as out:
    json.dump({"python": sys.version, "sys_path": sys.path, "outcomes": outcomes}, out, default=str)
"""


@dataclass(frozen=True)
class LambdaFunction:
    """One AWS::Lambda::Function of a synthesized template, as Lambda would run it."""

    stage: str
    stack: str
    logical_id: str
    runtime: str
    handler: str
    architecture: str
    memory_mb: int
    asset_dir: Path
    environment: dict[str, Any]
    layer_parameters: tuple[str, ...]
    log_format: str | None

    @property
    def name(self) -> str:
        return f"{self.stage}/{self.stack}/{self.logical_id}"

    @property
    def python_version(self) -> str:
        match = re.fullmatch(r"python(3\.\d+)", self.runtime)
        if match is None:
            raise AssertionError(f"{self.name}: {self.runtime} is not a Python runtime")
        return match.group(1)

    def powertools_version(self) -> str:
        """The Powertools its layer holds, read from the SSM parameter the layer ARN comes from."""
        found = []
        for name in self.layer_parameters:
            match = POWERTOOLS_PARAMETER.match(name)
            if match is None:
                continue
            assert match["python"] == self.runtime, (
                f"{self.name}: the Powertools layer is for {match['python']}, the function runs "
                f"{self.runtime}"
            )
            assert match["arch"] == self.architecture, (
                f"{self.name}: the Powertools layer is for {match['arch']}, the function runs on "
                f"{self.architecture}"
            )
            found.append(match["version"])
        assert len(found) == 1, (
            f"{self.name}: expected one layer resolved from /aws/service/powertools/python/"
            f"<arch>/<python>/<version> (a layer number says nothing about what the layer "
            f"holds), found {list(self.layer_parameters)}"
        )
        return found[0]


# aws-cdk-lib's own deploy-time functions (the web page's BucketDeployment and AwsCustomResource,
# infra/constructs/web_site_construct.py), by the logical-id prefixes of their singletons: CDK's
# code on the runtime CDK pins, not a handler of ours, and run by CloudFormation, not by callers.
CDK_PROVIDER_PREFIXES = ("CustomCDKBucketDeployment", "AWS679f53fac002430cb0da5b7982bd2287")


def is_cdk_provider(logical_id: str) -> bool:
    return logical_id.startswith(CDK_PROVIDER_PREFIXES)


def lambda_functions(
    outdir: Path, templates: dict[tuple[str, str], dict[str, Any]]
) -> list[LambdaFunction]:
    """Every Lambda function of the synthesized stages, mapped to its code asset folder.

    The template's Code.S3Key is the object the deploy uploads; the stage's asset manifest says
    which folder of cdk.out becomes that object (aws:asset:path metadata is only written when
    the CLI asks for it, so it is not relied on).
    """
    found = []
    for (stage, stack), template in sorted(templates.items()):
        assets = _asset_sources(outdir / f"assembly-{stage}")
        parameters = template.get("Parameters", {})
        for logical_id, resource in sorted(template["Resources"].items()):
            if resource["Type"] != "AWS::Lambda::Function" or is_cdk_provider(logical_id):
                continue
            props = resource["Properties"]
            code = props["Code"]
            assert "S3Key" in code, f"{stage}/{stack}/{logical_id}: code is not a zip asset"
            layer_parameters = []
            for layer in props.get("Layers", []):
                ref = layer.get("Ref") if isinstance(layer, dict) else None
                parameter = parameters.get(ref or "", {})
                if parameter.get("Type") == "AWS::SSM::Parameter::Value<String>":
                    layer_parameters.append(str(parameter["Default"]))
                else:
                    layer_parameters.append(json.dumps(layer))
            found.append(
                LambdaFunction(
                    stage=stage,
                    stack=stack,
                    logical_id=logical_id,
                    runtime=props["Runtime"],
                    handler=props["Handler"],
                    architecture=(props.get("Architectures") or ["x86_64"])[0],
                    memory_mb=int(props.get("MemorySize", 128)),
                    asset_dir=assets[code["S3Key"]],
                    environment=props.get("Environment", {}).get("Variables", {}),
                    layer_parameters=tuple(layer_parameters),
                    log_format=props.get("LoggingConfig", {}).get("LogFormat"),
                )
            )
    return found


def _asset_sources(assembly: Path) -> dict[str, Path]:
    """S3 object key -> the cdk.out folder it is zipped from, for every file asset of a stage."""
    sources: dict[str, Path] = {}
    for manifest in assembly.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            source = (assembly / asset["source"]["path"]).resolve()
            for destination in asset["destinations"].values():
                sources[destination["objectKey"]] = source
    return sources


def find_python(version: str) -> Path | None:
    """A working interpreter for `version` (3.13): $PRODCAT_LAMBDA_PYTHON, PATH, then pyenv."""
    candidates = [os.environ.get("PRODCAT_LAMBDA_PYTHON", ""), shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        (str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")),
        reverse=True,
    )
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return Path(candidate)  # not resolved: a pyenv shim that works is fine
    return None


@dataclass(frozen=True)
class Sandbox:
    """A built environment: the runtime's interpreter and site-packages, the layer's directory."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "runtime" / "bin" / "python"

    @property
    def runtime_site(self) -> Path:
        return next((self.root / "runtime" / "lib").glob("python3.*/site-packages"))

    @property
    def layer(self) -> Path:
        return self.root / "layer" / "python"


def runtime_pins(python_version: str) -> Path:
    return PINS / f"runtime-python{python_version}.txt"


def layer_pins(python_version: str) -> Path:
    return PINS / f"powertools-layer-python{python_version}.txt"


def pinned(path: Path) -> list[str]:
    """The requirement lines of a pins file (comments and blanks left out)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build(python: Path, python_version: str, powertools_version: str) -> Sandbox:
    """The runtime venv and the layer directory for these pins; built once, then reused."""
    runtime, layer = runtime_pins(python_version), layer_pins(python_version)
    _check_pins(runtime, layer)
    full_version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    key = hashlib.sha256(
        "\n".join(
            [
                BUILD_FORMAT,
                full_version,
                runtime.read_text(),
                layer.read_text(),
                powertools_version,
                ",".join(LAYER_STRIPS),
            ]
        ).encode()
    ).hexdigest()[:16]
    sandbox = Sandbox(CACHE / f"lambda-runtime-{key}")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"lambda-runtime-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building the same one
        if not (sandbox.root / "complete").exists():
            shutil.rmtree(sandbox.root, ignore_errors=True)
            try:
                _build(python, sandbox, runtime, layer, powertools_version)
            except BaseException:
                shutil.rmtree(sandbox.root, ignore_errors=True)
                raise
    return sandbox


def _check_pins(runtime: Path, layer: Path) -> None:
    for line in pinned(runtime) + pinned(layer):
        if not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", line):
            raise ValueError(f"{line!r}: pin every package to one version (name==version)")
    names = [normalized(line.split("==")[0]) for line in pinned(layer)]
    strays = [n for n in names if n in LAYER_STRIPS or n == "aws-lambda-powertools"]
    if strays:
        raise ValueError(
            f"{layer.name} must not list {strays}: the layer build deletes what the runtime "
            "provides, and Powertools' version is POWERTOOLS_VERSION in the construct"
        )


def _build(python: Path, sandbox: Sandbox, runtime: Path, layer: Path, version: str) -> None:
    subprocess.run([str(python), "-m", "venv", str(sandbox.root / "runtime")], check=True)
    pip = [
        str(sandbox.python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",  # exactly the pins: what is missing must fail, not be fetched
        "--only-binary=:all:",
    ]
    subprocess.run([*pip, "-r", str(runtime)], check=True)
    subprocess.run(
        [
            *pip,
            "--target",
            str(sandbox.layer),
            "-r",
            str(layer),
            f"aws-lambda-powertools=={version}",
        ],
        check=True,
    )
    (sandbox.root / "complete").write_text(f"aws-lambda-powertools=={version}\n")


def unmet_requirements(sandbox: Sandbox, python_version: str) -> list[str]:
    """Requirements of the layer's packages (Powertools with its `all` extra) that neither the
    layer nor the runtime meets. Versions of what the runtime provides are not held against it:
    the real layer has the same deviation (it deletes its own copy, e.g. of urllib3)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    marker_env = {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    layer = {
        normalized(d.metadata["Name"]): d for d in metadata.distributions(path=[str(sandbox.layer)])
    }
    runtime = {
        normalized(d.metadata["Name"]): d
        for d in metadata.distributions(path=[str(sandbox.runtime_site)])
    }
    problems = []
    for name, dist in sorted(layer.items()):
        extras = ("", "all") if name == "aws-lambda-powertools" else ("",)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({**marker_env, "extra": extra}) for extra in extras
            ):
                continue
            wanted = normalized(requirement.name)
            have = layer.get(wanted) or runtime.get(wanted)
            if have is None:
                problems.append(f"{name} needs {requirement}: in neither the layer nor the runtime")
            elif wanted in layer and not requirement.specifier.contains(
                have.version, prereleases=True
            ):
                problems.append(f"{name} needs {requirement}: the layer pins {have.version}")
    return problems


def lambda_environment(
    function: LambdaFunction, values: dict[str, str], aws_endpoint: str
) -> dict[str, str]:
    """The process environment of `function`: what Lambda sets, then the template's variables.

    Template values that CloudFormation resolves at deploy time (Ref, Fn::ImportValue...) take
    the same-named entry of `values` (the local stand-ins for the stage's resources).
    """
    unresolved = []
    variables = {}
    for name, value in function.environment.items():
        if isinstance(value, str):
            variables[name] = value
        elif name in values:
            variables[name] = values[name]
        else:
            unresolved.append(name)
    assert not unresolved, f"{function.name}: no local value for {unresolved}"
    home = Path(tempfile.gettempdir())
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),
        # What Lambda sets in every execution environment.
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]sandbox",
        **({"AWS_LAMBDA_LOG_FORMAT": function.log_format} if function.log_format else {}),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_SESSION_TOKEN": "sandbox",
        "LAMBDA_TASK_ROOT": str(function.asset_dir),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": function.handler,
        # Active tracing: the X-Ray SDK (from the layer) sends segments over UDP; nothing listens.
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        # Not Lambda's: every SDK client goes to the local moto server, never to AWS, and no
        # profile or instance metadata of this machine is read.
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_CONFIG_FILE": str(home / "prodcat-lambda-sandbox-no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "prodcat-lambda-sandbox-no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **variables,
    }


def run(
    sandbox: Sandbox,
    function: LambdaFunction,
    events: list[dict[str, Any]],
    environment: dict[str, str],
    timeout: float = 120,
) -> dict[str, Any]:
    """Import `function`'s handler in a fresh interpreter of the sandbox and invoke it with each
    event in turn (one warm execution environment); what each invocation returned or raised."""
    with tempfile.TemporaryDirectory(prefix="lambda-invoke-") as scratch:
        events_file, out_file = Path(scratch, "events.json"), Path(scratch, "out.json")
        events_file.write_text(json.dumps(events))
        completed = subprocess.run(
            [
                str(sandbox.python),
                "-I",
                "-B",  # /var/task is read-only in Lambda; cdk.out's asset folders stay as synthesized
                "-c",
                BOOTSTRAP,
                str(function.asset_dir),
                str(sandbox.layer),
                function.handler,
                str(events_file),
                str(out_file),
            ],
            cwd=function.asset_dir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if not out_file.exists():
            raise AssertionError(
                f"{function.name}: the interpreter died (exit {completed.returncode}):\n"
                f"{completed.stderr[-3000:]}"
            )
        report: dict[str, Any] = json.loads(out_file.read_text())
    report["stdout"] = completed.stdout
    report["stderr"] = completed.stderr
    return report


__all__ = [
    "LAYER_STRIPS",
    "LambdaFunction",
    "Sandbox",
    "build",
    "find_python",
    "is_cdk_provider",
    "lambda_environment",
    "lambda_functions",
    "layer_pins",
    "pinned",
    "run",
    "runtime_pins",
    "unmet_requirements",
]

if __name__ == "__main__":  # pragma: no cover - a manual entry point: build and print the paths
    version = sys.argv[1] if len(sys.argv) > 1 else "3.13"
    interpreter = find_python(version)
    assert interpreter is not None, f"no python{version} here"
    sys.path.insert(0, str(REPO_ROOT))
    from infra.constructs.powertools_function_construct import POWERTOOLS_VERSION

    print(build(interpreter, version, POWERTOOLS_VERSION))
