"""The serving backend (onnxruntime on the exported file) against training's (torch): same
features within ONNX_TOLERANCE on real dev photos, the same top-k, and an exported file that
does not match its sidecar is refused."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from prodcat.image_encoder import (
    FEATURE_DIM,
    ONNX_TOLERANCE,
    OnnxEncoder,
    default_encoder,
    export_onnx,
    file_sha256,
    weights_path,
)
from prodcat.photos import read_photo
from prodcat.sample_catalog import write_sample_catalog

DEV_PHOTOS = Path(__file__).resolve().parents[3] / "shared/data/rakuten/images/image_train"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tmp_path_factory.mktemp("onnx") / "encoder.onnx")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """64 real dev photos where the shared data is mounted; else the generated catalog's."""
    if DEV_PHOTOS.is_dir():
        paths = sorted(DEV_PHOTOS.glob("*.jpg"))[::20][:64]
    else:
        out = write_sample_catalog(tmp_path_factory.mktemp("catalog"), per_class=2, seed=3)
        paths = sorted(out.rglob("*.jpg"))[:64]
    assert len(paths) >= 16
    return np.stack([read_photo(p) for p in paths])


def test_onnx_features_equal_torch_features(exported: Path, photos: np.ndarray) -> None:
    want = default_encoder().encode(photos)
    got = OnnxEncoder(exported).encode(photos)
    assert got.shape == want.shape == (len(photos), FEATURE_DIM) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=ONNX_TOLERANCE)
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() > 0.999999
    # Batching does not change an answer: one photo alone gives its row of the batch.
    np.testing.assert_allclose(OnnxEncoder(exported).encode(photos[3:4])[0], got[3], atol=1e-5)


def test_top_k_of_a_linear_head_is_unchanged(exported: Path, photos: np.ndarray) -> None:
    """What the photo head sees: a random linear head over 27 classes ranks alike."""
    head = np.random.default_rng(0).normal(size=(FEATURE_DIM, 27))
    torch_top = np.argsort(-(default_encoder().encode(photos) @ head), axis=1)[:, :5]
    onnx_top = np.argsort(-(OnnxEncoder(exported).encode(photos) @ head), axis=1)[:, :5]
    np.testing.assert_array_equal(onnx_top, torch_top)


def test_sidecar_records_the_weights_and_the_file(exported: Path) -> None:
    sidecar = json.loads(Path(f"{exported}.json").read_text())
    assert sidecar["weights_sha256"] == file_sha256(weights_path())
    assert sidecar["onnx_sha256"] == file_sha256(exported)
    assert OnnxEncoder(exported).weights_sha256 == sidecar["weights_sha256"]


def test_a_file_that_is_not_the_recorded_export_is_refused(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "encoder.onnx"
    shutil.copy(exported, copy)
    shutil.copy(f"{exported}.json", f"{copy}.json")
    with copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="export it again"):
        OnnxEncoder(copy)
    Path(f"{copy}.json").unlink()
    with pytest.raises(FileNotFoundError, match="no exported photo encoder"):
        OnnxEncoder(copy)


@pytest.mark.parametrize("recorded", ["letterbox-224/avg+s6avg", "letterbox-224/avg", None])
def test_a_file_exported_for_other_features_is_refused(
    exported: Path, tmp_path: Path, recorded: str | None
) -> None:
    """A file exported before stage 6 was added (its sidecar says so, or says nothing) computes
    the head's 1,280 features alone, one exported before Lite2 reads 224 px: the model's photo
    head cannot read them."""
    copy = tmp_path / "encoder.onnx"
    shutil.copy(exported, copy)
    sidecar = json.loads(Path(f"{exported}.json").read_text())
    if recorded is None:
        del sidecar["representation"]
    else:
        sidecar["representation"] = recorded
    Path(f"{copy}.json").write_text(json.dumps(sidecar))
    old = re.escape(recorded or "letterbox-224/avg")
    with pytest.raises(ValueError, match=rf"{old} photo features.*export it again"):
        OnnxEncoder(copy)


def test_a_file_exported_from_lite0_is_refused(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "encoder.onnx"
    shutil.copy(exported, copy)
    sidecar = json.loads(Path(f"{exported}.json").read_text())
    Path(f"{copy}.json").write_text(json.dumps({**sidecar, "backbone": "efficientnet-lite0"}))
    with pytest.raises(ValueError, match=r"not the exported efficientnet-lite2.*export it again"):
        OnnxEncoder(copy)
