"""One small model trained on generated data, shared by the serving and job tests."""

from __future__ import annotations

from pathlib import Path

import pytest

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
