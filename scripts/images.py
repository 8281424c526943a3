"""`make images`: build the serving and jobs images, then run them the way SageMaker runs them.

One script for two engines: podman on these machines (no Docker engine, no Docker Hub; the
recipe of ../shared/containers.md) and docker on GitHub Actions (`--engine docker`, plain
`docker build` and `docker run`). What a passing run proves:

- Both Dockerfiles build from the build context `cdk deploy` stages (the allowlist of
  infra/constructs/model_images_construct.py), with the pins of pyproject.toml, on Python 3.11
  (checked inside each image): neither has torch, both encode photos on onnxruntime from the
  file their build stage exported (with CPU-only torch) from the pinned weights.
- Jobs image, chained as the retraining pipeline chains them: `prepare` on a raw zone seeded with
  `prodcat sample-catalog` data, `train` on prepare's train split, `evaluate` on the model.tar.gz
  and test split, `drift` on the traffic the serving image answered. Each runs with the
  ContainerEntrypoint, ContainerArguments and Environment the synthesized state machines pass
  (step_functions/definition.py, step_functions/drift_check.py), its inputs and
  outputs mounted at the definition's LocalPaths and its hyperparameters in
  /opt/ml/input/config/hyperparameters.json. A failing training (`docker run IMAGE train` on an
  empty channel) and a failing processing job exit non-zero and leave their reason in the file
  SageMaker reads for that job type (/opt/ml/output/failure, /opt/ml/output/message).
- Serving image: `serve`, as its non-root user, with the model the jobs image trained (unpacked
  from its model.tar.gz, as SageMaker does) mounted read-only at /opt/ml/model: the cold start
  (container start -> first /ping 200) is printed; /invocations answers text, photo, both and
  the evaluate job's smoke cases, and bad input with 4xx.
- The drift job reads S3 and writes CloudWatch itself: a moto server on 127.0.0.1 stands in,
  reached through AWS_ENDPOINT_URL with dummy credentials (`--network host`).

Idempotent setup on a fresh machine of this kind (root, Debian registry): the pinned podman,
runc and mmdebstrap from apt, and a python:3.11-slim stand-in bootstrapped from Debian bookworm
(kept in .work/images/base/ and in podman's store), each skipped when already there.
Containers started here are removed on the way out, failure or not.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".work" / "images"
STAGE = "dev"  # whose state machine definitions the jobs run with

# The official image's name: the Dockerfiles say `FROM python:3.11-slim` everywhere.
BASE_IMAGE = "docker.io/library/python:3.11-slim"
DEBIAN_SUITE = "bookworm"  # ships Python 3.11, as python:3.11-slim does
BASE_PACKAGES = "python3,python3-pip,python3-venv,python-is-python3,ca-certificates"
# `apt-cache policy` on these machines (Debian 12). A version Debian has since replaced fails
# the install loudly: update the pin rather than take whatever comes.
APT_PINS = {
    "podman": "4.3.1+ds1-8+deb12u1+b3",
    "runc": "1.1.5+ds1-1+deb12u1",
    "mmdebstrap": "1.3.5-7",
}

CATALOG_PER_CLASS = 12  # prodcat sample-catalog: 27 classes x 12 listings, ~6 MB
RUN_ID = "images-run"
CODE_VERSION = "images-code"
BUCKET = "prodcat-images-lake"
REGION = "eu-west-3"
COLD_START_LIMIT_S = 60.0  # /ping must answer by then (a few seconds on an idle machine)
COLD_STARTS = 3  # the serving container is started this many times; the median is reported
SERVE_USER_UID = 1000  # inference/Dockerfile's `prodcat`


@dataclass(frozen=True)
class Image:
    name: str
    dockerfile: str
    tag: str
    extra: str  # the pyproject extra it installs


IMAGES = (
    Image("serving", "inference/Dockerfile", "localhost/prodcat-serving:local", "serving"),
    Image("jobs", "sagemaker_jobs/Dockerfile", "localhost/prodcat-jobs:local", "training"),
)
SERVING, JOBS = IMAGES

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[images {time.monotonic() - _T0:6.1f}s] {message}", flush=True)


def fail(message: str) -> NoReturn:
    raise SystemExit(f"make images: FAILED: {message}")


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def sh(
    cmd: Sequence[str],
    *,
    check_rc: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, output captured; on failure (when checked) its tail is printed."""
    result = subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
    )
    if result.returncode != 0 and check_rc:
        if not quiet:
            print((result.stdout + result.stderr)[-6000:], file=sys.stderr)
        fail(f"`{' '.join(cmd[:6])} ...` exited with {result.returncode}")
    return result


# --- the engine ---------------------------------------------------------------------------


@dataclass
class Engine:
    name: str  # podman | docker
    started: list[str] = field(default_factory=list)  # container names, for the cleanup

    def cli(self, *args: str) -> list[str]:
        if self.name == "podman":
            # crun cannot create containers under these VMs' hybrid cgroups: runc + cgroupfs.
            return ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", *args]
        return ["docker", *args]

    def run_flags(self) -> list[str]:
        if self.name != "podman":
            return []
        # podman's default rlimits exceed these machines' hard limits, and runc refuses them;
        # here it also refuses a process limit above the kernel's pid_max (32768).
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        flags = []
        for name, limit, cap in (
            ("nofile", resource.RLIMIT_NOFILE, None),
            ("nproc", resource.RLIMIT_NPROC, pid_max),
        ):
            hard = resource.getrlimit(limit)[1]
            value = None if hard == resource.RLIM_INFINITY else hard
            if cap is not None:
                value = min(value or cap, cap)
            if value is not None:
                flags += ["--ulimit", f"{name}={value}:{value}"]
        return flags

    def image_exists(self, ref: str) -> bool:
        return sh(self.cli("image", "inspect", ref), check_rc=False).returncode == 0

    def image_size(self, ref: str) -> int:
        out = sh(self.cli("image", "inspect", "--format", "{{.Size}}", ref)).stdout
        return int(out.strip())

    def name_for(self, what: str) -> str:
        name = f"prodcat-images-{os.getpid()}-{what}"
        self.started.append(name)
        return name

    def hand_back(self, path: Path) -> None:
        """Files the jobs wrote as the container's root (docker: the host's root) go back to
        the user running this, so that the next run can clear them."""
        if self.name != "docker" or os.geteuid() == 0 or not path.is_dir():
            return
        owner = f"{os.getuid()}:{os.getgid()}"
        cmd = self.cli("run", "--rm", "--volume", f"{path}:/run-dir", "--entrypoint", "chown")
        sh([*cmd, JOBS.tag, "-R", owner, "/run-dir"], check_rc=False)

    def remove_all(self) -> None:
        for name in reversed(self.started):
            sh(self.cli("rm", "--force", name), check_rc=False)
        self.started.clear()


def detect_engine(requested: str) -> Engine:
    if requested != "auto":
        return Engine(requested)
    docker = shutil.which("docker")
    if docker and sh([docker, "info"], check_rc=False).returncode == 0:
        return Engine("docker")
    return Engine("podman")


# --- setup on these machines (podman) -----------------------------------------------------


def installed_version(package: str) -> str | None:
    result = sh(
        ["dpkg-query", "--show", "--showformat=${Status}|${Version}", package], check_rc=False
    )
    status, _, version = result.stdout.partition("|")
    return version if result.returncode == 0 and status.endswith(" installed") else None


def ensure_packages() -> None:
    missing = [f"{p}={v}" for p, v in APT_PINS.items() if installed_version(p) != v]
    if not missing:
        log(f"apt: {', '.join(f'{p} {v}' for p, v in APT_PINS.items())} already installed")
        return
    if os.geteuid() != 0:
        fail(f"podman setup needs root (apt-get install {' '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "--yes", "--no-install-recommends", *missing]
    log(f"apt: installing {' '.join(missing)}")
    if sh(install, env=env, check_rc=False).returncode != 0:
        sh(["apt-get", "update"], env=env)  # a fresh machine may have no package lists yet
        sh(install, env=env)


def ensure_base_image(engine: Engine) -> None:
    """python:3.11-slim, bootstrapped from Debian (Docker Hub is unreachable here)."""
    if engine.image_exists(BASE_IMAGE):
        log(f"base image {BASE_IMAGE} present")
        return
    tarball = WORK / "base" / f"python3.11-{DEBIAN_SUITE}.tar"
    if not tarball.is_file():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_name(f"{tarball.stem}.partial.tar")  # the suffix picks tar
        log(f"mmdebstrap {DEBIAN_SUITE} -> {tarball.relative_to(REPO)}")
        sh(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={BASE_PACKAGES}",
                # As in the official image, a global `pip install` works (PEP 668's marker gone).
                '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
                DEBIAN_SUITE,
                str(partial),
            ]
        )
        partial.rename(tarball)
    log(f"importing {tarball.name} as {BASE_IMAGE}")
    sh(
        engine.cli(
            "import",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            'CMD ["python3"]',
            str(tarball),
            BASE_IMAGE,
        )
    )


# --- build --------------------------------------------------------------------------------


def _matches(rel: str, pattern: str) -> bool:
    """A .dockerignore pattern against a path or any of its parent directories."""
    parts = rel.split("/")
    candidates = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
    return any(
        fnmatch.fnmatchcase("/".join(parts[:i]), c)
        for i in range(1, len(parts) + 1)
        for c in candidates
    )


def ignored(rel: str, patterns: Sequence[str]) -> bool:
    """.dockerignore semantics: the last pattern that matches decides; `!` includes."""
    verdict = False
    for pattern in patterns:
        include = pattern.startswith("!")
        if _matches(rel, pattern.lstrip("!").rstrip("/")):
            verdict = not include
    return verdict


def stage_context(patterns: Sequence[str], dest: Path) -> int:
    """The repository reduced to what `cdk deploy` sends the builder."""
    shutil.rmtree(dest, ignore_errors=True)
    includes = [p.lstrip("!").rstrip("/") for p in patterns if p.startswith("!")]
    count = 0
    for dirpath, dirnames, filenames in os.walk(REPO):
        here = Path(dirpath).relative_to(REPO).as_posix()
        prefix = "" if here == "." else f"{here}/"
        # Skip a directory nothing below can come back from (.venv, node_modules, .git ...).
        dirnames[:] = [
            d
            for d in dirnames
            if not ignored(prefix + d, patterns)
            or any(i.startswith(f"{prefix}{d}/") for i in includes)
        ]
        for name in filenames:
            rel = prefix + name
            if not ignored(rel, patterns):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, dest / rel)
                count += 1
    return count


def _pip_config() -> tuple[list[Path], list[str]]:
    """The pip configuration files in effect here and every value of every setting."""
    debug = sh([sys.executable, "-m", "pip", "config", "debug"]).stdout
    files = [Path(m) for m in re.findall(r"^\s+(\S+), exists: True$", debug, re.MULTILINE)]
    listed = sh([sys.executable, "-m", "pip", "config", "list"]).stdout
    values = [v for m in re.findall(r"^\S+='(.*)'$", listed, re.MULTILINE) for v in m.split()]
    return files, values


def pip_mounts() -> list[tuple[Path, Path]]:
    """(host, build) paths for the host's pip setup: without them pip inside the build cannot
    verify TLS or find the local CPU torch wheel, and takes PyPI's CUDA torch (GBs)."""
    files, values = _pip_config()
    home = Path.home()
    mounts: dict[Path, Path] = {}
    for config in files:
        if config.is_relative_to(sys.prefix):
            continue  # this interpreter's site config: not the image's interpreter
        inside = Path("/root") / config.relative_to(home) if config.is_relative_to(home) else config
        mounts[config] = inside  # RUN runs as root: user config under /root
    for value in values:
        path = Path(value.removeprefix("file://")) if value.startswith(("file://", "/")) else None
        if path is None or not path.exists():
            continue
        if path.is_dir() and path.name == "simple":
            path = path.parent  # a file:// index links its files from ../../files/
        mounts[path] = path
    # A path already below another mount needs no mount of its own.
    return sorted(
        (host, inside)
        for host, inside in mounts.items()
        if not any(host != other and host.is_relative_to(other) for other in mounts)
    )


def build(engine: Engine, image: Image, context: Path) -> float:
    cmd = engine.cli("build", "-f", str(context / image.dockerfile), "-t", image.tag)
    if engine.name == "podman":
        # chroot: the OCI runtime cannot create the build containers here; host network and
        # pip setup: see pip_mounts; no PyTorch index (unreachable): the local CPU wheel.
        cmd += ["--isolation", "chroot", "--network", "host", "--pull=never"]
        cmd += ["--build-arg", "TORCH_INDEX_URL="]
        for host, inside in pip_mounts():
            cmd += ["--volume", f"{host}:{inside}:ro"]
        links = [p for p in os.environ.get("PIP_FIND_LINKS", "").split() if Path(p).is_dir()]
        if links:
            cmd += ["--build-arg", f"FIND_LINKS={links[0]}"]
    cmd.append(str(context))
    build_log = WORK / f"build-{image.name}.log"
    log(f"building {image.tag} ({image.dockerfile}; output in {build_log.relative_to(REPO)})")
    started = time.monotonic()
    with build_log.open("w") as out:
        returncode = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, timeout=3600
        ).returncode
    if returncode != 0:
        print(build_log.read_text()[-6000:], file=sys.stderr)
        fail(f"building {image.tag} exited with {returncode}")
    return time.monotonic() - started


def pinned_requirements(extra: str) -> dict[str, str]:
    """name -> version of every `==` pin an extra pulls in from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    pins: dict[str, str] = {}
    todo, seen = [*project["dependencies"], *extras[extra]], {extra}
    while todo:
        requirement = todo.pop()
        self_ref = re.fullmatch(rf"{project['name']}\[(.+)\]", requirement)
        if self_ref:
            for name in self_ref.group(1).split(","):
                if name not in seen:
                    seen.add(name)
                    todo += extras[name]
            continue
        name, _, version = requirement.partition("==")
        pins[_normalize(name)] = version
    return pins


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


INSPECT = """
import importlib.metadata as md, importlib.util, json, os, sys
found = {
    "uid": os.getuid(),
    "python": "%d.%d" % sys.version_info[:2],
    "torch": importlib.util.find_spec("torch") is not None,
    "versions": {d.metadata["Name"]: d.version for d in md.distributions()},
}
if os.environ.get("PRODCAT_PHOTO_ENCODER"):
    from prodcat.image_encoder import photo_encoder
    encoder = photo_encoder()
    found["encoder"] = {"class": type(encoder).__name__, **encoder.manifest}
print(json.dumps(found))
"""


def check_image(engine: Engine, image: Image) -> dict[str, Any]:
    """Inside the image: Python 3.11 and pyproject's pins, no torch and no CUDA libraries, the
    photo encoder on onnxruntime from the exported file its sidecar describes (checked as it
    loads)."""
    out = sh(
        engine.cli(
            "run", "--rm", "--name", engine.name_for(f"inspect-{image.name}"),
            *engine.run_flags(), "--entrypoint", "python", image.tag, "-c", INSPECT,
        )
    ).stdout  # fmt: skip
    found = json.loads(out.strip().splitlines()[-1])
    versions = {_normalize(k): v for k, v in found["versions"].items()}
    check(found["python"] == "3.11", f"{image.name}: Python {found['python']}, not 3.11")
    cuda = sorted(n for n in versions if n.startswith(("nvidia-", "triton")))
    check(not cuda, f"{image.name}: CUDA packages installed: {cuda}")
    # Neither image has torch: both encode photos on onnxruntime, from the file their build
    # stage exported from the pinned weights.
    check(not found["torch"], f"{image.name}: torch is installed (photos go through onnxruntime)")
    encoder = found.get("encoder") or {}
    check(
        encoder.get("class") == "OnnxEncoder",
        f"{image.name}: the photo encoder is {encoder.get('class')}, not OnnxEncoder",
    )
    from prodcat.image_encoder import weights_sha256

    check(
        encoder.get("weights_sha256") == weights_sha256(),
        f"{image.name}: ONNX exported from weights {encoder.get('weights_sha256')}, "
        f"not the pinned ones ({weights_sha256()})",
    )
    wrong = {
        name: (want, versions.get(name))
        for name, want in pinned_requirements(image.extra).items()
        # a local version label (torch 2.13.0+cpu) is the same release
        if versions.get(name, "").split("+")[0] != want
    }
    check(not wrong, f"{image.name}: not the pyproject.toml pins (want, got): {wrong}")
    return found


# --- the definitions the state machines send ----------------------------------------------


@dataclass(frozen=True)
class JobCall:
    """What CreateProcessingJob / CreateTrainingJob tells SageMaker to run, resolved."""

    entrypoint: list[str]
    arguments: list[str]
    environment: dict[str, str]
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> container path
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> container path
    hyperparameters: dict[str, str] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)


class Resolver:
    """Fills a state's Parameters as Step Functions and CloudFormation would: `${Name}`
    placeholders (DefinitionSubstitutions), `.$` fields from JSONPaths of the state input,
    and the one intrinsic the definitions use for arguments, States.Array."""

    def __init__(self, placeholders: Mapping[str, str], paths: Mapping[str, str]) -> None:
        self.placeholders = placeholders
        self.paths = paths

    def text(self, value: str) -> str:
        def sub(match: re.Match[str]) -> str:
            if match.group(1) not in self.placeholders:
                fail(f"no value for the definition's placeholder ${{{match.group(1)}}}")
            return self.placeholders[match.group(1)]

        return re.sub(r"\$\{([A-Za-z0-9]+)\}", sub, value)

    def path(self, expression: str) -> str:
        if expression not in self.paths:
            fail(f"no value for the definition's JSONPath {expression}")
        return self.paths[expression]

    def expression(self, expression: str) -> Any:
        if expression.startswith("$"):
            return self.path(expression)
        array = re.fullmatch(r"States\.Array\((.*)\)", expression, re.DOTALL)
        if array is None:
            fail(f"cannot evaluate {expression!r}")
        items = re.findall(r"\s*(?:'((?:[^'\\]|\\.)*)'|(\$[\w.]+))\s*(?:,|$)", array.group(1))
        return [self.text(lit) if not path else self.path(path) for lit, path in items]

    def field(self, params: Mapping[str, Any], key: str, default: Any = None) -> Any:
        if f"{key}.$" in params:
            return self.expression(params[f"{key}.$"])
        value = params.get(key, default)
        return self.text(value) if isinstance(value, str) else value

    def mapping(self, params: Mapping[str, Any]) -> dict[str, str]:
        return {k.removesuffix(".$"): str(self.field(params, k.removesuffix(".$"))) for k in params}


def processing_call(params: Mapping[str, Any], resolver: Resolver) -> JobCall:
    app = params["AppSpecification"]
    return JobCall(
        entrypoint=resolver.field(app, "ContainerEntrypoint"),
        arguments=resolver.field(app, "ContainerArguments", []),
        environment=resolver.mapping(params.get("Environment", {})),
        inputs={i["InputName"]: i["S3Input"]["LocalPath"] for i in params["ProcessingInputs"]}
        if "ProcessingInputs" in params
        else {},
        outputs={
            o["OutputName"]: o["S3Output"]["LocalPath"]
            for o in params["ProcessingOutputConfig"]["Outputs"]
        },
    )


def training_call(params: Mapping[str, Any], resolver: Resolver) -> JobCall:
    algorithm = params["AlgorithmSpecification"]
    return JobCall(
        entrypoint=resolver.field(algorithm, "ContainerEntrypoint"),
        arguments=resolver.field(algorithm, "ContainerArguments", []),
        environment=resolver.mapping(params.get("Environment", {})),
        hyperparameters={k: str(v) for k, v in params.get("HyperParameters", {}).items()},
        channels=[c["ChannelName"] for c in params["InputDataConfig"]],
    )


@dataclass(frozen=True)
class Definitions:
    pipeline: dict[str, Any]
    drift: dict[str, Any]

    def state(self, definition: dict[str, Any], name: str) -> dict[str, Any]:
        from step_functions.render import iter_states

        states = dict(iter_states(definition))
        check(name in states, f"no state {name} in the definition")
        return states[name]


def load_definitions() -> Definitions:
    """The retraining and drift-check definitions as the CDK app builds them for STAGE."""
    from infra.config import load_stage_configs
    from infra.constructs.training_pipeline_construct import definition_settings
    from infra.pipeline_settings import stage_drift_check_definition
    from prodcat_contracts.lake import ZONES
    from step_functions.definition import build_definition

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    (config,) = load_stage_configs(context, STAGE)
    drift = stage_drift_check_definition(config, ZONES)
    return Definitions(build_definition(definition_settings(config, ZONES)), drift)


# --- running containers -------------------------------------------------------------------


@dataclass
class Mount:
    host: Path
    inside: str
    read_only: bool = False

    def flag(self) -> list[str]:
        return ["--volume", f"{self.host}:{self.inside}{':ro' if self.read_only else ''}"]


@dataclass(frozen=True)
class Finished:
    returncode: int
    seconds: float
    output: str


def run_job(
    engine: Engine,
    name: str,
    *,
    call: JobCall | None,
    mounts: Sequence[Mount],
    command: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    host_network: bool = False,
    timeout: float = 1800,
) -> Finished:
    """`docker run --entrypoint <ContainerEntrypoint> IMAGE <ContainerArguments>`, as SageMaker
    Processing documents it; without a call, `docker run IMAGE <command>` (training's `train`)."""
    cmd = engine.cli("run", "--rm", "--name", engine.name_for(name), *engine.run_flags())
    if host_network:
        cmd += ["--network", "host"]
    env = {**(call.environment if call else {}), **(extra_env or {})}
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    for mount in mounts:
        cmd += mount.flag()
    if call is not None:
        cmd += ["--entrypoint", call.entrypoint[0], JOBS.tag, *call.entrypoint[1:], *call.arguments]
    else:
        cmd += [JOBS.tag, *command]
    started = time.monotonic()
    result = sh(cmd, check_rc=False, timeout=timeout)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    (WORK / "run" / f"{name}.log").write_text(output)
    log(f"{name}: exit {result.returncode} in {seconds:.1f} s (log: .work/images/run/{name}.log)")
    return Finished(result.returncode, seconds, output)


def expect_success(name: str, finished: Finished) -> None:
    if finished.returncode != 0:
        print(finished.output[-6000:], file=sys.stderr)
        fail(f"{name} exited with {finished.returncode}")


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def pack_model(model_dir: Path, archive: Path) -> None:
    """/opt/ml/model -> model.tar.gz, as SageMaker uploads a training job's model."""
    from sagemaker_jobs.model_archive import pack_model as pack

    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(pack(model_dir))


def unpack_model(archive: Path, dest: Path) -> Path:
    """model.tar.gz -> /opt/ml/model, as SageMaker prepares a serving container."""
    from sagemaker_jobs.model_archive import extract_model

    return extract_model(archive.read_bytes(), fresh_dir(dest))


# --- the jobs image -----------------------------------------------------------------------


@dataclass
class JobsResult:
    model_archive: Path
    model_version: str
    evaluation: Path
    test_split: Path
    seconds: dict[str, float] = field(default_factory=dict)


def run_pipeline_jobs(engine: Engine, definitions: Definitions, run: Path) -> JobsResult:
    resolver = Resolver(
        {"CodeVersion": CODE_VERSION, "DataLakeBucket": BUCKET, "Region": REGION},
        {"$.run.id": RUN_ID},
    )
    pipeline = definitions.pipeline
    seconds: dict[str, float] = {}

    # Prepare: the raw zone (base data in the challenge format) -> this run's training set.
    from prodcat.sample_catalog import write_sample_catalog

    raw = fresh_dir(run / "raw")
    write_sample_catalog(raw / "base", per_class=CATALOG_PER_CLASS, seed=0)
    prepare = processing_call(definitions.state(pipeline, "Prepare")["Parameters"], resolver)
    curated = fresh_dir(run / "curated")
    finished = run_job(
        engine,
        "prepare",
        call=prepare,
        mounts=[
            Mount(raw, prepare.inputs["raw"], read_only=True),
            Mount(curated, prepare.outputs["curated"]),
            Mount(fresh_dir(run / "prepare-output"), "/opt/ml/output"),
        ],
    )
    expect_success("prepare", finished)
    seconds["prepare"] = finished.seconds
    dataset = json.loads((curated / "dataset.json").read_text())
    check(
        (dataset["run_id"], dataset["code_version"]) == (RUN_ID, CODE_VERSION),
        f"prepare did not get the definition's environment: {dataset['run_id']!r}",
    )
    check(
        (curated / "train/X_train.csv").is_file() and (curated / "test/X_test.csv").is_file(),
        "prepare wrote no train/test split",
    )

    # Train: the definition's entry point, hyperparameters and channels; /opt/ml/model out.
    train = training_call(definitions.state(pipeline, "Train")["Parameters"], resolver)
    config = fresh_dir(run / "train-config")
    (config / "hyperparameters.json").write_text(json.dumps(train.hyperparameters))
    model = fresh_dir(run / "model")
    finished = run_job(
        engine,
        "train",
        call=train,
        mounts=[
            *(
                Mount(curated / c, f"/opt/ml/input/data/{c}", read_only=True)
                for c in train.channels
            ),
            Mount(config, "/opt/ml/input/config", read_only=True),
            Mount(model, "/opt/ml/model"),
            Mount(fresh_dir(run / "train-output"), "/opt/ml/output"),
        ],
    )
    expect_success("train", finished)
    seconds["train"] = finished.seconds
    manifest = json.loads((model / "manifest.json").read_text())
    archive = run / "artifacts" / "model.tar.gz"
    pack_model(model, archive)

    # Evaluate the challenger: model.tar.gz and the test split in, reports out.
    evaluate = processing_call(
        definitions.state(pipeline, "EvaluateChallenger")["Parameters"], resolver
    )
    evaluation = fresh_dir(run / "evaluation")
    finished = run_job(
        engine,
        "evaluate",
        call=evaluate,
        mounts=[
            Mount(archive.parent, evaluate.inputs["model"], read_only=True),
            Mount(curated / "test", evaluate.inputs["test"], read_only=True),
            Mount(evaluation, evaluate.outputs["evaluation"]),
            Mount(fresh_dir(run / "evaluate-output"), "/opt/ml/output"),
        ],
    )
    expect_success("evaluate", finished)
    seconds["evaluate"] = finished.seconds
    metrics = json.loads((evaluation / "metrics.json").read_text())
    check(
        metrics["model_version"] == manifest["model_version"],
        f"evaluate scored {metrics['model_version']}, trained {manifest['model_version']}",
    )
    for mode in ("text_only", "image_only", "text_image"):
        check(metrics[mode]["n"] > 0, f"evaluate: no {mode} rows")
    check((evaluation / "baseline.json").is_file(), "evaluate wrote no baseline.json")
    log(
        "evaluate: accuracy "
        + ", ".join(f"{m} {metrics[m]['accuracy']:.3f}" for m in ("text_only", "image_only", "text_image"))
    )  # fmt: skip
    return JobsResult(archive, manifest["model_version"], evaluation, curated / "test", seconds)


def run_failing_jobs(engine: Engine, definitions: Definitions, run: Path) -> dict[str, float]:
    """A job that fails says why, in the file its SageMaker job type reads, and exits non-zero."""
    seconds = {}
    # Training as SageMaker starts a training image by default: `docker run IMAGE train`.
    output = fresh_dir(run / "failing-train-output")
    config = fresh_dir(run / "failing-train-config")
    (config / "hyperparameters.json").write_text("{}")
    finished = run_job(
        engine,
        "failing-train",
        call=None,
        command=["train"],
        mounts=[
            Mount(fresh_dir(run / "empty-channel"), "/opt/ml/input/data/train", read_only=True),
            Mount(config, "/opt/ml/input/config", read_only=True),
            Mount(fresh_dir(run / "failing-model"), "/opt/ml/model"),
            Mount(output, "/opt/ml/output"),
        ],
    )
    check(finished.returncode != 0, "train on an empty channel exited 0")
    reason = (output / "failure").read_text() if (output / "failure").is_file() else ""
    check(bool(reason.strip()), "failing train left no /opt/ml/output/failure")
    check(not (output / "message").exists(), "a training job wrote the processing file")
    log(f"failing train: exit {finished.returncode}, FailureReason {reason[:120]!r}")
    seconds["failing-train"] = finished.seconds

    # Processing: the definition's Prepare call on an empty raw zone.
    resolver = Resolver({"CodeVersion": CODE_VERSION}, {"$.run.id": RUN_ID})
    prepare = processing_call(
        definitions.state(definitions.pipeline, "Prepare")["Parameters"], resolver
    )
    output = fresh_dir(run / "failing-prepare-output")
    finished = run_job(
        engine,
        "failing-prepare",
        call=prepare,
        mounts=[
            Mount(fresh_dir(run / "empty-raw"), prepare.inputs["raw"], read_only=True),
            Mount(fresh_dir(run / "failing-curated"), prepare.outputs["curated"]),
            Mount(output, "/opt/ml/output"),
        ],
    )
    check(finished.returncode != 0, "prepare on an empty raw zone exited 0")
    message = (output / "message").read_text() if (output / "message").is_file() else ""
    check(bool(message.strip()), "failing prepare left no /opt/ml/output/message")
    check(not (output / "failure").exists(), "a processing job wrote the training file")
    log(f"failing prepare: exit {finished.returncode}, ExitMessage {message[:120]!r}")
    seconds["failing-prepare"] = finished.seconds
    return seconds


# --- the serving image --------------------------------------------------------------------


def http(
    url: str, body: Any = None, content_type: str = "application/json", timeout: float = 120
) -> tuple[int, Any]:
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw.decode(errors="replace")


@dataclass(frozen=True)
class Served:
    url: str
    name: str
    cold_start_s: float  # container start -> first /ping 200, wall
    cpu_s: float | None  # the server process's own CPU time by then (None: not readable)
    first_answer_s: float  # container start -> first text answer (what loads lazily included)


def proc_stat_cpu_s(stat: str) -> float | None:
    """User + system CPU seconds from a /proc/PID/stat line (fields 14 and 15 of proc(5))."""
    # comm (field 2) is in parentheses and may hold spaces: count fields after the last ")".
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 13:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(engine: Engine, name: str) -> float | None:
    """CPU seconds the container's server process has used so far.

    `serve` execs the server, so it is PID 1 and every thread's time is in its stat. On a
    shared host the wall-clock cold start includes waiting for a core; this is what the start
    costs, which load cannot stretch (SageMaker gives a container its own cores)."""
    return proc_stat_cpu_s(
        sh(engine.cli("exec", name, "cat", "/proc/1/stat"), check_rc=False).stdout
    )


@contextmanager
def serving_container(engine: Engine, model_dir: Path) -> Iterator[Served]:
    """`docker run IMAGE serve`, model read-only at /opt/ml/model; yields it once /ping answers."""
    from local_runtime.serving import free_port

    port = free_port()
    name = engine.name_for("serve")
    cmd = engine.cli("run", "--detach", "--name", name, *engine.run_flags(), "--network", "host")
    # SageMaker's own variable for the port (8080 by default): a free one on a shared host.
    cmd += ["--env", f"SAGEMAKER_BIND_TO_PORT={port}"]
    cmd += Mount(model_dir, "/opt/ml/model", read_only=True).flag()
    cmd += [SERVING.tag, "serve"]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    sh(cmd)
    try:
        cold_start = None
        checked = started
        while time.monotonic() - started < COLD_START_LIMIT_S:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        cold_start = time.monotonic() - started
                        break
            except (OSError, urllib.error.URLError):
                pass
            # Whether it died, once a second: an engine call costs CPU the start would wait for.
            if time.monotonic() - checked >= 1.0:
                checked = time.monotonic()
                state = sh(engine.cli("inspect", "--format", "{{.State.Running}}", name)).stdout
                if state.strip() != "true":
                    break
            time.sleep(0.05)
        if cold_start is None:
            print(sh(engine.cli("logs", name), check_rc=False).stderr[-6000:], file=sys.stderr)
            fail(f"serve: no /ping 200 within {COLD_START_LIMIT_S:.0f} s")
        cpu = server_cpu_s(engine, name)
        asked = time.monotonic()
        status, _ = http(f"{url}/invocations", {"designation": "Piscine hors sol tubulaire"})
        check(status == 200, f"first text answer: HTTP {status}")
        yield Served(url, name, cold_start, cpu, cold_start + time.monotonic() - asked)
    finally:
        logs = sh(engine.cli("logs", name), check_rc=False)
        with (WORK / "run" / "serve.log").open("a") as f:  # every start's, in order
            f.write(logs.stdout + logs.stderr)
        sh(engine.cli("rm", "--force", name), check_rc=False)


def cold_starts(engine: Engine, model_dir: Path, times: int) -> list[Served]:
    """`times` more starts of the serving container, each stopped after its first answer: one
    start on a shared host is one draw of its load."""
    out = []
    for _ in range(times):
        with serving_container(engine, model_dir) as served:
            out.append(served)
    return out


def _check_answer(
    answer: Any, *, version: str, codes: set[int], top_k: int, modalities: list[str]
) -> list[int]:
    predictions = answer["predictions"]
    got = [p["code"] for p in predictions]
    check(answer["model_version"] == version, f"model_version {answer['model_version']}")
    check(len(got) == top_k and set(got) <= codes, f"top-{top_k} codes {got}")
    probabilities = [p["probability"] for p in predictions]
    check(probabilities == sorted(probabilities, reverse=True), "probabilities not sorted")
    check(0 < sum(probabilities) <= 1 + 1e-6, f"probabilities sum to {sum(probabilities)}")
    check(sorted(answer["modalities"]) == sorted(modalities), f"modalities {answer['modalities']}")
    return got


def exercise_serving(
    engine: Engine, url: str, name: str, model_dir: Path, evaluation: Path
) -> None:
    """The serving contract, on the running container."""
    status = sh(engine.cli("exec", name, "sh", "-c", "grep ^Uid: /proc/1/status")).stdout
    uid = int(status.split()[1])
    check(uid == SERVE_USER_UID, f"serve runs as uid {uid}, not {SERVE_USER_UID}")

    manifest = json.loads((model_dir / "manifest.json").read_text())
    version = manifest["model_version"]
    codes = {int(entry["code"]) for entry in manifest["taxonomy"]}
    smoke = json.loads((evaluation / "smoke_cases.json").read_text())
    check(smoke["model_version"] == version, "smoke cases of another model")
    cases = smoke["cases"]
    with_photo = [c for c in cases if c["listing"].get("photo")]
    text_only = [c for c in cases if not c["listing"].get("photo")]
    check(bool(with_photo) and bool(text_only), "smoke cases lack a photo or a text-only case")
    invoke = f"{url}/invocations"

    # One listing of each kind; the answers' shape, codes, probabilities, version, modalities.
    listing = with_photo[0]["listing"]
    for body, modalities in (
        ({"description": listing["description"], "top_k": 5}, ["text"]),
        ({"photo": listing["photo"], "top_k": 3}, ["photo"]),
        ({"description": listing["description"], "photo": listing["photo"]}, ["text", "photo"]),
    ):
        code, answer = http(invoke, body)
        check(code == 200, f"/invocations {sorted(body)}: {code} {answer}")
        _check_answer(
            answer, version=version, codes=codes, top_k=body.get("top_k", 5), modalities=modalities
        )

    # The pipeline's smoke test, on this container: the evaluated top-1 within the top-k.
    same_top1 = 0
    for case in cases:
        code, answer = http(invoke, case["listing"])
        check(code == 200, f"smoke case {case['id']}: {code} {answer}")
        got = _check_answer(
            answer,
            version=version,
            codes=codes,
            top_k=case["listing"].get("top_k", 5),
            modalities=["text", "photo"] if case["listing"].get("photo") else ["text"],
        )
        check(case["expected_top1"] in got, f"smoke case {case['id']}: {got}")
        same_top1 += got[0] == case["expected_top1"]
    log(f"serve: {len(cases)} smoke cases pass, {same_top1} with evaluate's very top-1")

    # Bad input: a 4xx that says what is wrong, never a 5xx.
    bad: list[tuple[dict[str, Any] | bytes, str, int]] = [
        ({}, "application/json", 400),  # empty listing
        ({"photo": "not base64!"}, "application/json", 400),
        ({"designation": "x", "top_k": 0}, "application/json", 400),
        ({"designation": "x", "colour": "red"}, "application/json", 400),  # unknown field
        (b"{not json", "application/json", 400),
        (b"designation=x", "text/plain", 415),
    ]
    for payload, content_type, want in bad:
        code, answer = http(invoke, payload, content_type)
        check(code == want, f"bad input {payload!r}: {code} {answer}, want {want}")
    log("serve: text, photo, both and 6 kinds of bad input answered as specified")


Pair = tuple[dict[str, Any], dict[str, Any]]  # (listing sent, answer)


def serve_test_split(url: str, model_dir: Path, test_dir: Path, evaluation: Path) -> list[Pair]:
    """Every test listing in each mode it allows, in batches, as traffic for the drift job; the
    served accuracy must be the evaluate job's (same model, same rows, the other image)."""
    from prodcat.data import load_listings
    from prodcat_contracts.taxonomy import Taxonomy

    manifest = json.loads((model_dir / "manifest.json").read_text())
    codes = {int(entry["code"]) for entry in manifest["taxonomy"]}
    listings, _ = load_listings(test_dir, Taxonomy.from_json(manifest["taxonomy"]))
    requests: dict[str, list[tuple[dict[str, Any], int | None]]] = {
        "text_only": [], "image_only": [], "text_image": []
    }  # fmt: skip
    for x in listings:
        photo = base64.b64encode(x.photo.read_bytes()).decode() if x.photo else None
        if x.text:  # as smoke_cases.py sends it: the loader's text as the description
            requests["text_only"].append(({"description": x.text}, x.label))
        if photo:
            requests["image_only"].append(({"photo": photo}, x.label))
        if x.text and photo:
            requests["text_image"].append(({"description": x.text, "photo": photo}, x.label))
    metrics = json.loads((evaluation / "metrics.json").read_text())
    modalities = {"text_only": ["text"], "image_only": ["photo"], "text_image": ["text", "photo"]}
    pairs: list[Pair] = []
    for mode, sent in requests.items():
        correct = 0
        for start in range(0, len(sent), 32):
            batch = sent[start : start + 32]
            code, answer = http(f"{url}/invocations", {"instances": [b for b, _ in batch]})
            check(code == 200, f"batch of {mode}: {code} {answer}")
            check(len(answer["results"]) == len(batch), "a batch answer per instance")
            for (body, label), result in zip(batch, answer["results"], strict=True):
                got = _check_answer(
                    result,
                    version=manifest["model_version"],
                    codes=codes,
                    top_k=5,
                    modalities=modalities[mode],
                )
                correct += got[0] == label
                pairs.append((body, result))
        served, evaluated = correct / len(sent), metrics[mode]
        if evaluated["n"] == len(sent):
            check(
                abs(served - evaluated["accuracy"]) < 1e-9,
                f"{mode}: served accuracy {served:.4f}, evaluated {evaluated['accuracy']:.4f}",
            )
        log(
            f"serve: {len(sent)} {mode} test listings in batches, accuracy {served:.3f} "
            f"(evaluate job: {evaluated['accuracy']:.3f} on {evaluated['n']})"
        )
    return pairs


# --- the drift job ------------------------------------------------------------------------


MODES = {  # what the model used -> its mode name, as lambdas/api/predict.py records it
    frozenset({"text"}): "text_only",
    frozenset({"photo"}): "image_only",
    frozenset({"text", "photo"}): "text_image",
}


def captures_from(pairs: Sequence[Pair], until: datetime, hours: int) -> list[Any]:
    """Capture records as the API writes them, from the serving container's answers, spread
    over the job's look-back window."""
    from prodcat_contracts.lake import CaptureRecord, PhotoRef, ScoredType

    records = []
    for i, (listing, answer) in enumerate(pairs):
        at = until - timedelta(seconds=(i + 1) * hours * 3600 / (len(pairs) + 1))
        photo = listing.get("photo")
        records.append(
            CaptureRecord(
                request_id=f"req-{i:05d}",
                requested_at=at,
                model_version=answer["model_version"],
                designation=listing.get("designation"),
                description=listing.get("description"),
                photo=PhotoRef(
                    key=f"capture/photo-{i}.jpg",
                    bytes=len(base64.b64decode(photo)),
                    sha256="0" * 64,
                )
                if photo
                else None,
                mode=MODES[frozenset(answer["modalities"])],
                predictions=[
                    ScoredType(code=p["code"], probability=p["probability"])
                    for p in answer["predictions"]
                ],
                latency_ms=25.0,
            )
        )
    return records


def run_drift(
    engine: Engine,
    definitions: Definitions,
    run: Path,
    evaluation: Path,
    pairs: Sequence[Pair],
) -> float:
    import boto3

    from local_runtime.moto_server import moto_server
    from prodcat_contracts.lake import capture_key

    until = datetime.now(UTC).replace(microsecond=0)
    resolver = Resolver(
        {"DataLakeBucket": BUCKET, "Region": REGION},
        # $$.Execution.StartTime's format
        {"$.check.until": until.isoformat(timespec="milliseconds").replace("+00:00", "Z")},
    )
    drift = processing_call(
        definitions.state(definitions.drift, "CheckDrift")["Parameters"], resolver
    )
    args = drift.arguments
    option = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    records = captures_from(pairs, until, int(option["--lookback-hours"]))
    output = fresh_dir(run / "drift")
    with moto_server() as endpoint:
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        session = boto3.Session(
            region_name=REGION, **{k.lower(): v for k, v in credentials.items()}
        )
        s3 = session.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.upload_file(str(evaluation / "baseline.json"), BUCKET, option["--baseline-key"])
        for record in records:
            s3.put_object(
                Bucket=BUCKET,
                Key=capture_key(option["--capture-prefix"], record.request_id, record.requested_at),
                Body=record.model_dump_json().encode(),
            )
        finished = run_job(
            engine,
            "drift",
            call=drift,
            host_network=True,
            extra_env={"AWS_ENDPOINT_URL": endpoint, **credentials},
            mounts=[
                Mount(output, drift.outputs["report"]),
                Mount(fresh_dir(run / "drift-output"), "/opt/ml/output"),
            ],
        )
        expect_success("drift", finished)
        report = json.loads((output / "drift.json").read_text())
        check(report["n"] == len(records), f"drift compared {report['n']} of {len(records)}")
        cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
        published = {
            (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
            for m in cloudwatch.list_metrics(Namespace="prodcat")["Metrics"]
        }
    # Its own rule: a score only with --min-samples rows on both sides. A sample catalog's test
    # split (the baseline) is far smaller, so here the job must say so and publish no score.
    minimum = int(option["--min-samples"])
    scored = min(report["n"], report["baseline_n"]) >= minimum
    overall = ("DriftScore", (("Feature", "overall"), ("Stage", STAGE)))
    check(("DriftSampleSize", (("Stage", STAGE),)) in published, f"drift published {published}")
    check(
        (overall in published) == scored and (report["overall"] is not None) == scored,
        f"drift: {report['n']} captures, baseline of {report['baseline_n']}, minimum {minimum}: "
        f"status {report['status']}, published {sorted(published)}",
    )
    log(
        f"drift: {report['n']} captures vs a baseline of {report['baseline_n']} rows (minimum "
        f"{minimum}): {report['status']}; {len(published)} metrics published to CloudWatch"
    )
    return finished.seconds


# --- main ---------------------------------------------------------------------------------


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine",
        choices=("auto", "podman", "docker"),
        default="auto",
        help="auto: docker where a Docker engine answers, else podman (set up here if needed)",
    )
    args = parser.parse_args(argv)
    engine = detect_engine(args.engine)
    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so the containers still go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    summary: dict[str, Any] = {"engine": engine.name}
    log(f"engine: {engine.name}")
    try:
        if engine.name == "podman":
            ensure_packages()
            ensure_base_image(engine)
        from infra.constructs.model_images_construct import IMAGE_CONTEXT

        context = WORK / "context"
        files = stage_context(IMAGE_CONTEXT, context)
        log(f"build context: {files} files (the allowlist cdk deploy stages)")
        for image in IMAGES:
            seconds = build(engine, image, context)
            found = check_image(engine, image)
            size = engine.image_size(image.tag)
            summary[image.name] = {"tag": image.tag, "bytes": size, "build_s": round(seconds, 1)}
            if "encoder" in found:
                summary[image.name]["photo_encoder"] = found["encoder"]
            log(
                f"{image.tag}: {_gb(size)}, built in {seconds:.1f} s; "
                "Python 3.11, no torch, ONNX encoder, pins"
            )

        run = fresh_dir(WORK / "run")
        definitions = load_definitions()
        jobs = run_pipeline_jobs(engine, definitions, run)
        jobs.seconds.update(run_failing_jobs(engine, definitions, run))
        model_dir = unpack_model(jobs.model_archive, run / "serving-model")
        with serving_container(engine, model_dir) as served:
            exercise_serving(engine, served.url, served.name, model_dir, jobs.evaluation)
            pairs = serve_test_split(served.url, model_dir, jobs.test_split, jobs.evaluation)
        starts = [served, *cold_starts(engine, model_dir, COLD_STARTS - 1)]
        walls = [s.cold_start_s for s in starts]
        cpus = [s.cpu_s for s in starts if s.cpu_s is not None]
        answers = [s.first_answer_s for s in starts]
        log(
            f"serve: cold start (container start -> first /ping 200) median "
            f"{statistics.median(walls):.1f} s of {len(walls)} ({', '.join(f'{w:.1f}' for w in walls)}); "
            f"server CPU by then {', '.join(f'{c:.1f}' for c in cpus) or 'not readable'} s; "
            f"first text answer median {statistics.median(answers):.1f} s "
            f"({', '.join(f'{a:.1f}' for a in answers)})"
        )
        jobs.seconds["drift"] = run_drift(engine, definitions, run, jobs.evaluation, pairs)
        summary.update(
            serving_cold_start_s=round(statistics.median(walls), 1),
            serving_cold_starts_s=[round(w, 2) for w in walls],
            serving_cold_start_cpu_s=round(statistics.median(cpus), 2) if cpus else None,
            serving_first_answer_s=round(statistics.median(answers), 1),
            serving_first_answers_s=[round(a, 2) for a in answers],
            # a shared host's load stretches the cold start (2-core machine: 4.5 s at load 5,
            # 6.6 s at 15 for the same image): recorded beside the figure
            serving_cold_start_load_1m=round(os.getloadavg()[0], 1),
            model_version=jobs.model_version,
            job_s={k: round(v, 1) for k, v in jobs.seconds.items()},
        )
    finally:
        engine.remove_all()
        engine.hand_back(WORK / "run")
    summary["total_s"] = round(time.monotonic() - _T0, 1)
    (WORK / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"make images: OK in {summary['total_s']:.0f} s ({engine.name}). "
        f"serving {_gb(summary['serving']['bytes'])}, jobs {_gb(summary['jobs']['bytes'])}; "
        f"serving cold start {summary['serving_cold_start_s']} s; jobs (s): {summary['job_s']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
