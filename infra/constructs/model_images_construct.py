"""Container images as CDK assets: built and pushed to the bootstrap ECR repo at deploy time.

`cdk synth` only stages the build context (the allowlist below) into cdk.out; no Docker runs
until `cdk deploy` publishes the assets.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from constructs import Construct

# Build context = the repo root, reduced to what the Dockerfiles COPY (a .dockerignore-style
# allowlist): never .venv, node_modules, cdk.out or data. Add a path here when a Dockerfile
# starts copying it.
IMAGE_CONTEXT = (
    "*",
    "!pyproject.toml",
    "!README.md",
    "!prodcat",
    "!prodcat_contracts",
    "!inference",
    "!sagemaker_jobs",
    "**/__pycache__",
    "**/*.pyc",
)


class ModelImagesConstruct(Construct):
    """The serving image (inference/Dockerfile) and the jobs image (sagemaker_jobs/Dockerfile)."""

    def __init__(self, scope: Construct, construct_id: str, *, source_root: Path) -> None:
        super().__init__(scope, construct_id)
        self.serving = self._image("Serving", source_root, "inference/Dockerfile")
        self.jobs = self._image("Jobs", source_root, "sagemaker_jobs/Dockerfile")

    def _image(self, name: str, source_root: Path, dockerfile: str) -> ecr_assets.DockerImageAsset:
        return ecr_assets.DockerImageAsset(
            self,
            name,
            directory=str(source_root),
            file=dockerfile,
            platform=ecr_assets.Platform.LINUX_AMD64,  # SageMaker serverless and jobs: x86_64
            exclude=list(IMAGE_CONTEXT),
            ignore_mode=IgnoreMode.DOCKER,
        )
