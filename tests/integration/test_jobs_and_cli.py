"""SageMaker job entry points run against a temporary /opt/ml layout, and the CLI contract."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from prodcat.image_encoder import FEATURE_DIM, REPRESENTATION
from prodcat.model import MODES, Hyperparameters, ProductTypeModel
from prodcat.training import train
from prodcat_cli.cli import main as cli
from sagemaker_jobs import evaluate as evaluate_job
from sagemaker_jobs import prepare as prepare_job
from sagemaker_jobs import train as train_job

METRIC_KEYS = {"n", "accuracy", "top3_accuracy", "macro_f1", "weighted_f1", "ece"}


def test_prepare_train_evaluate_jobs_honour_sagemaker_paths(
    sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processing = tmp_path / "opt/ml/processing"
    # The raw zone as the job receives it: the base data under base/ (no admin records yet).
    shutil.copytree(sample_data, processing / "input/base")
    assert prepare_job.main(["--test-share", "0.25", *_paths(processing)]) == 0
    manifest = json.loads((processing / "output/dataset.json").read_text())
    assert manifest["splits"]["train"]["rows"] > 0 and manifest["splits"]["test"]["rows"] > 0
    train_ids = (processing / "output/train/X_train.csv").read_text()
    test_x = (processing / "output/test/X_test.csv").read_text().splitlines()[1:]
    # A product is in one split only, decided by its id: stable from run to run.
    for line in test_x:
        product_id = line.split(",")[-2]
        assert prepare_job.in_test_split(product_id, 0.25)
        assert f",{product_id}," not in train_ids

    model_dir, output = tmp_path / "opt/ml/model", tmp_path / "opt/ml/output"
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(processing / "output/train"))
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(output / "data"))
    monkeypatch.setenv("SM_HPS", json.dumps({"folds": "3", "text_c": "0.5"}))
    assert train_job.main([]) == 0
    assert ProductTypeModel.load(model_dir).hyperparameters.folds == 3

    # SageMaker hands evaluation the model as model.tar.gz.
    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        for f in model_dir.iterdir():
            tar.add(f, arcname=f.name)
    evaluation = processing / "evaluation"
    assert (
        evaluate_job.main(
            [
                "--model",
                str(packed),
                "--test",
                str(processing / "output/test"),
                "--output",
                str(evaluation),
            ]
        )
        == 0
    )
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert metrics["model_version"] == ProductTypeModel.load(model_dir).version
    assert (evaluation / "baseline.json").is_file() and (evaluation / "report.md").is_file()


def _paths(processing: Path) -> list[str]:
    return ["--input", str(processing / "input"), "--output", str(processing / "output")]


def test_train_job_writes_failure_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("SM_HPS", "{}")
    with pytest.raises(Exception, match="not found"):
        train_job.main(["--train", str(tmp_path / "nowhere"), "--model-dir", str(tmp_path / "m")])
    assert "not found" in (tmp_path / "output/failure").read_text()


def test_cli_train_and_evaluate_follow_the_metrics_contract(
    sample_data: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval/metrics.json"
    assert (
        cli(
            [
                "--quiet",
                "evaluate",
                "--model-dir",
                str(model_dir),
                "--data",
                str(sample_data),
                "--output",
                str(out),
                "--allow-training-data",  # the contract, not the accuracy, is checked here
            ]
        )
        == 0
    )
    metrics = json.loads(out.read_text())
    for mode in MODES:
        assert set(metrics[mode]) == METRIC_KEYS
        assert metrics[mode]["n"] > 0 and 0 <= metrics[mode]["ece"] <= 1
    assert metrics["model_version"]
    baseline = json.loads((out.parent / "baseline.json").read_text())
    assert abs(sum(baseline["predicted_class_shares"].values()) - 1) < 1e-9
    assert 0 < baseline["photo_share"] <= 1
    assert set(baseline["language_shares"]) >= {"fr"}
    assert (out.parent / "confusion_text_only.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_reports_a_bad_directory_without_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["train", "--data", str(tmp_path), "--model-dir", str(tmp_path / "m")]) == 2
    assert "not the challenge format" in capsys.readouterr().err


def test_training_is_deterministic_and_round_trips(
    sample_data: Path, model_dir: Path, tmp_path: Path
) -> None:
    again = train(sample_data, Hyperparameters(folds=3), progress=False).model
    again.save(tmp_path / "again")
    a, b = ProductTypeModel.load(model_dir), ProductTypeModel.load(tmp_path / "again")
    texts = ["Piscine hors sol Intex", "Console Nintendo Switch", ""]
    feats = [None, np.ones(FEATURE_DIM, np.float32), np.zeros(FEATURE_DIM, np.float32)]
    pa, modes = a.predict_proba(texts, feats)
    pb, _ = b.predict_proba(texts, feats)
    np.testing.assert_allclose(pa, pb)
    assert modes == ["text_only", "text_image", "image_only"]
    np.testing.assert_allclose(pa.sum(axis=1), 1.0)
    assert a.temperatures == b.temperatures


@pytest.mark.parametrize(
    "recorded", ["letterbox-224/avg+s6avg", "letterbox-224/avg", "squash-224/avg", None]
)
def test_a_model_trained_on_other_photo_features_is_refused(
    model_dir: Path, tmp_path: Path, recorded: str | None
) -> None:
    # An artifact from before the representation was recorded saw photos stretched to 224;
    # one from before stage 6 was added, the head's 1,280 features alone; one from before Lite2,
    # 224 px photos.
    copy = tmp_path / "old"
    shutil.copytree(model_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["image_backbone"]["representation"] == REPRESENTATION
    if recorded is None:
        del manifest["image_backbone"]["representation"]
    else:
        manifest["image_backbone"]["representation"] = recorded
    (copy / "manifest.json").write_text(json.dumps(manifest))
    old = recorded or "squash-224/avg"
    with pytest.raises(
        ValueError, match=rf"{re.escape(old)} photo features.*train the model again"
    ):
        ProductTypeModel.load(copy)


def test_a_model_trained_on_lite0_is_refused(model_dir: Path, tmp_path: Path) -> None:
    """Models from before the Lite2 backbone (issue 12) read another network's features."""
    copy = tmp_path / "lite0"
    shutil.copytree(model_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["image_backbone"].update(
        name="efficientnet-lite0", sha256="0" * 64, representation="letterbox-224/avg+s6avg"
    )
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        ValueError, match=r"trained on efficientnet-lite0 features.*train the model again"
    ):
        ProductTypeModel.load(copy)
