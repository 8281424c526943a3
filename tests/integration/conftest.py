"""One small model trained on generated data, shared by the serving and job tests, and the local
stack a module of API or browser tests runs against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runtime.gateway import TokenBucket
from local_runtime.stack import LocalResources, LocalStack
from prodcat.model import Hyperparameters
from prodcat.sample_catalog import write_sample_catalog
from prodcat.training import train


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_catalog(tmp_path_factory.mktemp("catalog"), per_class=4, seed=3)


@pytest.fixture(scope="session")
def model_dir(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    train(sample_data, Hyperparameters(folds=3), progress=False).model.save(out)
    return out


@pytest.fixture(scope="module")
def stack(model_dir: Path) -> Iterator[LocalStack]:
    # Generous throttling: the throttle itself is tested on its own gateway (test_local_stack).
    with LocalStack(model_dir, throttle=TokenBucket(rate=1000, burst=1000)) as running:
        yield running


@pytest.fixture(scope="module")
def resources(stack: LocalStack) -> LocalResources:
    assert stack.resources is not None
    return stack.resources
