"""`lint-imports` (pyproject.toml [tool.importlinter], run by `make lint`) keeps imports running
one way: it passes on the tree, and fails on a copy of it with one wrong import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "prodcat_contracts",
    "prodcat",
    "inference",
    "sagemaker_jobs",
    "lambdas",
    "step_functions",
    "infra",
    "local_runtime",
    "prodcat_cli",
    "scripts",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy's packages first on the path: grimp finds each root package there.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        # The core reaching up into a unit (what prodcat/batch.py once did for split_s3_uri).
        ("prodcat/metrics.py", "import sagemaker_jobs.paths", "layers:"),
        # A job importing the API (what the drift job once did for the record types).
        ("sagemaker_jobs/paths.py", "import lambdas.api.errors", "layers:"),
        # The API Lambda importing the model: its zip does not hold it.
        ("lambdas/api/errors.py", "import prodcat.model", "the deployed Lambdas"),
        # A contract depending on the core.
        ("prodcat_contracts/gate.py", "import prodcat.metrics", "the contracts import nothing"),
        # The pipeline definition reading the CDK app's config.
        ("step_functions/render.py", "import infra.config", "layers:"),
    ],
)
def test_one_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint(tmp_path).returncode == 0  # the copy alone passes
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert contract in broken and wrong_import.split()[-1] in broken, broken
